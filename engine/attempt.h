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

int attempt_table_init(struct attempt_table *t);
void attempt_table_destroy(struct attempt_table *t);
/* The pair for these devices (made on first use); NULL when the table is
 * full, which the caller treats as "no shared state: probe per file". */
struct attempt_pair *attempt_pair_get(struct attempt_table *t, dev_t sdev,
				      dev_t ddev);

/* The method to use for the next file under mode. *probe is set when the
 * caller won the probe and must call attempt_resolve() with the result. */
enum io_kind attempt_choose(struct attempt_pair *p, enum spoke_link_mode mode,
			    int *probe);
/* After a probe: ok or not. Returns the new state. */
int attempt_resolve(struct attempt_pair *p, enum io_kind kind, int ok);
/* Give a probe back undecided (the call failed for an unrelated reason). */
void attempt_release(struct attempt_pair *p, enum io_kind kind);
/* The method to try after kind failed "unsupported" under mode. */
enum io_kind attempt_next(enum spoke_link_mode mode, enum io_kind kind);
const char *attempt_kind_name(enum io_kind kind);

#endif
