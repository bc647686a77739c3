/* SPDX-License-Identifier: MIT */
/*
 * envmod - the one door through which an install or uninstall changes an
 * environment. Every change is one of four calls: link a wheel subtree (all
 * queued subtrees then run as one parallel linker run), write a generated
 * file, remove a file, remove an empty directory; plus the mtime bump of a
 * sys.path directory. A modification starts with envmod_begin() and ends
 * with envmod_commit() or envmod_abort(), both of which release it.
 *
 * Today abort undoes what this modification created through
 * envmod_write_file() (new files, then the directories made for them); files
 * it replaced or removed and linked trees stay as they are. The calls are
 * shaped so a journal slots in without touching callers: write_file and
 * remove get the old file moved aside first, link_run gets the replaced
 * targets from the plan's existing-file list, abort puts everything back and
 * commit deletes the journal. Every path is absolute and normalised; the
 * caller has checked that it lies inside the environment.
 */
#ifndef SPOKE_ENGINE_ENVMOD_H
#define SPOKE_ENGINE_ENVMOD_H

#include "engine/ctx.h"
#include "engine/report.h"
#include "engine/scheme.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct envmod;

/* Start a modification of the environment s describes (kept by pointer).
 * rep receives the counters (files, links, removed, written). */
int envmod_begin(struct envmod **out, spoke_ctx *ctx, struct spoke_report *rep,
		 const struct scheme *s);

/* Queue src -> dst for the next envmod_link_run (see linker_add_tree).
 * A dst that already exists keeps its own mode (the linker would give it
 * src's). */
int envmod_link_tree(struct envmod *m, const char *src, const char *dst,
		     const char *const *skip, const char *label);
void envmod_link_totals(struct envmod *m, uint64_t files, uint64_t bytes);
/* Link every queued tree in one pool run. */
int envmod_link_run(struct envmod *m);

/* Write a generated file at path (parents created): a new inode renamed
 * into place, never a write into an existing file, which may be a hardlink
 * into the cache. */
int envmod_write_file(struct envmod *m, const char *path, const void *data,
		      size_t len, mode_t mode);
/* Remove the file or symlink rel below root (never following a symlink
 * below root). A missing file is not an error. */
int envmod_remove(struct envmod *m, const char *root, const char *rel);
/* Remove the directory rel below root if it is empty: 1 removed, 0 not
 * (not empty, or missing), or an error. */
int envmod_rmdir(struct envmod *m, const char *root, const char *rel);
/* Set a directory's mtime to now: CPython's path finder caches a sys.path
 * directory's listing until its mtime changes. */
int envmod_touch(struct envmod *m, const char *dir);

/* Finish: keep the changes, or undo what can be undone (see above). Both
 * release m; abort keeps the context's first error. */
int envmod_commit(struct envmod *m);
void envmod_abort(struct envmod *m);

#endif
