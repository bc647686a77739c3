/* SPDX-License-Identifier: MIT */
/*
 * walk_int - what the linker's lifecycle (linker.c: roots, workers,
 * progress) and its traversal (walk.c: directory and chunk tasks) share.
 * Internal to those two files.
 */
#ifndef SPOKE_ENGINE_WALK_INT_H
#define SPOKE_ENGINE_WALK_INT_H

#include "base/arena.h"
#include "base/pool.h"
#include "engine/attempt.h"
#include "engine/batch.h"
#include "engine/objid.h"
#include "engine/walk.h"
#include "io/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define DENTS_BUF (32 * 1024)

struct wroot {
	struct wroot *next;
	struct linker *l;
	char *src, *dst, *label;
	char **skip;
	int sfd, dfd;
};

/* A directory being walked. refs: the task itself, plus every child and
 * chunk that still needs sfd/dfd; the fds close when refs reaches zero. */
struct wdir {
	struct pool_task task;
	struct wdir *parent; /* NULL: open from root->sfd by relpath */
	struct wroot *root;
	atomic_int refs;
	int sfd, dfd;
	struct attempt_pair *pair;
	const char *name;    /* within parent */
	const char *relpath; /* from the root, "" for the root */
};

struct wworker {
	struct linker *l;
	struct io_backend *io;
	struct arena arena;
	uint64_t count[SPOKE_COUNT__MAX];
	struct io_op ops[BATCH_MAX];
	unsigned nops;
	struct arena scratch; /* symlink targets of the current batch */
	/* identities of what this worker made and has not reported yet
	 * (linker.made): directories as they are made, files per batch */
	struct objid made[2 * BATCH_MAX];
	unsigned nmade;
	struct objid src[BATCH_MAX]; /* each op's source (io_op.user) */
	char dents[DENTS_BUF];
} __attribute__((aligned(64)));

struct linker {
	spoke_ctx *ctx;
	struct spoke_report *rep;
	struct pool *pool;
	unsigned nworkers;
	struct wworker *workers;
	struct attempt_table att;
	struct wroot *roots, **roots_tail;
	atomic_int abort;
	atomic_int open_dirs;
	int dir_budget;
	uint64_t files_total, bytes_total;
	atomic_llong next_progress;
	pthread_mutex_t progress_lock;
	const char *current;
	/* set for a transaction: told of every destination the walk finds
	 * taken (EEXIST), which then fails the run instead of being
	 * replaced (batch_env.taken) */
	void (*disown)(void *arg, const char *path);
	void *disown_arg;
	int replace_ok; /* linker_allow_replace: taken destinations replaced */
	/* linker_set_made: told the identity of every object the run makes */
	void (*made)(void *arg, const struct objid *ids, size_t n);
	void *made_arg;
	int carry_times; /* linker_carry_times */
};

/* walk.c: the task of a root or any directory below it. */
void walk_dir_task(struct pool_worker *pw, struct pool_task *t);
/* walk.c: report the worker's unreported identities (linker.made). */
void walk_report_made(struct wworker *w);
/* linker.c: report progress, at most ten times a second unless final. */
void linker_progress(struct wworker *w, int final, const char *label);

#endif
