/* SPDX-License-Identifier: MIT */
/*
 * install_open - the prepare phase of an install (install_int.h): every
 * wheel of the plan opened in plan order; while the cold ones are still
 * unpacked (wheelfetch.c), those already published are opened out of turn
 * and, where it cannot change the outcome, laid out in plan order, so that
 * little is left to plan when the unpack ends. Whatever happens out of
 * turn is kept only when it succeeded silently, and a kept failure is
 * reported in its turn, so messages, the wheel blamed and the report are
 * those of a run that did everything in order (t_coldorder).
 */
#include "engine/install_int.h"
#include "engine/wheelcache.h"
#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

/* The prepare phase: wheels opened, checked and laid out of all, from
 * the start of the run until the first link, at most ten calls a second
 * (final: the phase's last call, at its totals). Made from the thread of
 * the run only, and not while the unpack reports (never two at once). */
#define PREPARE_NS 100000000

void prepare_progress(struct run *r, const char *current, int final)
{
	struct spoke_progress pr = { 0 };
	long long now;

	if (!r->ctx->progress_fn || r->fetching || !r->p->nwheels)
		return;
	now = ctx_now_ns();
	if (!final && now < r->prep_next)
		return;
	r->prep_next = now + PREPARE_NS;
	pr.phase = SPOKE_PHASE_PREPARE;
	pr.wheels_total = r->p->nwheels;
	pr.wheels_done = final ? pr.wheels_total : r->prep_done;
	pr.current = current;
	r->ctx->progress_fn(r->ctx->progress_user, &pr);
}

int check_cancel(struct run *r)
{
	return ctx_canceled(r->ctx) ? ctx_fail(r->ctx, SPOKE_E_CANCELED, 0,
					       NULL, "canceled") : 0;
}

/* Open wheel i of the plan (a cold .whl waits here for its own unpack)
 * and check its name against the wheels before it. */
static int open_one(struct run *r, size_t i)
{
	char *dir;
	int err = 0;

	r->cur = (long)i;
	if (r->pre && r->pre[i] == 1) {
		r->n = i + 1; /* opened already by pre_open() */
	} else {
		err = plan_source_dir(r->ctx, &r->p->wheels[i], &dir,
				      &r->wp[i].cached);
		if (err)
			return err;
		r->n = i + 1;
		err = wheel_open(r->ctx, dir, r->p->wheels[i].path,
				 &r->wp[i].w);
		free(dir);
	}
	for (size_t j = 0; j < i && !err; j++)
		if (!strcmp(r->wp[j].w.norm, r->wp[i].w.norm))
			err = ctx_fail(r->ctx, SPOKE_E_CONFLICT, 0,
				       r->wp[i].w.label, "wheels '%s' "
				       "and '%s' are both %s",
				       r->wp[j].w.label,
				       r->wp[i].w.label,
				       r->wp[i].w.name);
	if (!err)
		prepare_progress(r, r->wp[i].w.label, 0);
	return err;
}

/* The log of a pre_open(): anything said makes it open the wheel again
 * in its turn, which then says it, once and in order. */
static void pre_log(void *user, int level, const char *msg)
{
	struct run *r = user;

	(void)level;
	(void)msg;
	r->pre_warned = 1;
}

/* Open wheel k, which the unpack has published, before its turn, and
 * read its manifest: what the unpack's tail leaves a core for. Only a
 * clean success is kept; anything else is forgotten and met again in
 * plan order by open_one(), so errors, and which one the run reports,
 * stay as they were. */
static void pre_open(struct run *r, size_t k)
{
	struct wplan *wp = &r->wp[k];
	spoke_ctx *c = ctx_private(r->ctx);
	char *dir = NULL, msg[PATH_MAX + 256];

	r->pre[k] = 2;
	if (!c)
		return;
	c->cache_dir = r->ctx->cache_dir; /* borrowed, as the fetch is */
	c->fetch = r->ctx->fetch;
	c->log_fn = pre_log;
	c->log_user = r;
	r->pre_warned = 0;
	if (!plan_source_dir(c, &r->p->wheels[k], &dir, &wp->cached) &&
	    !wheel_open(c, dir, r->p->wheels[k].path, &wp->w) &&
	    !r->pre_warned) {
		r->pre[k] = 1;
		(void)plan_wheel_source(wp, msg, sizeof(msg));
	} else {
		wplan_free(wp);
	}
	free(dir);
	c->fetch = NULL;
	c->cache_dir = NULL;
	spoke_ctx_free(c);
}

/* pre_open() one published wheel after wheel i-1; 0 when there is none. */
static int pre_open_one(struct run *r, size_t from)
{
	int pub;

	for (size_t k = from; k < r->p->nwheels; k++)
		if (!r->pre[k] &&
		    wheelfetch_settled(r->ctx, r->p->wheels[k].path, &pub) &&
		    pub) {
			pre_open(r, k);
			return 1;
		}
	return 0;
}

/* Whether any distribution is installed where decide() looks (a
 * *.dist-info in purelib or platlib); 1 when that cannot be read. */
static int has_dists(const char *site)
{
	struct dirent *e;
	size_t n;
	DIR *d;
	int any = 0;

	if (!site)
		return 0;
	if (!(d = opendir(site)))
		return errno != ENOENT;
	while (!any && (e = readdir(d)))
		any = (n = strlen(e->d_name)) >= 10 &&
		      !strcmp(e->d_name + n - 10, ".dist-info");
	closedir(d);
	return any;
}

/* Lay out wheels the unpack has already delivered while it still runs,
 * on this thread, so planning costs little after the last unpack. Only
 * where it cannot change the outcome (ahead_ok): into a locked
 * environment with no distribution installed, from a plan without
 * removals, decide() can only say "install" and removes nothing, so a
 * layout made now is the one made in its turn. A failure waits in
 * r->ahead and is reported in its turn, after every open, check and
 * decision, as before. */
static int ahead_ok(struct run *r)
{
	if (r->p->dry_run || r->p->nremoves || !wheelfetch_busy(r->ctx) ||
	    has_dists(r->s.path[SPOKE_SCHEME_PURELIB]) ||
	    has_dists(r->s.path[SPOKE_SCHEME_PLATLIB]) ||
	    !(r->ahead = ctx_private(r->ctx)))
		return 0;
	return 1;
}

static void layout_ahead(struct run *r)
{
	while (r->ahead && !r->ahead_failed && r->laid < r->n &&
	       !ctx_canceled(r->ctx) && wheelfetch_busy(r->ctx)) {
		if (plan_layout(r->ahead, r->p, &r->s, r->wp, r->laid,
				&r->dests, &r->removing))
			r->ahead_failed = 1;
		else
			r->prep_done = ++r->laid;
	}
}

static size_t count_pre(const struct run *r)
{
	size_t n = 0;

	for (size_t k = 0; r->pre && k < r->p->nwheels; k++)
		n += r->pre[k] == 1;
	return n;
}

/* Every wheel opened, in plan order; wheels already unpacked are laid
 * out meanwhile (layout_ahead). The unpack is over when this returns. */
int open_wheels(struct run *r)
{
	int err = 0;

	r->wp = xcalloc(r->p->nwheels, sizeof(*r->wp));
	if (!r->wp)
		return nomem(r->ctx);
	if (r->fetching) {
		ahead_ok(r);
		r->pre = xcalloc(r->p->nwheels, 1);
	}
	for (size_t i = 0; i < r->p->nwheels && !err; i++) {
		unsigned long seen = 0;
		int pub;

		err = check_cancel(r);
		/* Until wheel i is published, open those that are. */
		while (!err && r->pre && !wheelfetch_settled(r->ctx,
					r->p->wheels[i].path, &pub)) {
			if (!pre_open_one(r, i + 1))
				wheelfetch_wait(r->ctx, &seen);
			err = check_cancel(r);
		}
		if (!err)
			err = open_one(r, i);
		if (!err)
			layout_ahead(r);
	}
	wheelfetch_finish(r->ctx);
	if (r->fetching)
		ctx_log(r->ctx, SPOKE_LOG_DEBUG, "while unpacking: %zu of %zu "
			"wheels laid out, %zu opened out of turn", r->laid,
			r->p->nwheels, count_pre(r));
	r->fetching = 0;
	/* Opened ahead of a failure: not opened, as far as the report
	 * goes (it lists the wheels the run reached). */
	for (size_t k = r->n; err && r->pre && k < r->p->nwheels; k++)
		if (r->pre[k] == 1)
			wplan_free(&r->wp[k]);
	return err;
}

/* Lay out the wheels layout_ahead() did not, in order; a failure it
 * kept is reported in its turn, as if made now. Wheels after the failing
 * one were not laid out in that order: their report says so. */
int layout_rest(struct run *r)
{
	int err = 0;

	for (size_t i = 0; i < r->n && (r->laid || r->ahead_failed); i++)
		if (r->wp[i].nold || r->wp[i].skip)
			return ctx_fail(r->ctx, SPOKE_E_CONFLICT, 0, NULL,
					"the environment changed while it "
					"was locked: '%s' is installed now",
					r->wp[i].w.name);
	if (r->ahead_failed) {
		r->cur = (long)r->laid;
		ctx_copy_error(r->ctx, r->ahead);
		return spoke_ctx_error_code(r->ctx);
	}
	/* The rest on a pool, claims in plan order (layout_run.c). */
	err = check_cancel(r);
	if (!err)
		err = plan_layout_all(r->ctx, r->p, &r->s, r->wp, r->laid,
				      r->n, &r->dests, &r->removing, &r->cur);
	if (!err) {
		r->laid = r->prep_done = r->n;
		prepare_progress(r, NULL, 0);
	}
	return err;
}
