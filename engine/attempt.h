/* SPDX-License-Identifier: MIT */
/*
 * attempt - one shared "does this link method work here?" state per
 * (source device, destination device) pair, for the whole run.
 *
 * Each method that can be unsupported (clone, hardlink, symlink) has a state:
 *
 *     INITIAL --CAS--> PROBING --+--> OK        (the probe succeeded)
 *                                +--> FALLBACK  (it failed "unsupported")
 *
 * Exactly one thread wins the CAS and makes the probe with one real file;
 * threads that arrive meanwhile wait for the outcome rather than make their
 * own doomed attempt, so an install pays for at most one failed call per
 * method and device pair. uv keeps this state per wheel; here it is per run.
 * A method that is OK and later fails "unsupported" for one file (a special
 * file, a nested mount) falls back for that file only: one odd file must not
 * switch the whole run.
 *
 * The probe is a token: attempt_choose() hands it to the thread that won the
 * CAS, and that thread closes it exactly once, on every path, with the
 * outcome (OK, FALLBACK) or ABANDONED (no answer: the call failed for an
 * unrelated reason or the run is stopping), which puts the method back to
 * INITIAL for the next thread. So who holds a probe is visible in one place.
 */
#ifndef SPOKE_ENGINE_ATTEMPT_H
#define SPOKE_ENGINE_ATTEMPT_H

#include "io/linkops.h"
#include "spoke.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

enum attempt_state { ATT_INITIAL = 0, ATT_PROBING, ATT_OK, ATT_FALLBACK };

#define ATTEMPT_MAX_PAIRS 32

struct attempt_pair {
	dev_t sdev, ddev;
	atomic_int state[IOK__MAX]; /* IOK_COPY's never leaves INITIAL */
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

/* The method to use for the next file under mode. When the caller wins a
 * probe, *probe holds it (it must hold none on entry) and the caller must
 * attempt_probe_close() it. */
enum io_kind attempt_choose(struct attempt_pair *p, enum spoke_link_mode mode,
			    struct attempt_probe *probe);
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
