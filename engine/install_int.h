/* SPDX-License-Identifier: MIT */
/*
 * install_int - the run an install or uninstall carries through its
 * halves, shared by install.c (checks, removals, linking, the report) and
 * install_open.c (the prepare phase: opening the wheels, also while the
 * cold ones unpack, and laying them out). Not for use elsewhere.
 */
#ifndef SPOKE_ENGINE_INSTALL_INT_H
#define SPOKE_ENGINE_INSTALL_INT_H

#include "engine/ctx.h"
#include "engine/plan.h"
#include "engine/scheme.h"
#include "base/strmap.h"

struct installed;
struct bytecode;
struct spoke_report;

struct run {
	spoke_ctx *ctx;
	const struct spoke_plan *p;
	struct spoke_report *rep;
	struct scheme s;
	struct wplan *wp;
	size_t n;
	struct strmap dests;    /* every destination of this run */
	struct strmap removing; /* files of the versions being replaced */
	struct strmap prune;    /* directories that may be left empty */
	struct strmap pydirs;   /* directories that lost a .py file */
	struct installed *rm;   /* removals of an install plan */
	size_t nrm;
	long cur;               /* wheel being validated, for the error */
	struct bytecode *bc;    /* compiling while linking (bytecode.h) */
	long long link_ns;      /* time in the linker (phase timings) */
	/* Layout while the unpack runs (layout_ahead): wheels [0, laid)
	 * are laid out; a failure of wheel laid is kept in ahead. */
	spoke_ctx *ahead;
	size_t laid;
	int ahead_failed;
	/* Opened out of plan order as the unpack publishes them (pre_open):
	 * 1 kept, 2 tried (opened again in turn). */
	unsigned char *pre;
	int pre_warned;
	/* The prepare phase's progress (prepare_progress). */
	int fetching;
	size_t prep_done;
	long long prep_next;
};
/* The prepare phase's progress call, at most ten a second (final: the
 * last, at the totals). */
void prepare_progress(struct run *r, const char *current, int final);
/* SPOKE_E_CANCELED, recorded, when the caller canceled; else 0. */
int check_cancel(struct run *r);
/* Every wheel of the plan opened, in plan order, laying out ahead those
 * already unpacked while the cold ones still unpack (install_open.c). */
int open_wheels(struct run *r);
/* Lay out the wheels open_wheels() did not (install_open.c). */
int layout_rest(struct run *r);

#endif
