/* SPDX-License-Identifier: MIT */
/*
 * store_pyc - the cache's housekeeping of compiled bytecode. The engine
 * (engine/bytecode.c) keeps the .pyc of an entry in
 * <root>/bytecode-v1/<entry>.<cache tag>.opt-<N>/ (docs/BYTECODE.md): the
 * entry's .py paths with __pycache__/<stem>.<tag>[.opt-N].pyc, and a
 * manifest BYTECODE ("spoke-bytecode-v1", then "ok <source>" or
 * "nocompile <source>" per line). These directories are derived data: any
 * of them may be removed at any time and the next install compiles again.
 * Here: removing them with their entry, with clean, when their entry is
 * gone (prune), and checking them (verify).
 */
#ifndef SPOKE_CACHE_STORE_PYC_H
#define SPOKE_CACHE_STORE_PYC_H

#include "cache/store.h"

#define STORE_BYTECODE "bytecode-v1"

/* Remove the bytecode directories of the entry named entry ("<key>" or
 * "<key>.unverified"). 0 or -errno. */
int store_pyc_remove(struct store *s, const char *entry);

/* Remove the bytecode directories whose entry no longer exists or whose
 * name is not one spoke makes; *count grows by the number removed. */
int store_pyc_prune(struct store *s, int *count);

/* clean: move bytecode-v1 aside as <root>/.trash-bytecode-v1.<pid>.<rand>
 * (store_clean removes every .trash-*). 0, or -errno (ENOENT is 0). */
int store_pyc_trash(struct store *s);

/* Check the bytecode directories of the entry named entry: the manifest,
 * and each compiled source's .pyc (a timestamp header matching the entry
 * file's mtime and size, one magic number for the directory). A damaged or
 * stale directory is removed (the next install compiles it again) and
 * reported: SPOKE_E_CORRUPT with a message in err. 0 when all are sound. */
int store_pyc_verify(const struct store *s, const char *entry,
		     char *err, size_t errlen);

#endif
