/* SPDX-License-Identifier: MIT */
/*
 * bytecode - .pyc files for an install (spoke_plan_set_compile_bytecode):
 * for every wheel installed from the cache, the compiled files of its
 * entry, kept in the cache as bytecode-v1/<entry>.<cache tag>.opt-<N>/
 * (compiled once by the pool of engine/pycompile.h, published with one
 * rename, checked before use), then added to the wheel's layout as one
 * more link root per root, with their __pycache__ destinations claimed and
 * their RECORD rows, so the linker, the transaction, RECORD and uninstall
 * treat them like any other file. Runs during validation, before the
 * first change to the environment: a failure, a cancel or a crash while
 * compiling leaves the environment as it was. docs/BYTECODE.md.
 */
#ifndef SPOKE_ENGINE_BYTECODE_H
#define SPOKE_ENGINE_BYTECODE_H

#include "engine/plan.h"
#include "engine/report.h"

/* Give the n wheels of wp (laid out, skip honoured) their bytecode, when
 * p asks for it. Counts go to rep. A source that does not compile, or a
 * wheel whose bytecode cannot be made, is a warning; errors are only
 * out-of-memory, cancel and an interpreter that cannot compile at all. */
int bytecode_prepare(spoke_ctx *ctx, const struct spoke_plan *p,
		     struct scheme *s, struct wplan *wp, size_t n,
		     struct strmap *dests, struct spoke_report *rep);

#endif
