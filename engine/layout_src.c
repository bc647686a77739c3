/* SPDX-License-Identifier: MIT */
/*
 * layout_src - the manifests plan_layout() walks (plan.h): a cache entry's
 * kept manifest (cache/manifest.h: checked against the entry, rebuilt by a
 * walk when missing, damaged or stale), or for an unpacked tree given on
 * the command line one built by a walk. plan_load_sources() reads those of
 * a whole run on a pool first: checking a kept manifest is one fstatat per
 * directory of the entry, and a large wheel's should not wait for the
 * small ones'.
 */
#include "engine/layout.h"
#include "base/alloc.h"
#include "base/errmsg.h"
#include "base/pool.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

int plan_wheel_source(struct wplan *wp, char *err, size_t errlen)
{
	struct manifest *m;
	int ret;

	if (wp->src)
		return 0;
	if (!(m = xcalloc(1, sizeof(*m))))
		return errmsg_fail(SPOKE_E_NOMEM, err, errlen, "out of memory");
	ret = wp->cached ? manifest_for_entry(wp->w.dir, m, NULL, err, errlen) :
			   manifest_build_at(wp->w.dir, m, err, errlen);
	if (ret) {
		free(m);
		return ret;
	}
	wp->src = m;
	return 0;
}

struct src_task {
	struct pool_task t;
	struct wplan *wp;
};

static void src_run(struct pool_worker *w, struct pool_task *t)
{
	struct src_task *st = (struct src_task *)t;
	char msg[PATH_MAX + 256];

	(void)w;
	/* A failure is left for plan_layout() to meet again and report in
	 * wheel order, so the run's first error is what it was. */
	(void)plan_wheel_source(st->wp, msg, sizeof(msg));
}

int plan_load_sources(spoke_ctx *ctx, struct wplan *wp, size_t n)
{
	struct src_task *tasks;
	struct pool *pool = NULL;
	size_t todo = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		todo += !wp[i].skip && !wp[i].src;
	if (todo < 2 || ctx->jobs == 1)
		return 0; /* plan_layout() loads it */
	tasks = xcalloc(n, sizeof(*tasks));
	if (!tasks)
		return layout_nomem(ctx);
	err = pool_create(&pool, ctx->jobs);
	for (size_t i = 0; i < n && !err; i++) {
		if (wp[i].skip || wp[i].src)
			continue;
		tasks[i].t.fn = src_run;
		/* The biggest first: one large wheel is the longest task. */
		tasks[i].t.prio = wp[i].w.rec.n > INT32_MAX ? INT32_MAX :
				  (int)wp[i].w.rec.n;
		tasks[i].wp = &wp[i];
		err = pool_spawn(pool, NULL, &tasks[i].t);
	}
	if (!err)
		err = pool_run(pool);
	pool_free(pool);
	free(tasks);
	/* A pool that could not start only costs the parallelism. */
	(void)err;
	return 0;
}
