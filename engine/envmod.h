/* SPDX-License-Identifier: MIT */
/*
 * envmod - the one door through which an install or uninstall changes an
 * environment, and the transaction around it: a modification either
 * happens completely or leaves the environment as it was, whether it
 * fails, is canceled or the process is killed (then the next spoke run in
 * that environment, or `spoke recover`, finishes the rollback).
 *
 * Every change is one of: link a wheel subtree (all queued subtrees then
 * run as one parallel linker run), write a generated file, remove a file,
 * remove an empty directory; plus the mtime bump of a sys.path directory.
 * A modification starts with envmod_begin() and ends with envmod_commit()
 * or envmod_abort(), both of which release it. The caller first announces
 * every path the run creates or replaces (envmod_expect), which lets the
 * journal (engine/txn.h) name them all in one write before the first
 * change. Existing files that will be replaced or removed are moved aside
 * (one rename into a backup directory) instead of being deleted, so the
 * linker only ever creates files where nothing is; commit deletes the
 * backups, abort puts them back.
 *
 * Removals are deferred: envmod_remove and envmod_rmdir queue, and the
 * queue runs, in order, at the next change that needs it (link_run,
 * write_file, commit), right after the journal batch that describes it.
 * Every path is absolute and normalised; the caller has checked that it
 * lies inside the environment.
 */
#ifndef SPOKE_ENGINE_ENVMOD_H
#define SPOKE_ENGINE_ENVMOD_H

#include "engine/ctx.h"
#include "engine/report.h"
#include "engine/scheme.h"
#include "base/strmap.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct envmod;
struct env_lock;

/* Lock the environment s describes for an install, uninstall or recovery
 * (engine/lock.h; creates the environment directory if it is missing) and
 * roll back or finish whatever a killed spoke left there, with a warning.
 * Busy: SPOKE_E_LOCKED with no_wait, else wait. */
int envmod_lock(spoke_ctx *ctx, const struct scheme *s, int no_wait,
		struct env_lock **out);
void envmod_unlock(struct env_lock *l);
/* The two halves of envmod_lock, for spoke_recover: lock (no recovery),
 * and, with the lock held, replay a journal (txn_recover) and log it;
 * counts go to rep when given. 0 nothing, 1 rolled back, 2 finished. */
int envmod_lock_home(spoke_ctx *ctx, const struct scheme *s, int no_wait,
		     struct env_lock **out);
int envmod_recover_locked(spoke_ctx *ctx, const struct scheme *s,
			  struct spoke_report *rep, int quiet);
/* For runs that change nothing (dry runs): warn when a journal waits. */
void envmod_check_journal(spoke_ctx *ctx, const struct scheme *s);

/* Start a modification of the environment s describes (kept by pointer).
 * rep receives the counters (files, links, removed, written). */
int envmod_begin(struct envmod **out, spoke_ctx *ctx, struct spoke_report *rep,
		 const struct scheme *s);

/* The run will create path, or replace what is there, as a file or a
 * directory. Announce every destination before the first change (paths
 * announced later cost a journal write each). */
int envmod_expect(struct envmod *m, const char *path, int is_dir);

/* envmod_expect of every key of map at once (kind DEST_FILE or DEST_DIR,
 * engine/plan.h), without a copy: envmod keeps map as its own map of the
 * paths it knows, adding flags above those two bits to the kinds and
 * entries (owner -1) for other paths it meets. So the caller keeps map
 * until envmod_commit or envmod_abort, reads a kind as kind & DEST_FILE
 * or DEST_DIR, and holds no entry pointer across an envmod call. Only as
 * the first announcement. */
int envmod_expect_map(struct envmod *m, struct strmap *map);

/* Queue src -> dst for the next envmod_link_run (see linker_add_tree).
 * A dst that already exists keeps its own mode (the linker would give it
 * src's). */
int envmod_link_tree(struct envmod *m, const char *src, const char *dst,
		     const char *const *skip, const char *label);
void envmod_link_totals(struct envmod *m, uint64_t files, uint64_t bytes);
/* Link every queued tree in one pool run. */
int envmod_link_run(struct envmod *m);
/* From now on the linker may replace a destination it finds taken (the
 * later wheels of --allow-overwrite replace the earlier ones' files);
 * until then a taken destination is another writer's and fails the run. */
void envmod_allow_replace(struct envmod *m);
/* Clones and copies of this modification keep their source's times (the
 * .py files that cached timestamp .pyc describe). */
void envmod_carry_times(struct envmod *m);

/* Write a generated file at path (parents created): a new inode renamed
 * into place, never a write into an existing file, which may be a hardlink
 * into the cache. */
int envmod_write_file(struct envmod *m, const char *path, const void *data,
		      size_t len, mode_t mode);
/* Remove the file or symlink rel below root (never following a symlink
 * below root). A missing file is not an error. Deferred (see above). */
int envmod_remove(struct envmod *m, const char *root, const char *rel);
/* Remove the directory rel below root if it is empty when the queue runs
 * (an announced directory is never removed). Deferred: 0 or an error. */
int envmod_rmdir(struct envmod *m, const char *root, const char *rel);
/* The same for a directory the run announced but may have left empty
 * (the __pycache__ of sources whose compile failed). */
int envmod_rmdir_unused(struct envmod *m, const char *root, const char *rel);
/* Set a directory's mtime to now: CPython's path finder caches a sys.path
 * directory's listing until its mtime changes. Not undone (a newer mtime
 * is harmless, and after a rollback it is what the finder needs). */
int envmod_touch(struct envmod *m, const char *dir);

/* Finish: keep the changes, or undo them all. Both release m. A failing
 * commit (the queue, or the journal's commit mark) rolls back and returns
 * the error; abort keeps the context's first error. */
int envmod_commit(struct envmod *m);
void envmod_abort(struct envmod *m);

#endif
