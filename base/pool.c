/* SPDX-License-Identifier: MIT */
/*
 * pool - work-stealing thread pool, see pool.h. Every worker owns a Chase-Lev
 * deque (the C11 version of Le, Pop, Cohen and Zappa Nardelli, PPoPP 2013):
 * the owner pushes and takes at the bottom, thieves CAS the top. Tasks from
 * outside go to a mutex-protected injection list that is sorted by prio when
 * a run starts and that workers drain front first. An atomic count of
 * pending tasks ends the run; idle workers spin, yield, then sleep on a
 * condition variable that a push signals only when someone sleeps.
 *
 * Longer than most files here on purpose: the deque, the injection list,
 * sleeping and termination make one memory-ordering argument (who may see
 * which task when), and it reads best in one place.
 */
#include "base/pool.h"
#include "base/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * gcc warns that its TSan does not model fences. Nothing here relies on a
 * fence for happens-before (publication uses release/acquire pairs); the
 * fences only order store->load, which TSan does not check anyway.
 */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#define CACHELINE	64
#define DQ_MIN_SIZE	64
#define INJ_MIN_SIZE	64
#define SPIN_ROUNDS	64
#define YIELD_ROUNDS	16
#define MAX_THREADS	4096

struct dq_array {
	struct dq_array *prev;		/* retired predecessor, freed when quiescent */
	int64_t mask;
	_Atomic(struct pool_task *) slot[];
};

struct pool_worker {
	_Alignas(CACHELINE) _Atomic int64_t top;	/* thieves CAS it */
	_Alignas(CACHELINE) _Atomic int64_t bottom;	/* only the owner writes it */
	_Atomic(struct dq_array *) array;
	struct pool *pool;
	unsigned index;
	uint64_t rng;
	unsigned long steals;		/* owner only; summed into pool at park */
	unsigned long credit;		/* owner only; see run_task() */
	pthread_t thread;
};

struct inj_entry {
	struct pool_task *t;
	unsigned long seq;		/* spawn order, keeps the prio sort stable */
};

struct pool {
	struct pool_worker *w;
	unsigned n;
	unsigned nstarted;		/* threads 1..nstarted exist */
	_Alignas(CACHELINE) atomic_ulong pending;
	_Alignas(CACHELINE) atomic_uint nsleep;
	atomic_size_t ninj;		/* inj_len - inj_head, readable without mu */
	atomic_int err;			/* last failed pthread call, for pool_run */
	pthread_mutex_t mu;		/* guards the fields below and all sleeping */
	pthread_cond_t work_cv;		/* idle workers inside a run */
	pthread_cond_t start_cv;	/* parked workers between runs */
	pthread_cond_t done_cv;		/* pool_run waiting for workers to park */
	struct inj_entry *inj;
	size_t inj_head, inj_len, inj_cap;
	unsigned long inj_seq;
	unsigned long epoch;
	unsigned active;
	bool stop;
	unsigned long steals;
};

/*
 * pthread failures on a correctly initialised default mutex/condvar are
 * misuse, not runtime conditions; we never abort(), we record the error for
 * pool_run to return and keep going (a failed wait degrades to a spin).
 */
static void note(struct pool *p, int rc)
{
	if (rc)
		atomic_store_explicit(&p->err, rc, memory_order_relaxed);
}

static void lock(struct pool *p)
{
	int rc;

	while ((rc = pthread_mutex_lock(&p->mu)) != 0) {
		note(p, rc);
		sched_yield();
	}
}

static void unlock(struct pool *p)
{
	note(p, pthread_mutex_unlock(&p->mu));
}

static void wait_on(struct pool *p, pthread_cond_t *cv)
{
	note(p, pthread_cond_wait(cv, &p->mu));
}

static void wake(struct pool *p, pthread_cond_t *cv, bool all)
{
	note(p, all ? pthread_cond_broadcast(cv) : pthread_cond_signal(cv));
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* ---- Chase-Lev deque ------------------------------------------------- */

/*
 * Memory orders (Le et al. 2013, slightly strengthened where it is free):
 * - push stores the slot and the new bottom with release: a thief that
 *   acquires either sees the task pointer and everything the spawner wrote
 *   into the task. (The paper uses a release fence + relaxed bottom; release
 *   stores are no weaker, cost the same on x86, and ThreadSanitizer models
 *   them, whereas it ignores fences.)
 * - push loads top with acquire so that a thief's read of a slot happens
 *   before we reuse that slot after the thief's CAS advanced top; otherwise
 *   the thief could read our new task and its CAS would still succeed.
 * - take writes bottom-1 then reads top; steal reads top, then bottom, then
 *   CASes top. The owner's store->load is what acquire/release cannot order
 *   (store buffering): the owner could read a stale top and take b-1 without
 *   a CAS while a thief, reading the old bottom, takes the same task. With a
 *   seq_cst fence on each side, one fence is first in the total order S: if
 *   the owner's, the thief's bottom load sees the decrement; if the thief's,
 *   the owner's top load sees at least the top the thief read. Either way,
 *   when both aim at the same last task both must CAS top, and one wins.
 * - the CAS on top is seq_cst: it is the single arbiter between thieves and
 *   the owner for a slot, and must sit in S with the fences.
 * - steal loads top with acquire so that, having seen a top advanced by
 *   another thief, our later loads of bottom/array are no older than theirs;
 *   bottom and array are acquired to pair with push's and grow's releases.
 * Old arrays are chained and freed only when every worker is parked, since a
 *   thief may still read a slot in an array the owner has just replaced.
 */

static struct dq_array *dq_array_new(int64_t size)
{
	struct dq_array *a;
	int64_t i;

	if ((uint64_t)size > SIZE_MAX / 2 / sizeof(a->slot[0]))
		return NULL;
	a = xmalloc(sizeof(*a) + (size_t)size * sizeof(a->slot[0]));
	if (!a)
		return NULL;
	a->prev = NULL;
	a->mask = size - 1;
	for (i = 0; i < size; i++)	/* a stale thief may read any slot */
		atomic_init(&a->slot[i], NULL);
	return a;
}

static struct dq_array *dq_grow(struct pool_worker *w, struct dq_array *a,
				int64_t t, int64_t b)
{
	struct dq_array *na = dq_array_new(2 * (a->mask + 1));
	int64_t i;

	if (!na)
		return NULL;
	for (i = t; i < b; i++)
		atomic_store_explicit(&na->slot[i & na->mask],
			atomic_load_explicit(&a->slot[i & a->mask],
					     memory_order_relaxed),
			memory_order_relaxed);
	na->prev = a;
	atomic_store_explicit(&w->array, na, memory_order_release);
	return na;
}

static int dq_push(struct pool_worker *w, struct pool_task *task)
{
	int64_t b = atomic_load_explicit(&w->bottom, memory_order_relaxed);
	int64_t t = atomic_load_explicit(&w->top, memory_order_acquire);
	struct dq_array *a = atomic_load_explicit(&w->array,
						  memory_order_relaxed);

	if (b - t > a->mask) {
		a = dq_grow(w, a, t, b);
		if (!a)
			return -ENOMEM;
	}
	atomic_store_explicit(&a->slot[b & a->mask], task, memory_order_release);
	atomic_store_explicit(&w->bottom, b + 1, memory_order_release);
	return 0;
}

static struct pool_task *dq_take(struct pool_worker *w)
{
	int64_t b = atomic_load_explicit(&w->bottom, memory_order_relaxed) - 1;
	struct dq_array *a = atomic_load_explicit(&w->array,
						  memory_order_relaxed);
	struct pool_task *x;
	int64_t t;

	atomic_store_explicit(&w->bottom, b, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	t = atomic_load_explicit(&w->top, memory_order_relaxed);
	if (t > b) {
		atomic_store_explicit(&w->bottom, b + 1, memory_order_relaxed);
		return NULL;
	}
	x = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
	if (t == b) {
		if (!atomic_compare_exchange_strong_explicit(&w->top, &t, t + 1,
				memory_order_seq_cst, memory_order_relaxed))
			x = NULL;
		atomic_store_explicit(&w->bottom, b + 1, memory_order_relaxed);
	}
	return x;
}

/* NULL when empty or when another thief won the race for the slot. */
static struct pool_task *dq_steal(struct pool_worker *v)
{
	int64_t t = atomic_load_explicit(&v->top, memory_order_acquire);
	struct dq_array *a;
	struct pool_task *x;
	int64_t b;

	atomic_thread_fence(memory_order_seq_cst);
	b = atomic_load_explicit(&v->bottom, memory_order_acquire);
	if (t >= b)
		return NULL;
	a = atomic_load_explicit(&v->array, memory_order_acquire);
	x = atomic_load_explicit(&a->slot[t & a->mask], memory_order_acquire);
	if (!atomic_compare_exchange_strong_explicit(&v->top, &t, t + 1,
			memory_order_seq_cst, memory_order_relaxed))
		return NULL;
	return x;
}

static void dq_reclaim(struct pool_worker *w)
{
	struct dq_array *a = atomic_load_explicit(&w->array,
						  memory_order_relaxed);
	struct dq_array *old;

	if (!a)
		return;
	old = a->prev;
	a->prev = NULL;
	while (old) {
		a = old->prev;
		free(old);
		old = a;
	}
}

/* ---- sleeping and waking --------------------------------------------- */

/*
 * No lost wake-ups. A pusher does: publish bottom; seq_cst fence; read
 * nsleep; if nonzero, lock mu and signal. A sleeper does, holding mu:
 * nsleep++; seq_cst fence; scan every deque and the injection list; wait only
 * if all are empty. Of the two fences one is first in S: either the pusher
 * reads nsleep > 0, or the sleeper's scan sees the new bottom and does not
 * wait. In the first case the pusher takes mu, which the sleeper holds from
 * its increment until pthread_cond_wait releases it atomically, so the signal
 * finds the sleeper waiting (or already gone). A bottom lowered again by a
 * take means the task was taken, which needs no wake-up. The last task's
 * finisher decrements pending, then broadcasts under mu; a sleeper checks
 * pending under mu before waiting, so it sees 0 or gets the broadcast.
 */
static bool work_visible(struct pool *p)
{
	unsigned i;

	if (atomic_load_explicit(&p->ninj, memory_order_relaxed))
		return true;
	for (i = 0; i < p->n; i++) {
		struct pool_worker *v = &p->w[i];

		if (atomic_load_explicit(&v->bottom, memory_order_relaxed) >
		    atomic_load_explicit(&v->top, memory_order_relaxed))
			return true;
	}
	return false;
}

static void idle_sleep(struct pool *p)
{
	lock(p);
	atomic_fetch_add_explicit(&p->nsleep, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (!work_visible(p) &&
	    atomic_load_explicit(&p->pending, memory_order_relaxed))
		wait_on(p, &p->work_cv);
	atomic_fetch_sub_explicit(&p->nsleep, 1, memory_order_relaxed);
	unlock(p);
}

static void wake_one(struct pool *p)
{
	if (p->n == 1)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&p->nsleep, memory_order_relaxed))
		return;
	lock(p);
	wake(p, &p->work_cv, false);
	unlock(p);
}

/* ---- injection list (outside spawns) ---------------------------------- */

static int inj_push(struct pool *p, struct pool_task *t)
{
	struct inj_entry *ni;
	size_t cap;

	lock(p);
	if (p->inj_len == p->inj_cap) {
		cap = p->inj_cap ? 2 * p->inj_cap : INJ_MIN_SIZE;
		ni = cap < SIZE_MAX / sizeof(*ni) ?
		     xrealloc(p->inj, cap * sizeof(*ni)) : NULL;
		if (!ni) {
			unlock(p);
			return -ENOMEM;
		}
		p->inj = ni;
		p->inj_cap = cap;
	}
	p->inj[p->inj_len].t = t;
	p->inj[p->inj_len++].seq = p->inj_seq++;
	atomic_store_explicit(&p->ninj, p->inj_len - p->inj_head,
			      memory_order_relaxed);
	/* counted under mu, so no worker can pop and finish it first */
	atomic_fetch_add_explicit(&p->pending, 1, memory_order_relaxed);
	if (atomic_load_explicit(&p->nsleep, memory_order_relaxed))
		wake(p, &p->work_cv, false);
	unlock(p);
	return 0;
}

static struct pool_task *inj_pop(struct pool *p)
{
	struct pool_task *t = NULL;

	if (!atomic_load_explicit(&p->ninj, memory_order_relaxed))
		return NULL;
	lock(p);
	if (p->inj_head < p->inj_len) {
		t = p->inj[p->inj_head++].t;
		if (p->inj_head == p->inj_len)
			p->inj_head = p->inj_len = 0;
		atomic_store_explicit(&p->ninj, p->inj_len - p->inj_head,
				      memory_order_relaxed);
	}
	unlock(p);
	return t;
}

static int inj_cmp(const void *a, const void *b)
{
	const struct inj_entry *x = a, *y = b;

	if (x->t->prio != y->t->prio)
		return x->t->prio > y->t->prio ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- workers ------------------------------------------------------------ */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static struct pool_task *steal_any(struct pool_worker *w)
{
	struct pool *p = w->pool;
	struct pool_task *t;
	unsigned i, start;

	if (p->n < 2)
		return NULL;
	start = (unsigned)(xorshift(&w->rng) % p->n);
	for (i = 0; i < p->n; i++) {
		struct pool_worker *v = &p->w[(start + i) % p->n];

		if (v != w && (t = dq_steal(v)) != NULL) {
			w->steals++;
			return t;
		}
	}
	return NULL;
}

static void tasks_done(struct pool *p, unsigned long n)
{
	/* release: the pending==0 acquire in run_loop sees every task's writes */
	if (atomic_fetch_sub_explicit(&p->pending, n, memory_order_release) != n)
		return;
	lock(p);
	wake(p, &p->work_cv, true);
	unlock(p);
}

/*
 * A finished task's unit of pending is kept as owner-private credit: the
 * next spawn on this worker reuses it instead of touching the shared
 * counter, and what is left is handed back once the own deque runs dry.
 * pending never drops below the tasks still out, so it cannot hit 0 early.
 */
static void run_task(struct pool_worker *w, struct pool_task *t)
{
	t->fn(w, t);
	w->credit++;
}

static void flush_credit(struct pool_worker *w)
{
	if (w->credit)
		tasks_done(w->pool, w->credit);
	w->credit = 0;
}

static void run_loop(struct pool_worker *w)
{
	struct pool *p = w->pool;
	struct pool_task *t;
	unsigned idle = 0;

	for (;;) {
		while ((t = dq_take(w)) != NULL)
			run_task(w, t);
		flush_credit(w);
		if (!atomic_load_explicit(&p->pending, memory_order_acquire))
			return;
		t = inj_pop(p);
		if (!t)
			t = steal_any(w);
		if (t) {
			run_task(w, t);
			idle = 0;
		} else if (++idle < SPIN_ROUNDS) {
			cpu_relax();
		} else if (idle < SPIN_ROUNDS + YIELD_ROUNDS) {
			sched_yield();
		} else {
			idle_sleep(p);
			idle = 0;
		}
	}
}

/* Leave a run: hand in stats; the last one lets pool_run return. */
static void park(struct pool_worker *w)
{
	struct pool *p = w->pool;

	lock(p);
	p->steals += w->steals;
	w->steals = 0;
	if (--p->active == 0)
		wake(p, &p->done_cv, false);
	unlock(p);
}

static void *worker_main(void *arg)
{
	struct pool_worker *w = arg;
	struct pool *p = w->pool;
	unsigned long seen = 0;

	for (;;) {
		lock(p);
		while (!p->stop && p->epoch == seen)
			wait_on(p, &p->start_cv);
		seen = p->epoch;
		if (p->stop) {
			unlock(p);
			return NULL;
		}
		unlock(p);
		run_loop(w);
		park(w);
	}
}

/* ---- public API ---------------------------------------------------------- */

unsigned pool_default_threads(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

static int sync_init(struct pool *p)
{
	int rc = pthread_mutex_init(&p->mu, NULL);

	if (rc)
		return -rc;
	rc = pthread_cond_init(&p->work_cv, NULL);
	if (rc)
		goto err_mu;
	rc = pthread_cond_init(&p->start_cv, NULL);
	if (rc)
		goto err_work;
	rc = pthread_cond_init(&p->done_cv, NULL);
	if (!rc)
		return 0;
	note(p, pthread_cond_destroy(&p->start_cv));
err_work:
	note(p, pthread_cond_destroy(&p->work_cv));
err_mu:
	note(p, pthread_mutex_destroy(&p->mu));
	return -rc;
}

static void sync_destroy(struct pool *p)
{
	note(p, pthread_cond_destroy(&p->done_cv));
	note(p, pthread_cond_destroy(&p->start_cv));
	note(p, pthread_cond_destroy(&p->work_cv));
	note(p, pthread_mutex_destroy(&p->mu));
}

static int workers_init(struct pool *p)
{
	struct dq_array *a;
	unsigned i;
	int rc = 0;

	if (p->n > MAX_THREADS)
		return -EINVAL;
	p->w = aligned_alloc(CACHELINE, p->n * sizeof(*p->w));
	if (!p->w)
		return -ENOMEM;
	memset(p->w, 0, p->n * sizeof(*p->w));
	for (i = 0; i < p->n; i++) {
		struct pool_worker *w = &p->w[i];

		a = dq_array_new(DQ_MIN_SIZE);
		atomic_init(&w->top, 0);
		atomic_init(&w->bottom, 0);
		atomic_init(&w->array, a);
		w->pool = p;
		w->index = i;
		w->rng = 0x9e3779b97f4a7c15ull * (i + 1);
		if (!a)
			rc = -ENOMEM;
	}
	return rc;
}

int pool_create(struct pool **out, unsigned nthreads)
{
	struct pool *p;
	int rc;

	*out = NULL;
	p = aligned_alloc(CACHELINE, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	atomic_init(&p->pending, 0);
	atomic_init(&p->nsleep, 0);
	atomic_init(&p->ninj, 0);
	atomic_init(&p->err, 0);
	p->n = nthreads ? nthreads : pool_default_threads();
	rc = sync_init(p);
	if (rc) {
		free(p);
		return rc;
	}
	rc = workers_init(p);
	while (!rc && p->nstarted + 1 < p->n) {
		rc = -pthread_create(&p->w[p->nstarted + 1].thread, NULL,
				     worker_main, &p->w[p->nstarted + 1]);
		if (!rc)
			p->nstarted++;
	}
	if (rc) {
		pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void pool_free(struct pool *p)
{
	unsigned i;

	if (!p)
		return;
	if (p->nstarted) {
		lock(p);
		p->stop = true;
		wake(p, &p->start_cv, true);
		unlock(p);
	}
	for (i = 1; i <= p->nstarted; i++)
		note(p, pthread_join(p->w[i].thread, NULL));
	for (i = 0; p->w && i < p->n; i++) {
		dq_reclaim(&p->w[i]);
		free(atomic_load_explicit(&p->w[i].array, memory_order_relaxed));
	}
	free(p->w);
	free(p->inj);
	sync_destroy(p);
	free(p);
}

unsigned pool_nthreads(const struct pool *p)
{
	return p->n;
}

int pool_spawn(struct pool *p, struct pool_worker *w, struct pool_task *t)
{
	if (!w)
		return inj_push(p, t);
	/*
	 * Count before publishing: once pushed, a thief may run and finish
	 * the task. Relaxed is enough: the release push orders the increment
	 * before the thief's decrement. On failure the unit becomes credit.
	 */
	if (w->credit)
		w->credit--;
	else
		atomic_fetch_add_explicit(&p->pending, 1, memory_order_relaxed);
	if (dq_push(w, t)) {
		w->credit++;
		return -ENOMEM;
	}
	wake_one(p);
	return 0;
}

int pool_run(struct pool *p)
{
	unsigned i;

	if (!atomic_load_explicit(&p->pending, memory_order_acquire)) {
		p->steals = 0;
		return -atomic_exchange(&p->err, 0);
	}
	lock(p);
	if (p->inj_len > p->inj_head)
		qsort(p->inj + p->inj_head, p->inj_len - p->inj_head,
		      sizeof(*p->inj), inj_cmp);
	p->steals = 0;
	p->active = p->n;
	p->epoch++;
	wake(p, &p->start_cv, true);
	unlock(p);

	run_loop(&p->w[0]);
	park(&p->w[0]);

	lock(p);
	while (p->active)
		wait_on(p, &p->done_cv);
	unlock(p);
	for (i = 0; i < p->n; i++)	/* everyone is parked: no thief left */
		dq_reclaim(&p->w[i]);
	return -atomic_exchange(&p->err, 0);
}

unsigned pool_worker_index(const struct pool_worker *w)
{
	return w->index;
}

struct pool *pool_of(const struct pool_worker *w)
{
	return w->pool;
}

unsigned long pool_steals(const struct pool *p)
{
	return p->steals;
}
