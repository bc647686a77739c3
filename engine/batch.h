/* SPDX-License-Identifier: MIT */
/*
 * batch - the link policy of one batch of file ops against the run-wide
 * attempt state: choose each op's method, submit the batch to an io
 * backend, settle each result (done; replace over an existing file; switch
 * to the next method; fatal) and resubmit what needs another try, until
 * every op is done or the run stops. A probing op runs alone, so the rest
 * of the batch sees its outcome instead of repeating its failure, and no
 * op is lost or done twice when the method switches mid-batch. Copies
 * also report whether copy_file_range was refused, which the pair
 * remembers like a link method (one refused call per pair, not per file).
 *
 * It knows nothing of directories or trees: the caller (the walk, or a
 * test with a scripted fake backend) fills the ops and names paths for
 * messages through a callback.
 */
#ifndef SPOKE_ENGINE_BATCH_H
#define SPOKE_ENGINE_BATCH_H

#include "engine/attempt.h"
#include "engine/ctx.h"
#include "engine/report.h"
#include "io/backend.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define BATCH_MAX 64 /* ops per backend submission */

struct batch_env {
	spoke_ctx *ctx;           /* link mode, --no-fallback, messages */
	struct spoke_report *rep; /* fallbacks */
	struct io_backend *io;
	atomic_int *abort;        /* the run's stop flag: read and set */
	uint64_t *count;          /* SPOKE_COUNT__MAX counters, this thread's */
	/* The destination path of dname, for messages. */
	void (*dst_path)(const void *where, const char *dname, char *buf,
			 size_t len);
	const void *where;
	/* Set (a transaction's linker): a destination found taken is not
	 * replaced but fails the run, and taken(taken_arg, path) learns of
	 * it. The transaction classified every path before the first link,
	 * so whatever is there now was put there by someone else meanwhile.
	 * Unset (copy-tree): an existing file is replaced atomically. */
	void (*taken)(void *arg, const char *path);
	void *taken_arg;
	int times; /* clones and copies get the source's times (bytecode) */
};

/* Run ops[0..n) to the end. 0, or the first error (recorded in e->ctx and
 * e->abort set). On return no probe is held, whatever the path. The ops
 * are reordered. */
int batch_run(const struct batch_env *e, struct attempt_pair *pair,
	      struct io_op *ops, unsigned n);

/* True when the run should stop: a failure anywhere, or a cancel (which
 * this records as the run's error the first time it is seen). */
int batch_stopped(spoke_ctx *ctx, atomic_int *abort);

/* Add to one of a thread's counters; others may read it racily. */
static inline void batch_count(uint64_t *count, int c, uint64_t n)
{
	__atomic_store_n(&count[c], count[c] + n, __ATOMIC_RELAXED);
}

#endif
