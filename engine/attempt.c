/* SPDX-License-Identifier: MIT */
/* attempt - see attempt.h for the state machine. */
#include "engine/attempt.h"

#include <errno.h>
#include <sched.h>

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

enum io_kind attempt_choose(struct attempt_pair *p, enum spoke_link_mode mode,
			    struct attempt_probe *probe)
{
	enum io_kind kind = first_kind(mode);

	*probe = ATTEMPT_NO_PROBE;
	if (!p)
		return kind;
	while (kind != IOK_COPY) {
		int s = atomic_load_explicit(&p->state[kind],
					     memory_order_acquire);

		if (s == ATT_OK)
			return kind;
		if (s == ATT_FALLBACK) {
			kind = attempt_next(mode, kind);
			continue;
		}
		if (s == ATT_INITIAL &&
		    atomic_compare_exchange_strong(&p->state[kind], &s,
						   ATT_PROBING)) {
			probe->pair = p;
			probe->kind = kind;
			return kind;
		}
		/* Someone else is probing: its answer comes after one
		 * syscall, so yielding beats paying for a failed call. */
		sched_yield();
	}
	return IOK_COPY;
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
