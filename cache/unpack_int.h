/* SPDX-License-Identifier: MIT */
/*
 * unpack_int - what unpack.c (the job, one task per file, written with
 * plain syscalls) and unpack_batch.c (small files in batches written
 * through an io backend) share. Not for use outside cache/unpack*.c.
 */
#ifndef SPOKE_CACHE_UNPACK_INT_H
#define SPOKE_CACHE_UNPACK_INT_H

#include "cache/unpack.h"
#include "cache/record.h"
#include "base/pool.h"
#include "io/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_MAX 1024

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

struct btask;

struct ftask {
	struct pool_task t;
	struct unpack_job *j;
	const struct zip_entry *e;
	const struct record_row *row;	/* NULL: nothing to check */
};

struct unpack_job {
	const struct zip *z;
	int dirfd, verify;
	uint64_t stream_min, max_total, max_ratio;
	atomic_uint_least64_t written;	/* bytes handed to files so far */
	atomic_int *cancel, *stop;
	void (*tick)(void *user, uint64_t bytes);
	void (*done)(void *user);
	void *user;
	atomic_size_t left;	/* tasks not finished (for done) */
	char *dist_info;
	struct record rec;
	struct record_index ix;
	struct ftask *tasks;
	size_t ntasks;
	/* What the pool runs: every ftask (sync writes), or with io_uring
	 * writes the large files' ftasks and the batches of small ones. */
	enum io_choice io;
	struct btask *batches;
	size_t nbatches;
	struct pool_task **run;
	size_t nrun;
	uint64_t dirs;
	atomic_uint_least64_t files, bytes;
	atomic_int failed;
	pthread_mutex_t mu;	/* guards err and msg */
	int err;
	char msg[MSG_MAX];
};

/* The second line of the budget: whatever the sizes said, no more than
 * max_total bytes reach the disk. 0 or -EFBIG. */
int unpack_charge(struct unpack_job *j, uint64_t n);
/* e's size and digest got against its RECORD row: 0 or SPOKE_E_HASH with
 * the message in msg. */
int unpack_check_row(const struct unpack_job *j, const struct zip_entry *e,
		     const struct record_row *row, const unsigned char *got,
		     char *msg, size_t len);
/* Keep the job's first failure; later tasks see the flag and stop. */
void unpack_job_fail(struct unpack_job *j, int code, const char *msg);
/* n tasks of the job are done; the last hands the job to done. */
void unpack_task_finished(struct unpack_job *j, size_t n);
/* The caller canceled, or a sibling job failed. */
int unpack_stopped(const struct unpack_job *j);
/* At the start of a file or batch task: 1 when the job has failed or was
 * canceled or stopped (the task is then counted finished, a cancel
 * recorded as the job's failure), so the task must not run; else 0. */
int unpack_task_skip(struct unpack_job *j);
/* A file written whole: count it and tell the caller's tick. */
void unpack_file_done(struct unpack_job *j, uint64_t size);

/* unpack_batch.c: unless j->io is IO_CHOICE_SYNC, group the small files'
 * ftasks into batches and fill j->run (else j->run lists every ftask).
 * 0 or -ENOMEM. */
int unpack_plan_tasks(struct unpack_job *j);
void unpack_free_tasks(struct unpack_job *j);

#endif
