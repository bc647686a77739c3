/* SPDX-License-Identifier: MIT */
/*
 * layout - the inside of plan_layout() (plan.h), shared by its five files:
 * layout_run.c runs the layouts (one wheel, or all on a pool, and their
 * claims in plan order), layout_src.c reads each wheel tree's manifest,
 * layout.c walks the tree as the manifest lists it and decides what is
 * linked, layout_dest.c keeps the claims of destinations and checks each
 * against the other wheels and the environment, layout_gen.c makes the
 * files spoke writes itself (rewritten scripts, launchers, INSTALLER,
 * REQUESTED, direct_url.json and the RECORD row of each). Not for use
 * outside plan_layout().
 */
#ifndef SPOKE_ENGINE_LAYOUT_H
#define SPOKE_ENGINE_LAYOUT_H

#include "engine/plan.h"
#include "cache/manifest.h"
#include "base/name.h"

#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define WALK_DEPTH_MAX 256
#define LAYOUT_ESC_SLOTS 3

struct walker {
	spoke_ctx *ctx;               /* where the layout's failure goes: a
				       * private one (plan_layout_wheel) */
	spoke_ctx *run;               /* the run's: cancel, options */
	atomic_int *stop;             /* set when the run failed elsewhere */
	const struct spoke_plan *p;
	struct scheme *s;
	struct wplan *all, *wp;
	int index;
	struct strmap *dests;         /* plan_layout_claim() only */
	const struct strmap *removing;
	unsigned char *seen;          /* RECORD rows matched by a file */
	struct wheel_ep *launchers;   /* after pip's renaming */
	size_t nlaunchers;
	/* the subtree being walked */
	const char *dst;              /* its destination root */
	size_t sub_off;               /* wrel + sub_off: path in the subtree
				       * (the prefix and its '/') */
	int scripts, is_root;
	const struct manifest *mf;    /* the wheel's tree */
	char **excl;                  /* subtree paths not linked */
	size_t nexcl;
	char wrel[PATH_MAX];          /* path in the wheel */
	/* names from the wheel, escaped for a message (layout_esc) */
	char esc[LAYOUT_ESC_SLOTS][PATH_MAX * 4];
};

int layout_nomem(spoke_ctx *ctx);
/* The label of wheel i of the run, for messages. */
const char *layout_label(const struct walker *wk, int i);
/* The path being walked, relative to its subtree. */
const char *layout_srel(const struct walker *wk);
/* Leave the path being walked out of the link roots. */
int layout_exclude(struct walker *wk);
/* s (a name that comes from the wheel) escaped for a message, in slot
 * (0 to LAYOUT_ESC_SLOTS - 1) of wk: valid until that slot is used again,
 * so one message uses each slot at most once. */
const char *layout_esc(struct walker *wk, int slot, const char *s);

/* layout.c: the walk of one wheel, its roots and generated files. */
int layout_walk(struct walker *wk);

/* layout_dest.c */
/* Claim dest for this wheel: the checks that need no other wheel now, and
 * dest kept in the wheel's claim list, which plan_layout_claim() enters in
 * the run's map (layout_claim_merge) in plan order. */
int layout_claim(struct walker *wk, const char *dest, int kind);
/* dest: a key of wk->wp->claims, which the map then uses as it is. */
int layout_claim_merge(struct walker *wk, const char *dest, int kind);
void layout_claims_free(struct wplan *wp);
/* The claims of wp in the order they were made: fn for each until it
 * returns non-zero, which is returned. */
int layout_claims_each(struct walker *wk,
		       int (*fn)(struct walker *, const char *, int));
int layout_claim_chain(struct walker *wk, const char *dir);
int layout_env_check(struct walker *wk, int efd, const char *name,
		     const char *dest, int kind, int *child);
int layout_record_row(struct walker *wk, const char *dest, const char *algo,
		      const void *digest, size_t dlen, int64_t size);

/* layout_gen.c */
/* The wheel's own copy of a file spoke writes itself: not linked. */
int layout_generated_here(const struct walker *wk);
int layout_is_distinfo_file(const struct walker *wk, const char *name);
/* A .data/scripts file with a "#!python" line: 1 when rewritten (then
 * generated, not linked), 0 when linked as it is, or an error. */
int layout_fix_script(struct walker *wk, int sfd, const char *name,
		      const char *dest, const struct stat *st);
/* After the walk: launchers, INSTALLER, REQUESTED, direct_url.json and
 * RECORD's own row; then the RECORD sorted. */
int layout_gen_files(struct walker *wk);

#endif
