/* SPDX-License-Identifier: MIT */
/*
 * t_attempt - the shared attempt state under a race: many threads reach the
 * first file of a device pair at once; exactly one probes, every thread ends
 * on the same method, and in auto mode hardlink gets its own single probe
 * after clone fails. Run under TSan by make test-tsan.
 */
#include "engine/attempt.h"
#include "testlib.h"

#include <errno.h>
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

/* The method for the next file; fails the test on an unexpected cancel. */
static enum io_kind choose(struct attempt_pair *p, enum spoke_link_mode m,
			   struct attempt_probe *probe)
{
	uint8_t kind, copy;

	CHECK_EQ(attempt_choose(p, m, ATTEMPT_NO_COPY_PROBE, NULL, &kind,
				&copy, probe), 0);
	return (enum io_kind)kind;
}

static void *worker(void *arg)
{
	struct attempt_pair *p;
	struct attempt_probe probe;
	enum io_kind k;

	(void)arg;
	pthread_barrier_wait(&barrier);
	p = attempt_pair_get(&table, 1, 2);
	for (;;) {
		k = choose(p, mode, &probe);
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

static atomic_int stop_now;

static int stop_fn(void *arg)
{
	(void)arg;
	return atomic_load(&stop_now);
}

static atomic_int waiter_ret, waiter_kind, waiter_probed;

static void *waiter(void *arg)
{
	struct attempt_stop stop = { stop_fn, NULL };
	struct attempt_probe probe;
	uint8_t kind, copy;
	int ret = attempt_choose(arg, SPOKE_LINK_CLONE, 0, &stop, &kind,
				 &copy, &probe);

	atomic_store(&waiter_ret, ret);
	atomic_store(&waiter_kind, ret ? -1 : kind);
	atomic_store(&waiter_probed, attempt_probe_held(&probe));
	attempt_probe_close(&probe, ATT_PROBE_OK);
	return NULL;
}

/* A waiter must not spin forever: it gives up when the run stops, and it
 * takes the probe over when the holder abandons it. */
static void waiting(void)
{
	struct attempt_probe probe;
	struct attempt_pair *p;
	pthread_t th;

	CHECK_EQ(attempt_table_init(&table), 0);
	p = attempt_pair_get(&table, 7, 8);
	CHECK_EQ(choose(p, SPOKE_LINK_CLONE, &probe), IOK_CLONE);
	CHECK(attempt_probe_held(&probe));

	atomic_store(&stop_now, 0);
	atomic_store(&waiter_ret, 1);
	CHECK_EQ(pthread_create(&th, NULL, waiter, p), 0);
	usleep(20000);
	CHECK_EQ(atomic_load(&waiter_ret), 1); /* still waiting */
	atomic_store(&stop_now, 1);
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&waiter_ret), -ECANCELED);

	atomic_store(&stop_now, 0);
	atomic_store(&waiter_ret, 1);
	CHECK_EQ(pthread_create(&th, NULL, waiter, p), 0);
	usleep(20000);
	attempt_probe_close(&probe, ATT_PROBE_ABANDONED);
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&waiter_ret), 0);
	CHECK_EQ(atomic_load(&waiter_kind), IOK_CLONE);
	CHECK_EQ(atomic_load(&waiter_probed), 1);
	CHECK_EQ(atomic_load(&p->state[IOK_CLONE]), ATT_OK);
	attempt_table_destroy(&table);
}

/* copy_file_range has its own probe, which an empty file never takes;
 * a method that was OK switches the pair on its first unsupported call. */
static void copy_and_demote(void)
{
	struct attempt_probe probe;
	struct attempt_pair *p;
	uint8_t kind, copy;

	CHECK_EQ(attempt_table_init(&table), 0);
	p = attempt_pair_get(&table, 1, 2);
	CHECK_EQ(attempt_choose(p, SPOKE_LINK_COPY, ATTEMPT_NO_COPY_PROBE,
				NULL, &kind, &copy, &probe), 0);
	CHECK_EQ(kind, IOK_COPY);
	CHECK_EQ(copy, 0);
	CHECK(!attempt_probe_held(&probe));
	CHECK_EQ(attempt_choose(p, SPOKE_LINK_COPY, 0, NULL, &kind, &copy,
				&probe), 0);
	CHECK_EQ(copy, IO_COPY_PROBE);
	CHECK(attempt_probe_held(&probe));
	attempt_probe_close(&probe, ATT_PROBE_FALLBACK);
	CHECK_EQ(attempt_choose(p, SPOKE_LINK_COPY, 0, NULL, &kind, &copy,
				&probe), 0);
	CHECK_EQ(copy, IO_COPY_NO_CFR);
	CHECK(!attempt_probe_held(&probe));

	CHECK_EQ(choose(p, SPOKE_LINK_AUTO, &probe), IOK_CLONE);
	attempt_probe_close(&probe, ATT_PROBE_OK);
	CHECK_EQ(attempt_demote(p, IOK_CLONE), 1);
	CHECK_EQ(attempt_demote(p, IOK_CLONE), 0); /* once */
	CHECK_EQ(choose(p, SPOKE_LINK_AUTO, &probe), IOK_HARDLINK);
	CHECK(attempt_probe_held(&probe));
	attempt_probe_close(&probe, ATT_PROBE_OK);
	CHECK_EQ(attempt_demote(NULL, IOK_CLONE), 0);
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
		CHECK_EQ(choose(a, SPOKE_LINK_CLONE, &probe), IOK_CLONE);
		CHECK(attempt_probe_held(&probe));
		attempt_probe_close(&probe, ATT_PROBE_FALLBACK);
		CHECK(!attempt_probe_held(&probe));
		CHECK_EQ(choose(a, SPOKE_LINK_CLONE, &probe), IOK_COPY);
		CHECK_EQ(choose(b, SPOKE_LINK_CLONE, &probe), IOK_CLONE);
		CHECK(attempt_probe_held(&probe));
		/* An abandoned probe leaves the method undecided. */
		attempt_probe_close(&probe, ATT_PROBE_ABANDONED);
		CHECK_EQ(choose(b, SPOKE_LINK_CLONE, &probe), IOK_CLONE);
		CHECK(attempt_probe_held(&probe));
		attempt_probe_close(&probe, ATT_PROBE_OK);
	}
	attempt_table_destroy(&table);
	waiting();
	copy_and_demote();
	return T_PASS;
}
