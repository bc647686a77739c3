/* SPDX-License-Identifier: MIT */
/* report - filling a report during a run (see report.h); the public
 * getters, spoke_report_free and the JSON form are engine/api_report.c. */
#include "engine/report.h"
#include "engine/ctx.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct spoke_report *report_create(void)
{
	struct spoke_report *r = xcalloc(1, sizeof(*r));

	if (r && pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		r = NULL;
	}
	if (r)
		r->error_wheel = -1;
	return r;
}

int report_add_fallback(struct spoke_report *r, const char *from,
			const char *to, int err, const char *path)
{
	struct report_fallback *f;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	f = xrealloc(r->fallbacks, (r->nfallbacks + 1) * sizeof(*f));
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	r->fallbacks = f;
	f += r->nfallbacks;
	f->from = from;
	f->to = to;
	f->err = err < 0 ? -err : err;
	f->path = xstrdup(path ? path : "");
	if (!f->path) {
		ret = -ENOMEM;
		goto out;
	}
	r->nfallbacks++;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int report_add_dist(struct spoke_report *r, const char *name,
		    const char *version, const char *action)
{
	struct report_dist *d;

	d = xrealloc(r->dists, (r->ndists + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	r->dists = d;
	d += r->ndists;
	d->name = xstrdup(name ? name : "");
	d->version = xstrdup(version ? version : "");
	d->action = action;
	d->files = d->bytes = 0;
	d->index = -1;
	d->wheel = d->dist_info = d->previous = NULL;
	d->act = d->planned = SPOKE_ACTION_NONE;
	d->error = 0;
	if (!d->name || !d->version) {
		free(d->name);
		free(d->version);
		return -ENOMEM;
	}
	r->ndists++;
	return 0;
}

int report_dist_detail(struct spoke_report *r, int index, const char *wheel,
		       const char *dist_info, const char *previous,
		       enum spoke_action act, enum spoke_action planned,
		       int error)
{
	struct report_dist *d;

	if (!r->ndists)
		return 0;
	d = &r->dists[r->ndists - 1];
	d->index = index;
	d->act = act;
	d->planned = planned;
	d->error = error;
	d->wheel = xstrdup(wheel ? wheel : "");
	d->dist_info = xstrdup(dist_info ? dist_info : "");
	d->previous = xstrdup(previous ? previous : "");
	return d->wheel && d->dist_info && d->previous ? 0 : -ENOMEM;
}

void report_dist_counts(struct spoke_report *r, uint64_t files, uint64_t bytes)
{
	if (r->ndists) {
		r->dists[r->ndists - 1].files = files;
		r->dists[r->ndists - 1].bytes = bytes;
	}
}

void report_set_phases(struct spoke_report *r, spoke_ctx *ctx,
		       const long long ns[4])
{
	for (int i = 0; i < 4; i++)
		r->phase_s[i] = ns[i] > 0 ? (double)ns[i] / 1e9 : 0.0;
	r->has_phases = 1;
	ctx_log(ctx, SPOKE_LOG_INFO, "phases: lookup %.3f s, plan %.3f s, "
		"link %.3f s, finalize %.3f s", r->phase_s[REPORT_LOOKUP],
		r->phase_s[REPORT_PLAN], r->phase_s[REPORT_LINK],
		r->phase_s[REPORT_FINALIZE]);
}

void report_set_status(struct spoke_report *r, int status, const spoke_ctx *ctx)
{
	status = ctx_code(status);
	r->status = status;
	if (status == 0 || !ctx)
		return;
	free(r->error);
	free(r->error_path);
	r->error = xstrdup(spoke_ctx_error_message(ctx));
	r->error_path = xstrdup(spoke_ctx_error_path(ctx));
	r->error_errno = spoke_ctx_error_errno(ctx);
	r->error_wheel = spoke_ctx_error_wheel(ctx);
}
