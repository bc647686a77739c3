/* SPDX-License-Identifier: MIT */
/*
 * lock - the exclusive lock an install, uninstall or recovery holds on an
 * environment: flock(LOCK_EX) on <home>/.spoke-lock, where home is the
 * directory that also holds the journal (txn_home()). Two spoke processes
 * on one environment therefore run one after the other, each seeing the
 * other's finished result, and a journal found while holding the lock
 * belongs to a process that died (its lock went with it).
 *
 * The lock file is deleted on release, so an environment carries no spoke
 * file between runs. That is safe because acquiring re-checks, after
 * flock() returns, that the path still names the locked inode; a waiter
 * that locked an inode its holder has just unlinked starts over.
 */
#ifndef SPOKE_ENGINE_LOCK_H
#define SPOKE_ENGINE_LOCK_H

#include "engine/ctx.h"

struct env_lock;

/* Lock home, creating it (and missing parents) if it is missing. Busy: with no_wait fail at once with
 * SPOKE_E_LOCKED, else log "waiting for the lock ..." and wait; a cancel
 * (SIGINT/SIGTERM in the CLI) ends the wait with SPOKE_E_CANCELED. Errors
 * are recorded in ctx. */
int env_lock_acquire(spoke_ctx *ctx, const char *home, int no_wait,
		     struct env_lock **out);
/* Unlink the lock file and unlock; directories the lock created go again
 * if they are still empty. NULL is a no-op. */
void env_lock_release(struct env_lock *l);

#endif
