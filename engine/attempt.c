/* SPDX-License-Identifier: MIT */
/* attempt - see attempt.h for the state machine. */
#include "engine/attempt.h"

#include <errno.h>
#include <sched.h>
#include <time.h>

int attempt_table_init(struct attempt_table *t)
{
	atomic_init(&t->npairs, 0);
	for (int i = 0; i < ATTEMPT_MAX_PAIRS; i++)
		for (int k = 0; k < IOK__MAX; k++)
			atomic_init(&t->pairs[i].state[k], ATT_INITIAL);
	return -pthread_mutex_init(&t->insert_lock, NULL);
}

void attempt_table_destroy(struct attempt_table *t)
{
	pthread_mutex_destroy(&t->insert_lock);
}

struct attempt_pair *attempt_pair_get(struct attempt_table *t, dev_t sdev,
				      dev_t ddev)
{
	struct attempt_pair *p = NULL;
	/* Acquire pairs with the release below: a reader that sees npairs
	 * also sees the devices of every pair counted in it. */
	unsigned n = atomic_load_explicit(&t->npairs, memory_order_acquire);

	for (unsigned i = 0; i < n; i++)
		if (t->pairs[i].sdev == sdev && t->pairs[i].ddev == ddev)
			return &t->pairs[i];
	pthread_mutex_lock(&t->insert_lock);
	n = atomic_load_explicit(&t->npairs, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++)
		if (t->pairs[i].sdev == sdev && t->pairs[i].ddev == ddev)
			p = &t->pairs[i];
	if (!p && n < ATTEMPT_MAX_PAIRS) {
		p = &t->pairs[n];
		p->sdev = sdev;
		p->ddev = ddev;
		atomic_store_explicit(&t->npairs, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&t->insert_lock);
	return p;
}

enum io_kind attempt_next(enum spoke_link_mode mode, enum io_kind kind)
{
	if (mode == SPOKE_LINK_AUTO && kind == IOK_CLONE)
		return IOK_HARDLINK;
	return IOK_COPY;
}

static enum io_kind first_kind(enum spoke_link_mode mode)
{
	switch (mode) {
	case SPOKE_LINK_HARDLINK:
		return IOK_HARDLINK;
	case SPOKE_LINK_COPY:
		return IOK_COPY;
	case SPOKE_LINK_SYMLINK:
		return IOK_SYMLINK;
	default:
		return IOK_CLONE;
	}
}

/* Wait for another thread's probe: yield first (a probe is usually one
 * syscall), then sleep in short steps (it may be a slow one: NFS, a large
 * clone), checking whether the run is stopping each time. */
static int wait_step(unsigned *spins, const struct attempt_stop *stop)
{
	struct timespec ts = { 0, 200000 };

	if (stop && stop->stopped(stop->arg))
		return -ECANCELED;
	if (++*spins < 64)
		sched_yield();
	else
		nanosleep(&ts, NULL);
	return 0;
}

/* Take or wait for state k: 1 when usable (OK), 0 when it fell back, 2 when
 * this thread won the probe, -ECANCELED. */
static int settle_state(struct attempt_pair *p, int k, unsigned *spins,
			const struct attempt_stop *stop)
{
	for (;;) {
		int s = atomic_load_explicit(&p->state[k],
					     memory_order_acquire);

		if (s == ATT_OK)
			return 1;
		if (s == ATT_FALLBACK)
			return 0;
		if (s == ATT_INITIAL &&
		    atomic_compare_exchange_strong(&p->state[k], &s,
						   ATT_PROBING))
			return 2;
		if (s == ATT_PROBING && wait_step(spins, stop))
			return -ECANCELED;
	}
}

int attempt_choose(struct attempt_pair *p, enum spoke_link_mode mode,
		   unsigned flags, const struct attempt_stop *stop,
		   uint8_t *kind, uint8_t *copy, struct attempt_probe *probe)
{
	enum io_kind k = first_kind(mode);
	unsigned spins = 0;
	int r;

	*probe = ATTEMPT_NO_PROBE;
	*copy = 0;
	if (!p) {
		*kind = (uint8_t)k;
		return 0;
	}
	while (k != IOK_COPY) {
		r = settle_state(p, k, &spins, stop);
		if (r < 0)
			return r;
		if (r == 0) {
			k = attempt_next(mode, k);
			continue;
		}
		if (r == 2) {
			probe->pair = p;
			probe->kind = k;
		}
		*kind = (uint8_t)k;
		return 0;
	}
	*kind = IOK_COPY;
	if (flags & ATTEMPT_NO_COPY_PROBE) {
		/* No copy_file_range call is coming: nothing to learn, and
		 * nothing to wait for. */
		if (atomic_load_explicit(&p->state[IOK_COPY],
					 memory_order_acquire) == ATT_FALLBACK)
			*copy = IO_COPY_NO_CFR;
		return 0;
	}
	r = settle_state(p, IOK_COPY, &spins, stop);
	if (r < 0)
		return r;
	if (r == 0)
		*copy = IO_COPY_NO_CFR;
	if (r == 2) {
		probe->pair = p;
		probe->kind = IOK_COPY;
		*copy = IO_COPY_PROBE;
	}
	return 0;
}

int attempt_demote(struct attempt_pair *p, enum io_kind kind)
{
	int s = ATT_OK;

	return p && atomic_compare_exchange_strong(&p->state[kind], &s,
						   ATT_FALLBACK);
}

void attempt_probe_close(struct attempt_probe *probe, enum attempt_outcome o)
{
	static const int state_of[] = {
		[ATT_PROBE_OK] = ATT_OK,
		[ATT_PROBE_FALLBACK] = ATT_FALLBACK,
		[ATT_PROBE_ABANDONED] = ATT_INITIAL,
	};

	if (!probe->pair)
		return;
	atomic_store_explicit(&probe->pair->state[probe->kind], state_of[o],
			      memory_order_release);
	*probe = ATTEMPT_NO_PROBE;
}

const char *attempt_kind_name(enum io_kind kind)
{
	static const char *const names[IOK__MAX] = {
		[IOK_CLONE] = "clone",
		[IOK_HARDLINK] = "hardlink",
		[IOK_COPY] = "copy",
		[IOK_SYMLINK] = "symlink",
	};

	return (unsigned)kind < IOK__MAX ? names[kind] : "?";
}
