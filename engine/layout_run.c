/* SPDX-License-Identifier: MIT */
/*
 * layout_run - how plan_layout() runs (plan.h): one wheel's layout on a
 * private context, its claims entered in the run's map of destinations in
 * plan order, and every wheel of a run at once on a pool. The layouts are
 * independent of each other (each reads its own manifest and RECORD, and
 * the environment, which nothing changes before the plan is complete), so
 * they run in any order on any thread; only their claims meet. A wheel's
 * claims are entered as soon as it and every wheel before it are laid
 * out, by whichever worker finishes last, so the first collision found is
 * the one a serial run finds, named with the same pair of wheels whatever
 * the timing, and a layout's own failure is reported only when no
 * collision came before it.
 */
#include "engine/layout.h"
#include "engine/scripts.h"
#include "base/alloc.h"
#include "base/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void plan_layout_wheel(spoke_ctx *ctx, const struct spoke_plan *p,
		       struct scheme *s, struct wplan *wp, size_t i,
		       const struct strmap *removing, atomic_int *stop)
{
	spoke_ctx *pc = ctx_private(ctx);
	char msg[PATH_MAX + 256];
	struct walker *wk;
	int err;

	if (!pc) {
		wp[i].lfail = SPOKE_E_NOMEM;
		goto out;
	}
	err = plan_wheel_source(&wp[i], msg, sizeof(msg));
	if (err) {
		err = ctx_fail(pc, err == -ENOMEM ? SPOKE_E_NOMEM : err,
			       err < 0 ? -err : 0, wp[i].w.dir, "wheel '%s': %s",
			       wp[i].w.label, msg);
	} else if (!(wk = xcalloc(1, sizeof(*wk)))) {
		err = layout_nomem(pc);
	} else {
		wk->mf = wp[i].src;
		wk->ctx = pc;
		wk->run = ctx;
		wk->stop = stop;
		wk->p = p;
		wk->s = s;
		wk->all = wp;
		wk->wp = &wp[i];
		wk->index = (int)i;
		wk->removing = removing;
		wk->seen = xcalloc(wp[i].w.rec.n + 1, 1);
		err = wk->seen ? layout_walk(wk) : layout_nomem(pc);
		scripts_free_eps(wk->launchers, wk->nlaunchers);
		free(wk->seen);
		free(wk);
	}
	/* The RECORD as the text to write, here on the layout's thread: 60%
	 * of the memory of its rows, which the run would otherwise hold
	 * until every wheel is laid out. Not when bytecode adds rows later
	 * (bytecode_finish), nor for a dry run (nothing is written). */
	if (!err && !p->dry_run && !p->compile_bytecode) {
		if (record_format(&wp[i].out, &wp[i].record_text,
				  &wp[i].record_len))
			err = layout_nomem(pc);
		record_free(&wp[i].out);
	}
	if (err) {
		wp[i].lfail = err;
		wp[i].lerr = pc;
		pc = NULL;
	}
out:
	spoke_ctx_free(pc);
	/* Laid out: the names are in the claims and the roots now, the rows
	 * in wp->out; the wheel's RECORD is not needed again. */
	record_index_free(&wp[i].w.idx);
	record_free(&wp[i].w.rec);
	/* bytecode_prepare() lists the sources to compile from it. */
	if (p->compile_bytecode && !p->dry_run && !wp[i].lfail)
		return;
	if (wp[i].src)
		manifest_free(wp[i].src);
	free(wp[i].src);
	wp[i].src = NULL;
}

int plan_layout_claim(spoke_ctx *ctx, const struct spoke_plan *p,
		      struct scheme *s, struct wplan *wp, size_t i,
		      struct strmap *dests)
{
	struct walker *wk = xcalloc(1, sizeof(*wk));
	int err;

	if (!wk) {
		err = layout_nomem(ctx);
	} else {
		wk->ctx = wk->run = ctx;
		wk->p = p;
		wk->s = s;
		wk->all = wp;
		wk->wp = &wp[i];
		wk->index = (int)i;
		wk->dests = dests;
		err = layout_claims_each(wk, layout_claim_merge);
		free(wk);
	}
	/* The map's keys point into the claims now (those it did not take,
	 * a directory claimed again, go with them). */
	strmap_adopt(dests, &wp[i].claims);
	if (!err && wp[i].lfail) {
		err = wp[i].lfail;
		if (wp[i].lerr)
			ctx_copy_error(ctx, wp[i].lerr);
		else
			err = layout_nomem(ctx);
	}
	layout_claims_free(&wp[i]);
	spoke_ctx_free(wp[i].lerr);
	wp[i].lerr = NULL;
	wp[i].lfail = 0;
	return err;
}

int plan_layout(spoke_ctx *ctx, const struct spoke_plan *p, struct scheme *s,
		struct wplan *wp, size_t i, struct strmap *dests,
		const struct strmap *removing)
{
	plan_layout_wheel(ctx, p, s, wp, i, removing, NULL);
	return plan_layout_claim(ctx, p, s, wp, i, dests);
}

/* ---- every wheel on a pool ------------------------------------------- */

struct lay_run {
	spoke_ctx *ctx;
	const struct spoke_plan *p;
	struct scheme *s;
	struct wplan *wp;
	size_t n;
	struct strmap *dests;
	const struct strmap *removing;
	atomic_int stop;       /* a claim failed: the layouts still running
				* give up (their work is not needed) */
	pthread_mutex_t mu;    /* done, next, merging, err, failed */
	unsigned char *done;   /* wheel i is laid out (or skipped) */
	size_t next;           /* the next wheel whose claims go in */
	int merging;           /* a worker is entering claims */
	int err;
	long failed;
};

struct lay_task {
	struct pool_task t;
	struct lay_run *run;
	size_t i;
};

/* Enter the claims of every wheel that is ready, in plan order; called
 * and returns with mu held. One worker at a time does it, the lock
 * released meanwhile, so a worker finishing a layout only marks it done
 * and the merging worker picks it up. */
static void merge_ready(struct lay_run *r)
{
	if (r->merging)
		return;
	r->merging = 1;
	while (!r->err && r->next < r->n && r->done[r->next]) {
		size_t k = r->next;
		int err = 0;

		pthread_mutex_unlock(&r->mu);
		if (!r->wp[k].skip)
			err = plan_layout_claim(r->ctx, r->p, r->s, r->wp, k,
						r->dests);
		pthread_mutex_lock(&r->mu);
		r->next++;
		if (err) {
			r->err = err;
			r->failed = (long)k;
			atomic_store(&r->stop, 1);
		}
	}
	r->merging = 0;
}

static void lay_task_run(struct pool_worker *w, struct pool_task *t)
{
	struct lay_task *lt = (struct lay_task *)t;
	struct lay_run *r = lt->run;

	(void)w;
	if (!atomic_load(&r->stop))
		plan_layout_wheel(r->ctx, r->p, r->s, r->wp, lt->i, r->removing,
				  &r->stop);
	pthread_mutex_lock(&r->mu);
	r->done[lt->i] = 1;
	merge_ready(r);
	pthread_mutex_unlock(&r->mu);
}

static int layout_serial(spoke_ctx *ctx, const struct spoke_plan *p,
			 struct scheme *s, struct wplan *wp, size_t from,
			 size_t n, struct strmap *dests,
			 const struct strmap *removing, long *failed)
{
	for (size_t i = from; i < n; i++) {
		int err = wp[i].skip ? 0 : plan_layout(ctx, p, s, wp, i, dests,
							removing);

		if (err) {
			*failed = (long)i;
			return err;
		}
	}
	return 0;
}

int plan_layout_all(spoke_ctx *ctx, const struct spoke_plan *p,
		    struct scheme *s, struct wplan *wp, size_t from, size_t n,
		    struct strmap *dests, const struct strmap *removing,
		    long *failed)
{
	struct lay_run r;
	struct lay_task *tasks;
	struct pool *pool = NULL;
	size_t todo = 0, rows = 0;
	int err;

	*failed = -1;
	for (size_t i = from; i < n; i++) {
		todo += !wp[i].skip;
		rows += wp[i].skip ? 0 : wp[i].w.rec.n + 8;
	}
	/* The map at its final size at once (RECORD rows and a quarter more
	 * for the directories): growing it would rehash every key and fault
	 * in the slot arrays it outgrows. Without the memory it grows. */
	(void)strmap_reserve(dests, rows + rows / 4);
	if (todo < 2 || ctx->jobs == 1)
		return layout_serial(ctx, p, s, wp, from, n, dests, removing,
				    failed);
	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.p = p;
	r.s = s;
	r.wp = wp;
	r.n = n;
	r.dests = dests;
	r.removing = removing;
	r.failed = -1;
	r.next = from;
	atomic_init(&r.stop, 0);
	tasks = xcalloc(n, sizeof(*tasks));
	r.done = xcalloc(n, 1);
	/* No pool (no memory, no thread): the same result, serially. */
	if (!tasks || !r.done || pool_create(&pool, ctx->jobs) ||
	    pthread_mutex_init(&r.mu, NULL)) {
		pool_free(pool);
		free(tasks);
		free(r.done);
		return layout_serial(ctx, p, s, wp, from, n, dests, removing,
				    failed);
	}
	err = 0;
	for (size_t i = from; i < n && !err; i++) {
		tasks[i].t.fn = lay_task_run;
		/* The biggest first: one large wheel is the longest task. */
		tasks[i].t.prio = wp[i].w.rec.n > INT32_MAX ? INT32_MAX :
				  (int)wp[i].w.rec.n;
		tasks[i].run = &r;
		tasks[i].i = i;
		if (wp[i].skip)
			r.done[i] = 1;
		else
			err = pool_spawn(pool, NULL, &tasks[i].t);
	}
	if (err) {
		/* Nothing ran yet: stop every layout spawned, and lay out
		 * serially instead once the pool has drained. */
		atomic_store(&r.stop, 1);
		(void)pool_run(pool);
		r.err = 0;
	} else {
		(void)pool_run(pool); /* a pthread failure still completes */
		pthread_mutex_lock(&r.mu);
		merge_ready(&r); /* every wheel skipped before the first's turn */
		pthread_mutex_unlock(&r.mu);
	}
	pool_free(pool);
	pthread_mutex_destroy(&r.mu);
	free(tasks);
	free(r.done);
	/* After a failure: what the wheels past it laid out is not used. */
	for (size_t i = from; i < n; i++) {
		layout_claims_free(&wp[i]);
		spoke_ctx_free(wp[i].lerr);
		wp[i].lerr = NULL;
		wp[i].lfail = 0;
	}
	if (err)
		return layout_serial(ctx, p, s, wp, from, n, dests, removing,
				    failed);
	/* A serial run stops at the failing wheel: those after it, laid out
	 * here meanwhile or not, are reported as never laid out, whatever
	 * the timing. */
	for (size_t i = r.err ? (size_t)r.failed + 1 : n; i < n; i++)
		wp[i].lib = NULL;
	*failed = r.err ? r.failed : -1;
	return r.err;
}
