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
	int published; /* bc_publish() ran: stage is gone either way */
	int deferred;  /* usable from the cache, linked by finish */
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

int bc_nomem(spoke_ctx *ctx);
void bc_drop_dir(const char *path);

/* Use bw's published bytecode directory: 1 usable (each source's status
 * and .pyc size filled in), 0 absent or stale (then removed, to be
 * compiled again), or an error (out of memory). */
int bc_load_warm(struct bytecode *b, struct bc_wheel *bw);

/* Stamp bw's compiled staging directory, sync, and publish it with one
 * rename; another process publishing first is success (theirs is used).
 * Sets bw->usable. A wheel that cannot get its bytecode is a warning;
 * errors are only out-of-memory. */
int bc_publish(struct bytecode *b, struct bc_wheel *bw);

#endif
