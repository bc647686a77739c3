/* SPDX-License-Identifier: MIT */
/*
 * unpack - write the contents of one wheel (an opened struct zip) below a
 * directory, checking every file against the wheel's RECORD in the same pass
 * that writes it. Each file is an independent pool task, so one large wheel
 * spreads over all workers; directories are made up front, parents first, by
 * the caller's thread, so tasks never race to create them.
 *
 * Checks (with verify on): the wheel has exactly one top-level *.dist-info
 * directory holding a RECORD; RECORD parses; every file is listed with a
 * supported hash, except RECORD itself and its signatures RECORD.jws and
 * RECORD.p7s (pip allows those unlisted); every row names a file of the
 * wheel; every file's size and digest match its row. With verify off only
 * the dist-info/RECORD presence and the zip-level checks (CRC-32, names,
 * offsets) remain: "trust the source" skips hashing, not integrity.
 *
 * Errors: SPOKE_E_HASH (size or digest differs from RECORD), SPOKE_E_BADWHEEL
 * (structure, RECORD syntax, unlisted files, rows without files, zip-level
 * damage), SPOKE_E_UNSAFE_PATH / SPOKE_E_CONFLICT (names, from zip.h),
 * SPOKE_E_CANCELED, -errno (I/O). The message names the wheel, the entry and
 * the reason. On failure the directory holds a partial tree: the caller
 * unpacks into a private temporary directory and removes it. That directory
 * must be new and private: files are created O_EXCL|O_NOFOLLOW, but the
 * directories above them are resolved normally, so a symlink planted in it
 * by someone else would be followed.
 *
 * Modes: directories 0777 and files 0666, or 0777 when the entry is an
 * executable regular file (see zip.h), all reduced by the process umask, as
 * the kernel applies it at creation: 0755/0644 under the usual 022.
 */
#ifndef SPOKE_CACHE_UNPACK_H
#define SPOKE_CACHE_UNPACK_H

#include "cache/zip.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct pool;
struct pool_worker;

struct unpack_opts {
	int verify;		/* check against RECORD (spoke's default: on) */
	struct pool *pool;	/* unpack_wheel only; NULL: calling thread */
	atomic_int *cancel;	/* may be NULL; nonzero stops the unpack */
	uint64_t stream_min;	/* 0: ZIP_STREAM_MIN_DEFAULT (see zip.h) */
	/* enum io_choice (io/backend.h) for the files' writes: auto (0)
	 * means io_backend_unpack_choice's pick. With io_uring, small
	 * files are inflated in batches and each batch is written by one
	 * submission (create, write, close of every file). */
	int io;
	uint64_t max_total;	/* 0: unpack_default_budget() */
	uint64_t max_ratio;	/* 0: UNPACK_RATIO_DEFAULT */
	/* store_add only: run on the unpacked tree (absolute dir) before it
	 * is published, and on an existing entry before the index points
	 * at it; nonzero refuses the wheel (message in err). */
	int (*check)(void *user, const char *dir, char *err, size_t errlen);
	void *check_user;
	/* store_add only: the sha256 (64 lowercase hex) the .whl must have,
	 * or NULL. A mismatch is SPOKE_E_HASH naming both digests. */
	const char *expect_key;
	/* unpack_begin jobs only, all may be NULL. stop: a second cancel
	 * flag (a sibling job failed), reported as SPOKE_E_CANCELED too.
	 * tick: after each file written, with its size (progress). done:
	 * called once, by the thread that finished the job's last task
	 * (even on failure), after which the job's tasks are no longer
	 * touched: done may call unpack_end. */
	atomic_int *stop;
	void (*tick)(void *user, uint64_t bytes);
	void (*done)(void *user);
	void *user;
};

/*
 * Size budget, checked for every compression method against the central
 * directory's sizes before anything is written, and again on the bytes
 * actually written (a lying size cannot get past either):
 *  - the sum of all entries' sizes must not exceed max_total, by default
 *    the larger of UNPACK_BUDGET_FLOOR and UNPACK_BUDGET_FACTOR times the
 *    wheel's size (a 1 MB wheel may unpack to 256 MiB, a 1 GB wheel to
 *    100 GB);
 *  - an entry larger than UNPACK_RATIO_FREE must not be more than
 *    max_ratio times its compressed size (deflate cannot exceed ~1032:1
 *    anyway; zstd can reach millions to one).
 * Refusals are SPOKE_E_BADWHEEL naming the entry, the sizes and the limit.
 */
#define UNPACK_BUDGET_FLOOR (256ull << 20)
#define UNPACK_BUDGET_FACTOR 100u
#define UNPACK_RATIO_DEFAULT 1032u
#define UNPACK_RATIO_FREE (1ull << 20)

/* The default max_total for a wheel of wheel_len bytes. */
uint64_t unpack_default_budget(uint64_t wheel_len);
/* z's declared sizes against max_total and max_ratio (0: the defaults):
 * 0, or SPOKE_E_BADWHEEL naming the entry, its size and the limit. */
int unpack_check_budget(const struct zip *z, uint64_t max_total,
			uint64_t max_ratio, char *err, size_t errlen);

struct unpack_stats {
	uint64_t files, dirs, bytes;
};

/* The whole unpack: begin, run every task (on o->pool, or inline), end.
 * Must not be called from inside a task of o->pool: pool_run cannot nest. */
int unpack_wheel(const struct zip *z, int dirfd, const struct unpack_opts *o,
		 struct unpack_stats *st, char *err, size_t errlen);

/*
 * The same in three steps, for a caller that runs many wheels in one pool
 * run: begin validates and makes the directories (calling thread); spawn
 * queues the file tasks (w: the running worker inside a task, NULL outside);
 * after the pool run, end reports the first failure and frees the job.
 * Instead of spawn, run_here runs the tasks in the calling thread. z and
 * dirfd must stay valid until end. A job that was begun must be ended.
 */
struct unpack_job;
int unpack_begin(struct unpack_job **out, const struct zip *z, int dirfd,
		 const struct unpack_opts *o, char *err, size_t errlen);
int unpack_spawn(struct unpack_job *j, struct pool *p, struct pool_worker *w);
void unpack_run_here(struct unpack_job *j);
/* The number of file tasks of a begun job. */
size_t unpack_ntasks(const struct unpack_job *j);
int unpack_end(struct unpack_job *j, struct unpack_stats *st, char *err,
	       size_t errlen);

/* The name of z's one top-level "*.dist-info" directory (heap, no '/').
 * SPOKE_E_BADWHEEL naming the candidates when there are none or several. */
int unpack_dist_info(const struct zip *z, char **out, char *err,
		     size_t errlen);
/* True for the files a wheel may leave out of RECORD: <dist_info>/RECORD,
 * RECORD.jws, RECORD.p7s. */
int unpack_unlisted_ok(const char *dist_info, const char *path);

#endif
