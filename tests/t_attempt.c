/* SPDX-License-Identifier: MIT */
/*
 * t_attempt - the shared attempt state under a race: many threads reach the
 * first file of a device pair at once; exactly one probes, every thread ends
 * on the same method, and in auto mode hardlink gets its own single probe
 * after clone fails. Run under TSan by make test-tsan.
 */
#include "engine/attempt.h"
#include "testlib.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 200

static struct attempt_table table;
static pthread_barrier_t barrier;
static atomic_int probes[IOK__MAX];
static atomic_int chose[IOK__MAX];
static enum spoke_link_mode mode;
static int clone_works, link_works;

static void *worker(void *arg)
{
	struct attempt_pair *p;
	struct attempt_probe probe;
	enum io_kind k;

	(void)arg;
	pthread_barrier_wait(&barrier);
	p = attempt_pair_get(&table, 1, 2);
	for (;;) {
		k = attempt_choose(p, mode, &probe);
		if (!attempt_probe_held(&probe))
			break;
		atomic_fetch_add(&probes[k], 1);
		usleep(200); /* a syscall's worth: let the others pile up */
		if (k == IOK_CLONE ? clone_works : link_works) {
			attempt_probe_close(&probe, ATT_PROBE_OK);
			break;
		}
		attempt_probe_close(&probe, ATT_PROBE_FALLBACK);
	}
	atomic_fetch_add(&chose[k], 1);
	return NULL;
}

static void run(enum spoke_link_mode m, int cw, int lw, enum io_kind want,
		int want_clone_probes, int want_link_probes)
{
	pthread_t th[THREADS];

	CHECK_EQ(attempt_table_init(&table), 0);
	for (int k = 0; k < IOK__MAX; k++) {
		atomic_store(&probes[k], 0);
		atomic_store(&chose[k], 0);
	}
	mode = m;
	clone_works = cw;
	link_works = lw;
	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, worker, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	CHECK_EQ(atomic_load(&probes[IOK_CLONE]), want_clone_probes);
	CHECK_EQ(atomic_load(&probes[IOK_HARDLINK]), want_link_probes);
	CHECK_EQ(atomic_load(&chose[want]), THREADS);
	attempt_table_destroy(&table);
}

int main(void)
{
	for (int r = 0; r < ROUNDS / 10; r++) {
		/* clone unsupported: one failed probe, everyone copies */
		run(SPOKE_LINK_CLONE, 0, 0, IOK_COPY, 1, 0);
		/* clone works: one probe, everyone clones */
		run(SPOKE_LINK_CLONE, 1, 0, IOK_CLONE, 1, 0);
		/* auto on ext4: clone fails once, hardlink probed once */
		run(SPOKE_LINK_AUTO, 0, 1, IOK_HARDLINK, 1, 1);
		/* auto across filesystems: both fail once, copy */
		run(SPOKE_LINK_AUTO, 0, 0, IOK_COPY, 1, 1);
		run(SPOKE_LINK_HARDLINK, 0, 0, IOK_COPY, 0, 1);
	}
	/* Pairs are per device pair: a second pair starts fresh. */
	CHECK_EQ(attempt_table_init(&table), 0);
	{
		struct attempt_pair *a = attempt_pair_get(&table, 1, 2);
		struct attempt_pair *b = attempt_pair_get(&table, 1, 3);
		struct attempt_probe probe;

		CHECK(a != b);
		CHECK(attempt_pair_get(&table, 1, 2) == a);
		CHECK_EQ(attempt_choose(a, SPOKE_LINK_CLONE, &probe), IOK_CLONE);
		CHECK(attempt_probe_held(&probe));
		attempt_probe_close(&probe, ATT_PROBE_FALLBACK);
		CHECK(!attempt_probe_held(&probe));
		CHECK_EQ(attempt_choose(a, SPOKE_LINK_CLONE, &probe), IOK_COPY);
		CHECK_EQ(attempt_choose(b, SPOKE_LINK_CLONE, &probe), IOK_CLONE);
		CHECK(attempt_probe_held(&probe));
		/* An abandoned probe leaves the method undecided. */
		attempt_probe_close(&probe, ATT_PROBE_ABANDONED);
		CHECK_EQ(attempt_choose(b, SPOKE_LINK_CLONE, &probe), IOK_CLONE);
		CHECK(attempt_probe_held(&probe));
		attempt_probe_close(&probe, ATT_PROBE_OK);
	}
	attempt_table_destroy(&table);
	return T_PASS;
}
