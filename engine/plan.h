/* SPDX-License-Identifier: MIT */
/*
 * plan - the inside of spoke_plan and the layout of an install: for every
 * wheel, which subtrees the linker materialises where (with the names it
 * must skip), which files are generated instead (rewritten scripts,
 * launchers, INSTALLER, REQUESTED, direct_url.json, RECORD) and the RECORD
 * that results. Building the layout is also the validation of the whole run:
 * it walks every wheel tree once, checks it against its RECORD, checks every
 * destination against every other wheel and against the environment, and
 * fails before anything is changed. The setters are in api_plan.c, the
 * layout in layout.c, layout_dest.c and layout_gen.c (see layout.h).
 */
#ifndef SPOKE_ENGINE_PLAN_H
#define SPOKE_ENGINE_PLAN_H

#include "cache/record.h"
#include "engine/scheme.h"
#include "engine/wheel.h"
#include "base/strmap.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct plan_wheel {
	char *path;       /* as the caller gave it (a cache key with is_key) */
	char *direct_url; /* JSON for direct_url.json, or NULL */
	char *sha256;     /* the .whl's expected sha256, or NULL */
	int is_key;       /* path is a cache key (spoke_plan_add_cache_key) */
	int requested;    /* REQUESTED: 1, 0, or -1 for the plan's setting */
};

struct spoke_plan {
	struct plan_wheel *wheels;
	size_t nwheels;
	char **names; /* for spoke_uninstall */
	size_t nnames;
	char **removes; /* removed by spoke_install in the same run */
	size_t nremoves;
	char *installer; /* INSTALLER text, or NULL for "spoke" */
	char *venv, *target, *python;
	char *prefix, *root; /* pip's --prefix and --root */
	char *shebang_python; /* scripts name it instead of python */
	char *path[SPOKE_SCHEME__MAX];
	int reinstall, dry_run, requested, allow_overwrite;
	int no_wait; /* environment locked: fail at once (engine/lock.c) */
	int compat_check; /* tags and Requires-Python (engine/compat.c) */
	int compile_bytecode, compile_optimize; /* engine/bytecode.c */
};

/* The directory an entry of the plan is installed from: a tree given as
 * it is, or the cache entry of a .whl or a key (*cached: 1, so its kept
 * manifest may be used). Heap (absolute) in *out, or a recorded error. */
int plan_source_dir(spoke_ctx *ctx, const struct plan_wheel *pw, char **out,
		    int *cached);
/* Whether wheel i gets a REQUESTED file. */
int plan_wheel_requested(const struct spoke_plan *p, size_t i);
/* What scheme_resolve needs of the plan (strings stay the plan's). */
void plan_scheme_opts(const struct spoke_plan *p, struct scheme_opts *o);

enum { DEST_FILE = 1, DEST_DIR = 2 }; /* strmap_ent.kind of the layout's map */

/* ---- the layout ------------------------------------------------------- */

struct gen_file {
	char *path; /* absolute */
	char *data;
	size_t len;
	mode_t mode;
};

struct link_root {
	char *src, *dst;
	char **skip; /* NULL-terminated */
};

struct wplan {
	struct wheel w;
	const char *action; /* for the report */
	enum spoke_action act;
	int skip;           /* same version already installed */
	int barrier;        /* --allow-overwrite: link after earlier wheels */
	struct installed *old; /* installed versions to replace */
	size_t nold;
	const char *lib;    /* purelib or platlib: RECORD's base */
	struct link_root *roots;
	size_t nroots;
	struct gen_file *gen;
	size_t ngen;
	struct record out;  /* the installed RECORD, sorted */
	char *record_text;  /* out formatted at the end of the validation
			     * (then out is freed), until written */
	size_t record_len;
	char *record_path;
	uint64_t files, bytes; /* what the linker will materialise */
	struct manifest *src; /* the tree's manifest (plan_wheel_source) */
	int cached;         /* the tree is a cache entry (its manifest kept) */
	/* Between plan_layout_wheel() and plan_layout_claim(): every
	 * destination the layout claimed, in order (layout_dest.c), and its
	 * failure, kept aside until it is this wheel's turn. */
	struct strmap_keys claims;
	int lfail;          /* the layout's error code, or 0 */
	spoke_ctx *lerr;    /* its message (NULL: out of memory) */
	/* Wheel 0 only: the destinations of the run whose name is not in
	 * Unicode NFC, by their NFC form (layout_dest.c). It lives here
	 * because plan_layout() has no run-wide state of its own. */
	struct strmap nfc_alias;
};

/* Read (or, when missing or stale, rebuild by a walk) the manifest of
 * wp's tree into wp->src. Thread-safe for distinct wp: it records no error
 * in ctx; on failure the message is in err. 0 or an error code. */
int plan_wheel_source(struct wplan *wp, char *err, size_t errlen);

/* Lay out wheel i of wp (its manifest loaded first if not yet): fill roots, gen, out, record_path, and claim its
 * destinations in dests (conflicts with earlier wheels are errors, or with
 * allow_overwrite make this wheel a barrier). removing: files the upgrade
 * removes first, which may stand where this wheel puts a directory.
 * The same as plan_layout_wheel() then plan_layout_claim(). */
int plan_layout(spoke_ctx *ctx, const struct spoke_plan *p, struct scheme *s,
		struct wplan *wp, size_t i, struct strmap *dests,
		const struct strmap *removing);
/* The two halves of plan_layout. plan_layout_wheel() does everything that
 * needs no other wheel (the walk, RECORD, the environment checks, the
 * generated files) and keeps its destinations and its failure in wp[i]:
 * it records nothing in ctx (only reads its options and cancel flag), so
 * it may run for distinct i on any threads at once. plan_layout_claim()
 * then enters them in dests, in plan order (i ascending), and reports
 * the first collision or, if none came before it, the layout's own
 * failure: the same error, with the same message, as the serial walk.
 * stop (may be NULL): when set, a running layout gives up early. */
void plan_layout_wheel(spoke_ctx *ctx, const struct spoke_plan *p,
		       struct scheme *s, struct wplan *wp, size_t i,
		       const struct strmap *removing, atomic_int *stop);
int plan_layout_claim(spoke_ctx *ctx, const struct spoke_plan *p,
		      struct scheme *s, struct wplan *wp, size_t i,
		      struct strmap *dests);
/* Every wheel of wp[from..n) that is not skipped (the wheels before from
 * are laid out and claimed already): manifests and layouts on a
 * pool of ctx->jobs threads (the biggest wheel first), claims entered in
 * plan order as soon as the wheels before are in. 0, or the error of the
 * wheel a serial run of plan_layout() would have failed at (*failed: its
 * index, else -1). */
int plan_layout_all(spoke_ctx *ctx, const struct spoke_plan *p,
		    struct scheme *s, struct wplan *wp, size_t from, size_t n,
		    struct strmap *dests, const struct strmap *removing,
		    long *failed);
void wplan_free(struct wplan *wp);

/* For "x.cpython-311.pyc" or "x.cpython-311.opt-1.pyc": the length of
 * "x" (the source is x.py), or 0 when name is not such a file. */
size_t pyc_source_stem(const char *name);

#endif
