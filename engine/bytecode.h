/* SPDX-License-Identifier: MIT */
/*
 * bytecode - .pyc files for an install (spoke_plan_set_compile_bytecode):
 * for every wheel installed from the cache, the compiled files of its
 * entry, kept in the cache as bytecode-v1/<entry>.<cache tag>.opt-<N>/
 * (compiled once by the pool of engine/pycompile.h, published with one
 * rename, checked before use), then added to the wheel's layout as one
 * more link root per root, with their __pycache__ destinations claimed and
 * their RECORD rows, so the linker, the transaction, RECORD and uninstall
 * treat them like any other file. Compiling starts during validation and
 * overlaps the linking; its .pyc are linked inside the transaction, so a
 * failure, a cancel or a crash while compiling is rolled back like any
 * other. docs/BYTECODE.md.
 */
#ifndef SPOKE_ENGINE_BYTECODE_H
#define SPOKE_ENGINE_BYTECODE_H

#include "engine/plan.h"
#include "engine/report.h"

struct envmod;
struct bytecode;
struct installed;

/* 1 when p compiles bytecode and the installed distribution d (the same
 * version as the wheel) lists .py files but no .pyc at p's optimization
 * level in its RECORD (installed without bytecode): the install then
 * reinstalls it, so it gets its bytecode and a RECORD naming it in one
 * transaction (docs/INSTALL.md). 0 otherwise, also when RECORD is
 * unreadable (the install's own checks report that). */
int bytecode_missing(const struct spoke_plan *p, const struct installed *d);

/* sys.implementation.cache_tag of python into tag (bytecode_tag.c): from
 * <cache>/pytag-v1/<sha256 of its real path, mtime, size> when recorded,
 * else asked (one python -I -S) and recorded, best effort. 0, or an error
 * recorded in ctx (SPOKE_E_USAGE: no cache tag, not Python 3). */
int bytecode_tag(spoke_ctx *ctx, const char *python, char tag[64]);
/* Remove the record (it proved wrong: the workers said otherwise). */
void bytecode_tag_forget(spoke_ctx *ctx, const char *python);

/* Validation half: give the n wheels of wp (laid out, skip honoured) their
 * bytecode, when p asks for it. A wheel whose bytecode is cached gets its
 * .pyc added to its layout (linked with its files); the other wheels' sources
 * are handed to the compile workers, which run on while the transaction
 * links, and their .pyc destinations are claimed in dests now, so the
 * journal names them. *out (NULL when nothing to do) goes to
 * bytecode_finish and bytecode_free. A source that does not compile, or a
 * wheel whose bytecode cannot be made, is a warning; errors are only
 * out-of-memory, cancel and an interpreter that cannot compile at all. */
int bytecode_prepare(spoke_ctx *ctx, const struct spoke_plan *p,
		     struct scheme *s, struct wplan *wp, size_t n,
		     struct strmap *dests, struct spoke_report *rep,
		     struct bytecode **out);

/* Inside the transaction, after the wheels are linked and before their
 * RECORDs are written: wait for the compile, publish each wheel's
 * bytecode into the cache, add the RECORD rows and link the .pyc through
 * m. A cancel while waiting fails the run (rolled back by the caller). */
int bytecode_finish(struct bytecode *b, struct envmod *m);

/* Stop a compile still running (a run that failed before finish), remove
 * its staging directories, free. NULL is fine. */
void bytecode_free(struct bytecode *b);

#endif
