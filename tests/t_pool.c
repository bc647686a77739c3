/* SPDX-License-Identifier: MIT */
/*
 * t_pool - checks the work-stealing pool: a 100,000-task recursive tree and a
 * 50,000-task flat outside spawn each run every task exactly once, one pool
 * survives 50 runs in a row, sleeping tasks get stolen and spread over
 * workers, a one-thread pool creates no thread, outside tasks start in
 * prio order, and a push wakes a sleeping worker. Exit 0 pass, 1 fail (one line saying why), 77 skip.
 */
#include "base/pool.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			printf("t_pool: FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);				\
			printf("\n");					\
			return 1;					\
		}							\
	} while (0)

struct node {
	struct pool_task task;
	unsigned id;
	unsigned parent;	/* plain: written by the spawner, read by the task */
	atomic_uint ran;
	atomic_uint worker;
};

static struct node *nodes;
static unsigned nnodes;
static atomic_uint total;
static atomic_int spawn_err;
static atomic_int bad_parent;
static atomic_uint worker_mask;
static pthread_t main_thread;
static atomic_int off_main;

static void count_run(struct pool_worker *w, struct node *n)
{
	unsigned idx = pool_worker_index(w);

	atomic_fetch_add(&n->ran, 1);
	atomic_fetch_add(&total, 1);
	atomic_store(&n->worker, idx);
	atomic_fetch_or(&worker_mask, 1u << (idx & 31));
	if (!pthread_equal(pthread_self(), main_thread))
		atomic_store(&off_main, 1);
}

/*
 * The plain write to parent before the spawn lets ThreadSanitizer catch a
 * push that does not publish the task to the thief that runs it.
 */
static void spawn_child(struct pool_worker *w, unsigned p, unsigned c,
			int outside)
{
	if (c >= nnodes)
		return;
	nodes[c].parent = p;
	if (pool_spawn(pool_of(w), outside ? NULL : w, &nodes[c].task))
		atomic_store(&spawn_err, 1);
}

static void check_parent(struct node *n)
{
	if (n->id && n->parent != (n->id - 1) / 2)
		atomic_store(&bad_parent, 1);
}

/* node i spawns 2i+1 and 2i+2: a binary tree from one root */
static void tree_fn(struct pool_worker *w, struct pool_task *t)
{
	struct node *n = container_of(t, struct node, task);

	count_run(w, n);
	check_parent(n);
	spawn_child(w, n->id, 2 * n->id + 1, 0);
	spawn_child(w, n->id, 2 * n->id + 2, 0);
}

/* same tree, but every third child goes through the injection list */
static void mixed_fn(struct pool_worker *w, struct pool_task *t)
{
	struct node *n = container_of(t, struct node, task);

	count_run(w, n);
	check_parent(n);
	spawn_child(w, n->id, 2 * n->id + 1, n->id % 3 == 0);
	spawn_child(w, n->id, 2 * n->id + 2, 0);
}

static void flat_fn(struct pool_worker *w, struct pool_task *t)
{
	count_run(w, container_of(t, struct node, task));
}

static void sleepy_fn(struct pool_worker *w, struct pool_task *t)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	flat_fn(w, t);
	nanosleep(&ts, NULL);
}

/* root spawns every other node from inside, so only stealing spreads them */
static void fan_fn(struct pool_worker *w, struct pool_task *t)
{
	unsigned i;

	flat_fn(w, t);
	for (i = 1; i < nnodes; i++)
		spawn_child(w, 0, i, 0);
}

static void setup(unsigned n, void (*fn)(struct pool_worker *, struct pool_task *))
{
	unsigned i;

	nnodes = n;
	for (i = 0; i < n; i++) {
		nodes[i].task.fn = fn;
		nodes[i].task.prio = 0;
		nodes[i].id = i;
		atomic_store(&nodes[i].ran, 0);
		atomic_store(&nodes[i].worker, ~0u);
	}
	atomic_store(&total, 0);
	atomic_store(&worker_mask, 0);
	atomic_store(&off_main, 0);
	atomic_store(&bad_parent, 0);
}

static int verify(const char *what)
{
	unsigned i;

	CHECK(!atomic_load(&spawn_err), "%s: pool_spawn failed", what);
	CHECK(!atomic_load(&bad_parent), "%s: task saw a stale parent", what);
	CHECK(atomic_load(&total) == nnodes, "%s: %u of %u tasks ran", what,
	      atomic_load(&total), nnodes);
	for (i = 0; i < nnodes; i++)
		CHECK(atomic_load(&nodes[i].ran) == 1, "%s: task %u ran %u times",
		      what, i, atomic_load(&nodes[i].ran));
	return 0;
}

static int run_tree(struct pool *p, unsigned n, const char *what)
{
	setup(n, tree_fn);
	CHECK(pool_spawn(p, NULL, &nodes[0].task) == 0, "%s: spawn root", what);
	CHECK(pool_run(p) == 0, "%s: pool_run", what);
	return verify(what);
}

/* (a) recursive binary tree, on default and on oversubscribed threads */
static int test_tree(void)
{
	unsigned threads[] = { 0, 4 };
	struct pool *p;
	unsigned i;

	for (i = 0; i < 2; i++) {
		CHECK(pool_create(&p, threads[i]) == 0, "pool_create");
		if (!threads[i])
			CHECK(pool_nthreads(p) == pool_default_threads(),
			      "nthreads 0 gave %u", pool_nthreads(p));
		if (run_tree(p, 100000, "tree")) {
			pool_free(p);
			return 1;
		}
		pool_free(p);
	}
	return 0;
}

/* (b) flat spawn from outside before the run */
static int test_flat(void)
{
	struct pool *p;
	unsigned i;
	int rc;

	CHECK(pool_create(&p, 4) == 0, "pool_create");
	setup(50000, flat_fn);
	for (i = 0; i < nnodes; i++)
		CHECK(pool_spawn(p, NULL, &nodes[i].task) == 0, "spawn %u", i);
	CHECK(pool_run(p) == 0, "pool_run");
	rc = verify("flat");
	pool_free(p);
	return rc;
}

/* (c) one pool, 50 runs, with empty runs and injection from tasks */
static int test_reuse(void)
{
	struct pool *p;
	int i, rc = 0;

	CHECK(pool_create(&p, 3) == 0, "pool_create");
	for (i = 0; i < 50 && !rc; i++) {
		CHECK(pool_run(p) == 0, "empty pool_run %d", i);
		if (i % 2) {
			rc = run_tree(p, 2000 + i, "reuse");
			continue;
		}
		setup(2000 + i, mixed_fn);
		CHECK(pool_spawn(p, NULL, &nodes[0].task) == 0, "spawn root");
		CHECK(pool_run(p) == 0, "pool_run %d", i);
		rc = verify("reuse/mixed");
	}
	pool_free(p);
	return rc;
}

/* (d) sleeping tasks spawned by one task must be stolen */
static int test_steal(void)
{
	struct pool *p;
	unsigned long steals;
	unsigned mask;
	int rc;

	CHECK(pool_create(&p, 4) == 0, "pool_create");
	setup(64, sleepy_fn);
	nodes[0].task.fn = fan_fn;
	CHECK(pool_spawn(p, NULL, &nodes[0].task) == 0, "spawn root");
	CHECK(pool_run(p) == 0, "pool_run");
	rc = verify("steal");
	steals = pool_steals(p);
	mask = atomic_load(&worker_mask);
	pool_free(p);
	if (rc)
		return rc;
	CHECK(steals > 0, "no steals");
	CHECK(mask & (mask - 1), "all tasks ran on one worker (mask %#x)", mask);
	CHECK(mask < 1u << 4, "worker index out of range (mask %#x)", mask);
	return 0;
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* (e) one thread: no thread created, everything on the caller */
static int test_single(void)
{
	struct pool *p;
	int before = count_threads(), after, rc;
	unsigned long steals;

	CHECK(pool_create(&p, 1) == 0, "pool_create");
	after = count_threads();
	CHECK(before < 0 || after == before, "threads %d -> %d", before, after);
	rc = run_tree(p, 10000, "single");
	steals = pool_steals(p);
	pool_free(p);
	if (rc)
		return rc;
	CHECK(!atomic_load(&off_main), "a task ran off the calling thread");
	CHECK(atomic_load(&worker_mask) == 1, "worker mask %#x",
	      atomic_load(&worker_mask));
	CHECK(steals == 0, "%lu steals", steals);
	return 0;
}

static struct pool_task task_b;
static atomic_int b_ran, b_timeout;
static long a_delay_ns;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void b_fn(struct pool_worker *w, struct pool_task *t)
{
	(void)w;
	(void)t;
	atomic_store(&b_ran, 1);
}

/* spawn B, then block until someone else ran it: only a woken thief can */
static void a_fn(struct pool_worker *w, struct pool_task *t)
{
	struct timespec ts = { 0, a_delay_ns };
	double deadline;

	(void)t;
	nanosleep(&ts, NULL);
	if (pool_spawn(pool_of(w), w, &task_b))
		atomic_store(&spawn_err, 1);
	deadline = now() + 2;
	while (!atomic_load(&b_ran) && !atomic_load(&b_timeout)) {
		if (now() > deadline)
			atomic_store(&b_timeout, 1);
		sched_yield();
	}
}

/* (g) a push wakes a sleeping worker, whatever state it is in */
static int test_wake(void)
{
	static const long delay[] = { 0, 50000, 1000000, 20000000 };
	struct pool_task a = { a_fn, 0 };
	struct pool *p;
	int i;

	CHECK(pool_create(&p, 2) == 0, "pool_create");
	task_b.fn = b_fn;
	atomic_store(&spawn_err, 0);
	for (i = 0; i < 40; i++) {
		a_delay_ns = delay[i % 4];
		atomic_store(&b_ran, 0);
		atomic_store(&b_timeout, 0);
		CHECK(pool_spawn(p, NULL, &a) == 0, "spawn");
		CHECK(pool_run(p) == 0, "pool_run");
		CHECK(!atomic_load(&spawn_err), "pool_spawn failed");
		CHECK(!atomic_load(&b_timeout), "lost wake-up (round %d, delay %ld ns)",
		      i, a_delay_ns);
	}
	pool_free(p);
	return 0;
}

static int order[8];
static atomic_int norder;

static void prio_fn(struct pool_worker *w, struct pool_task *t)
{
	(void)w;
	order[atomic_fetch_add(&norder, 1) & 7] =
		(int)container_of(t, struct node, task)->id;
}

/* (f) one thread, outside prios 5,1,9,5 run as 9,5,5,1 (stable) */
static int test_prio(void)
{
	static const int prio[] = { 5, 1, 9, 5 }, want[] = { 2, 0, 3, 1 };
	struct pool *p;
	int i;

	CHECK(pool_create(&p, 1) == 0, "pool_create");
	setup(4, prio_fn);
	atomic_store(&norder, 0);
	for (i = 0; i < 4; i++) {
		nodes[i].task.prio = prio[i];
		CHECK(pool_spawn(p, NULL, &nodes[i].task) == 0, "spawn");
	}
	CHECK(pool_run(p) == 0, "pool_run");
	pool_free(p);
	CHECK(atomic_load(&norder) == 4, "%d tasks ran", atomic_load(&norder));
	for (i = 0; i < 4; i++)
		CHECK(order[i] == want[i], "position %d ran prio %d, want %d", i,
		      prio[order[i]], prio[want[i]]);
	return 0;
}

int main(void)
{
	struct pool *p;
	int rc;

	main_thread = pthread_self();
	nodes = calloc(100000, sizeof(*nodes));
	if (!nodes) {
		printf("t_pool: SKIP out of memory\n");
		return 77;
	}
	rc = pool_create(&p, 2);
	if (rc == -EAGAIN) {
		printf("t_pool: SKIP cannot create threads\n");
		return 77;
	}
	CHECK(rc == 0, "pool_create: %s", strerror(-rc));
	pool_free(p);
	pool_free(NULL);
	rc = test_tree() || test_flat() || test_reuse() || test_steal() ||
	     test_single() || test_prio() || test_wake();
	free(nodes);
	return rc;
}
