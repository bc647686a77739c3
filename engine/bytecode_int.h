/* SPDX-License-Identifier: MIT */
/*
 * bytecode_int - what bytecode.c (the run: sources, compile, layout) and
 * bytecode_cache.c (the cache directory: use, check, publish, stamp)
 * share. Not for use outside engine/bytecode*.c.
 */
#ifndef SPOKE_ENGINE_BYTECODE_INT_H
#define SPOKE_ENGINE_BYTECODE_INT_H

#include "engine/bytecode.h"
#include "engine/pycompile.h"

#include <stdint.h>

struct bc_src {
	char *rel;   /* path in the entry */
	char *dest;  /* where the .py is installed */
	int status;  /* PYC_*, or -1 not known yet */
	long long mf_size;                 /* the entry manifest's size */
	long long mtime, size, pyc_size;   /* PYC_OK: what it was made of */
};

struct bc_wheel {
	struct wplan *wp;
	struct bc_src *src;
	size_t n;
	char *dir;   /* bytecode-v1/<entry>.<tag>.opt-<N> */
	char *stage; /* tmp/... while compiling */
	int usable;
	int published; /* stage renamed or dropped: gone either way */
	int deferred;  /* usable from the cache, linked by finish */
	int sealed;    /* stamped, to be published */
	unsigned char mf_id[32]; /* pyc_stamp_manifest_id of the entry */
};

/* struct bytecode of bytecode.h: one install's bytecode, from prepare
 * (validation) to finish (inside the transaction). */
struct bytecode {
	spoke_ctx *ctx;
	const struct spoke_plan *p;
	struct scheme *s;
	struct spoke_report *rep;
	char tag[64];
	unsigned char magic[4];  /* the workers', once a pool ran */
	struct pyc_pool *pool;
	int ordered;             /* --allow-overwrite barriers: wheel order */
	struct bc_wheel *bw;
	size_t n;
	unsigned long compiled, failed, cached; /* not yet reported */
	unsigned long submitted;                /* to the compile pool */
	uint64_t link_files, link_bytes;        /* of the finish pass */
};

struct envmod;
struct strmap;

int bc_nomem(spoke_ctx *ctx);

/* bytecode_layout.c. dest lies in purelib or platlib; the one it lies in. */
int bc_in_lib(const struct scheme *s, const char *dest);
const char *bc_lib_of(const struct scheme *s, const char *dest);
/* "<base>/<reldir>/__pycache__/<stem>.<tag>[.opt-N].pyc" (base NULL:
 * none) for the source rel: 0 or -ENAMETOOLONG. */
int bc_pyc_path(const struct bytecode *b, char *buf, size_t len,
		const char *base, const char *rel);
/* Claim the .pyc destinations of bw's sources and their __pycache__
 * directories in the run's map: every source of a cold wheel (cold), the
 * compiled ones of a warm one. 0 or an error recorded in the context. */
int bc_claim_all(struct bytecode *b, struct bc_wheel *bw,
		 struct strmap *dests, int cold);
/* Add a usable wheel's .pyc to its layout: RECORD rows and link roots
 * (appended to wp->roots from *first on). */
int bc_add_to_layout(struct bytecode *b, struct bc_wheel *bw, size_t *first);
/* Queue the removal, if empty at commit, of the __pycache__ directories
 * claimed for cold wheel bw's sources that got no .pyc. */
int bc_unclaim_dirs(struct bytecode *b, const struct bc_wheel *bw,
		    struct envmod *m);
void bc_drop_dir(const char *path);

/* Use bw's published bytecode directory: 1 usable (each source's status
 * and .pyc size filled in), 0 absent or stale (then removed, to be
 * compiled again), or an error (out of memory). */
int bc_load_warm(struct bytecode *b, struct bc_wheel *bw);

/* Stamp bw's compiled staging directory (bw->sealed), or drop it with a
 * warning when a file could not be compiled or the stamp not written.
 * *syncfd (-1 at first) gets a descriptor on the cache's filesystem for
 * the one syncfs before the publishes. Errors are only out-of-memory. */
int bc_seal(struct bytecode *b, struct bc_wheel *bw, int *syncfd);

/* Publish a sealed staging directory with one rename (synced: 0, or the
 * syncfs's -errno, which drops it); another process publishing first is
 * success (theirs is used). Sets bw->usable and bw->published. A wheel
 * that cannot get its bytecode is a warning; errors are only
 * out-of-memory. */
int bc_publish(struct bytecode *b, struct bc_wheel *bw, int synced);

#endif
