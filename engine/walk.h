/* SPDX-License-Identifier: MIT */
/*
 * walk - the parallel tree linker. A linker takes any number of (source tree,
 * destination directory) pairs and materialises them all in one run of the
 * work-stealing pool: directory subtrees are tasks, a directory with many
 * files is split into chunks, and every file goes through the io backend in
 * batches, with the link method chosen by the run-wide attempt state.
 *
 * The walk holds directory fds, not paths: each directory is opened relative
 * to its parent's fd and every file operation is an *at() call relative to
 * its directory, so no path is resolved twice. A directory's fds stay open
 * until its last child has opened its own; when open directories exceed the
 * fd budget (RLIMIT_NOFILE), children reopen from the tree root by relative
 * path instead, so fd use stays bounded whatever the depth or fan-out.
 */
#ifndef SPOKE_ENGINE_WALK_H
#define SPOKE_ENGINE_WALK_H

#include "engine/ctx.h"
#include "engine/objid.h"
#include "engine/report.h"

#include <stddef.h>
#include <stdint.h>

struct linker;

/* rep receives the counters and fallbacks. */
int linker_create(struct linker **out, spoke_ctx *ctx, struct spoke_report *rep);
void linker_free(struct linker *l);

/* Queue src -> dst. dst is created (with parents) when the run starts.
 * skip: NULL-terminated names directly under src that are not linked (a
 * wheel's .data directory, files the installer writes itself); may be NULL.
 * label names the tree in progress reports (a wheel name). The strings are
 * copied. */
int linker_add_tree(struct linker *l, const char *src, const char *dst,
		    const char *const *skip, const char *label);
/* Totals for progress reports when the caller knows them (an installer has
 * RECORD); without them progress reports done counts with total 0. */
void linker_set_totals(struct linker *l, uint64_t files, uint64_t bytes);

/* fn(arg, path) is called (from any worker) for each destination path the
 * linker could not create because something is there (EEXIST): another
 * writer's object, which a rollback must leave alone. */
void linker_allow_replace(struct linker *l);
/* Clones and copies get their source's atime and mtime (io/linkops.h
 * IO_COPY_TIMES): an install that links cached bytecode asks for it. */
void linker_carry_times(struct linker *l);
void linker_set_disown(struct linker *l, void (*fn)(void *, const char *),
		       void *arg);
/* fn(arg, ids, n) is called (from any worker, a batch at a time) with the
 * identity of every file, symlink and directory the run makes, after it
 * is made: a transaction journals them (engine/txn.h, txn_made). */
void linker_set_made(struct linker *l,
		     void (*fn)(void *, const struct objid *, size_t),
		     void *arg);
/* Run every queued tree. 0, or the first error (recorded in ctx). Trees are
 * consumed: a second run starts from an empty queue. */
int linker_run(struct linker *l);

#endif
