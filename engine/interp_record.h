/* SPDX-License-Identifier: MIT */
/*
 * interp_record - where spoke keeps what it learned by running an
 * interpreter (its supported tags for compat.c, its cache tag for
 * bytecode_tag.c), so a warm install starts no Python: a file named by
 * the SHA-256 of the interpreter's real path, mtime and size (and a salt
 * naming what is kept), below a directory of the cache. Replacing or
 * upgrading the interpreter changes the name, so a record is never
 * consulted for another interpreter.
 */
#ifndef SPOKE_ENGINE_INTERP_RECORD_H
#define SPOKE_ENGINE_INTERP_RECORD_H

#include "engine/ctx.h"

/* <cache>/<subdir>/<key> (heap), or NULL when there is no cache
 * directory, python cannot be resolved or stat'ed, or memory runs out. */
char *interp_record_path(spoke_ctx *ctx, const char *python,
			 const char *subdir, const char *salt);

/* Keep text in the record file (best effort: a failure only costs the
 * next install a start of Python): a new file beside it, renamed into
 * place, so a reader sees all of it or none. */
void interp_record_save(spoke_ctx *ctx, const char *file, const char *text);

#endif
