/* SPDX-License-Identifier: MIT */
/*
 * attempt - one shared "does this link method work here?" state per
 * (source device, destination device) pair, for the whole run.
 *
 * Each method that can be unsupported (clone, hardlink, symlink) has a
 * state, and so has copy_file_range within copy (state[IOK_COPY]):
 *
 *     INITIAL --CAS--> PROBING --+--> OK --(first unsupported)--+
 *        ^                       |                              v
 *        +---(abandoned)---------+-------------------------> FALLBACK
 *
 * Exactly one thread wins the CAS and makes the probe with one real file;
 * threads that arrive meanwhile wait for the outcome rather than make their
 * own doomed attempt. After a successful probe, the first "unsupported"
 * failure of the method on the pair switches the pair too, for the rest of
 * the run: so an install pays for at most one failed call per method and
 * device pair (plus what other threads already had in flight when it
 * switched). uv keeps this state per wheel; here it is per run.
 *
 * The probe is a token: attempt_choose() hands it to the thread that won the
 * CAS, and that thread closes it exactly once, on every path, with the
 * outcome (OK, FALLBACK) or ABANDONED (no answer: the call failed for an
 * unrelated reason or the run is stopping), which puts the method back to
 * INITIAL for the next thread. So who holds a probe is visible in one place,
 * and a waiter sees either an outcome, a method it may probe itself, or the
 * run stopping.
 */
#ifndef SPOKE_ENGINE_ATTEMPT_H
#define SPOKE_ENGINE_ATTEMPT_H

#include "io/linkops.h"
#include "spoke.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

enum attempt_state { ATT_INITIAL = 0, ATT_PROBING, ATT_OK, ATT_FALLBACK };

#define ATTEMPT_MAX_PAIRS 32

struct attempt_pair {
	dev_t sdev, ddev;
	atomic_int state[IOK__MAX]; /* IOK_COPY's: copy_file_range */
};

struct attempt_table {
	struct attempt_pair pairs[ATTEMPT_MAX_PAIRS];
	atomic_uint npairs;
	pthread_mutex_t insert_lock;
};

/* A probe this thread holds: pair is NULL when it holds none. */
struct attempt_probe {
	struct attempt_pair *pair;
	enum io_kind kind;
};

#define ATTEMPT_NO_PROBE ((struct attempt_probe){ NULL, IOK_COPY })

enum attempt_outcome {
	ATT_PROBE_OK,        /* the method worked: everyone uses it */
	ATT_PROBE_FALLBACK,  /* it is unsupported: everyone switches */
	ATT_PROBE_ABANDONED, /* no answer: the next thread probes again */
};

int attempt_table_init(struct attempt_table *t);
void attempt_table_destroy(struct attempt_table *t);
/* The pair for these devices (made on first use); NULL when the table is
 * full, which the caller treats as "no shared state: probe per file". */
struct attempt_pair *attempt_pair_get(struct attempt_table *t, dev_t sdev,
				      dev_t ddev);

/* Tells a waiting thread to give up: nonzero when the run is stopping. */
struct attempt_stop {
	int (*stopped)(void *arg);
	void *arg;
};

/* Don't make this op the copy_file_range probe: it will not call it (an
 * empty file), so it could not answer. */
#define ATTEMPT_NO_COPY_PROBE 1u

/* The method for the next file under mode: 0 with *kind and *copy (the
 * IO_COPY_* flags the op takes in) set, or -ECANCELED when stop said so
 * while waiting for another thread's probe. When the caller wins a probe,
 * *probe holds it (it must hold none on entry) and the caller must
 * attempt_probe_close() it. stop may be NULL. */
int attempt_choose(struct attempt_pair *p, enum spoke_link_mode mode,
		   unsigned flags, const struct attempt_stop *stop,
		   uint8_t *kind, uint8_t *copy, struct attempt_probe *probe);
/* A method that was OK failed "unsupported" outside a probe: switch the
 * pair to FALLBACK. 1 when this call made the switch (so the caller warns
 * once), 0 when it was already switched or p is NULL. */
int attempt_demote(struct attempt_pair *p, enum io_kind kind);
/* Close a held probe with its outcome; a no-op when none is held. */
void attempt_probe_close(struct attempt_probe *probe, enum attempt_outcome o);

static inline int attempt_probe_held(const struct attempt_probe *probe)
{
	return probe->pair != NULL;
}

/* The method to try after kind failed "unsupported" under mode. */
enum io_kind attempt_next(enum spoke_link_mode mode, enum io_kind kind);
const char *attempt_kind_name(enum io_kind kind);

#endif
