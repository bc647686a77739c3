/* SPDX-License-Identifier: MIT */
/*
 * pool - a work-stealing thread pool for the install engine. Each worker owns
 * a Chase-Lev deque; tasks spawned by a running task go to the spawner's own
 * deque without any lock, idle workers steal from random victims and sleep on
 * a condition variable only when there is nothing to steal. Tasks are
 * intrusive (embed struct pool_task, recover your struct with container_of),
 * so the pool never allocates per task. Threads are created once and sleep
 * between runs; the thread calling pool_run() works as worker 0.
 */
#ifndef SPOKE_ENGINE_POOL_H
#define SPOKE_ENGINE_POOL_H

#include <stddef.h>

struct pool;
struct pool_worker;

/*
 * Intrusive task: callers embed this in their own struct and recover it with
 * container_of-style offset arithmetic. The pool never allocates per task.
 * The task must stay alive until its fn has been called; the pool does not
 * touch it after fn returns, so fn may free or reuse it.
 */
struct pool_task {
	void (*fn)(struct pool_worker *w, struct pool_task *t);
	int prio;	/* hint, larger = run first when spawned from outside; 0 default */
};

/* 0 or -errno; nthreads == 0 means pool_default_threads(). */
int pool_create(struct pool **out, unsigned nthreads);
/* Accepts NULL; wakes and joins the threads. Not during a run. */
void pool_free(struct pool *p);
/* CPUs in sched_getaffinity, at least 1. */
unsigned pool_default_threads(void);
unsigned pool_nthreads(const struct pool *p);

/*
 * Push a task. From inside a task pass the running worker (own deque,
 * lock-free); from anywhere else pass w == NULL (injection list, mutex).
 * Returns 0 or -ENOMEM.
 */
int pool_spawn(struct pool *p, struct pool_worker *w, struct pool_task *t);

/*
 * Run until every spawned task, including tasks spawned by tasks, has
 * finished. The caller takes part as worker 0. Outside tasks start in
 * descending prio order (spawn order among equals). May be called many
 * times, but not concurrently and not from inside a task. Returns 0, or
 * -errno if a pthread call failed along the way (the run still completed).
 */
int pool_run(struct pool *p);

/* 0..nthreads-1, stable for the life of the pool. */
unsigned pool_worker_index(const struct pool_worker *w);
struct pool *pool_of(const struct pool_worker *w);
/* Successful steals during the last pool_run. */
unsigned long pool_steals(const struct pool *p);

#endif
