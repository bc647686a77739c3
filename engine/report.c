/* SPDX-License-Identifier: MIT */
/* report - see report.h. JSON is built with cJSON (a well-kept library,
 * so escaping of odd file names is somebody's tested code, not ours). */
#include "engine/report.h"
#include "base/alloc.h"
#include "base/errname.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const counter_keys[SPOKE_COUNT__MAX] = {
	[SPOKE_COUNT_FILES] = "files",
	[SPOKE_COUNT_DIRS] = "dirs",
	[SPOKE_COUNT_BYTES] = "bytes",
	[SPOKE_COUNT_CLONED] = "cloned",
	[SPOKE_COUNT_HARDLINKED] = "hardlinked",
	[SPOKE_COUNT_COPIED] = "copied",
	[SPOKE_COUNT_SYMLINKED] = "symlinked",
	[SPOKE_COUNT_REPLACED] = "replaced",
	[SPOKE_COUNT_FAILED_ATTEMPTS] = "failed_attempts",
	[SPOKE_COUNT_REMOVED] = "removed",
	[SPOKE_COUNT_WRITTEN] = "written",
};

struct spoke_report *report_create(void)
{
	struct spoke_report *r = xcalloc(1, sizeof(*r));

	if (r && pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		r = NULL;
	}
	return r;
}

void spoke_report_free(spoke_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfallbacks; i++)
		free(r->fallbacks[i].path);
	for (size_t i = 0; i < r->ndists; i++) {
		free(r->dists[i].name);
		free(r->dists[i].version);
	}
	free(r->fallbacks);
	free(r->dists);
	free(r->error);
	free(r->error_path);
	pthread_mutex_destroy(&r->lock);
	free(r);
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
	if (!d->name || !d->version) {
		free(d->name);
		free(d->version);
		return -ENOMEM;
	}
	r->ndists++;
	return 0;
}

void report_dist_counts(struct spoke_report *r, uint64_t files, uint64_t bytes)
{
	if (r->ndists) {
		r->dists[r->ndists - 1].files = files;
		r->dists[r->ndists - 1].bytes = bytes;
	}
}

int spoke_report_dist_counts(const spoke_report *r, size_t i, uint64_t *files,
			     uint64_t *bytes)
{
	if (!r || i >= r->ndists)
		return SPOKE_E_USAGE;
	if (files)
		*files = r->dists[i].files;
	if (bytes)
		*bytes = r->dists[i].bytes;
	return 0;
}

void report_set_status(struct spoke_report *r, int status, const spoke_ctx *ctx)
{
	r->status = status;
	if (status == 0 || !ctx)
		return;
	free(r->error);
	free(r->error_path);
	r->error = xstrdup(spoke_ctx_error_message(ctx));
	r->error_path = xstrdup(spoke_ctx_error_path(ctx));
	r->error_errno = spoke_ctx_error_errno(ctx);
}

uint64_t spoke_report_counter(const spoke_report *r, enum spoke_counter c)
{
	return r && (unsigned)c < SPOKE_COUNT__MAX ? r->count[c] : 0;
}

size_t spoke_report_fallback_count(const spoke_report *r)
{
	return r ? r->nfallbacks : 0;
}

int spoke_report_fallback(const spoke_report *r, size_t i, const char **from,
			  const char **to, int *err, const char **path)
{
	if (!r || i >= r->nfallbacks)
		return SPOKE_E_USAGE;
	if (from)
		*from = r->fallbacks[i].from;
	if (to)
		*to = r->fallbacks[i].to;
	if (err)
		*err = r->fallbacks[i].err;
	if (path)
		*path = r->fallbacks[i].path;
	return 0;
}

size_t spoke_report_dist_count(const spoke_report *r)
{
	return r ? r->ndists : 0;
}

int spoke_report_dist(const spoke_report *r, size_t i, const char **name,
		      const char **version, const char **action)
{
	if (!r || i >= r->ndists)
		return SPOKE_E_USAGE;
	if (name)
		*name = r->dists[i].name;
	if (version)
		*version = r->dists[i].version;
	if (action)
		*action = r->dists[i].action;
	return 0;
}

static int add_fallbacks(cJSON *root, const spoke_report *r)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "fallbacks");
	char buf[16];

	if (!arr)
		return -1;
	for (size_t i = 0; i < r->nfallbacks; i++) {
		const struct report_fallback *f = &r->fallbacks[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o))
			return -1;
		if (!cJSON_AddStringToObject(o, "from", f->from) ||
		    !cJSON_AddStringToObject(o, "to", f->to) ||
		    !cJSON_AddStringToObject(o, "errno", errname(f->err, buf)) ||
		    !cJSON_AddStringToObject(o, "path", f->path))
			return -1;
	}
	return 0;
}

static int add_dists(cJSON *root, const spoke_report *r)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "distributions");

	if (!arr)
		return -1;
	for (size_t i = 0; i < r->ndists; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o))
			return -1;
		if (!cJSON_AddStringToObject(o, "name", r->dists[i].name) ||
		    !cJSON_AddStringToObject(o, "version", r->dists[i].version) ||
		    !cJSON_AddStringToObject(o, "action", r->dists[i].action) ||
		    !cJSON_AddNumberToObject(o, "files",
					     (double)r->dists[i].files) ||
		    !cJSON_AddNumberToObject(o, "bytes",
					     (double)r->dists[i].bytes))
			return -1;
	}
	return 0;
}

char *spoke_report_json(const spoke_report *r)
{
	cJSON *root = cJSON_CreateObject();
	char buf[16], *out = NULL;

	if (!root || !r)
		goto out;
	if (!cJSON_AddBoolToObject(root, "ok", r->status == 0))
		goto out;
	for (int i = 0; i < SPOKE_COUNT__MAX; i++)
		if (!cJSON_AddNumberToObject(root, counter_keys[i],
					     (double)r->count[i]))
			goto out;
	if (add_fallbacks(root, r) || add_dists(root, r))
		goto out;
	if (r->status) {
		cJSON *e = cJSON_AddObjectToObject(root, "error");

		if (!e ||
		    !cJSON_AddNumberToObject(e, "code", r->status) ||
		    !cJSON_AddStringToObject(e, "message",
					     r->error ? r->error : "") ||
		    !cJSON_AddStringToObject(e, "path",
					     r->error_path ? r->error_path : "") ||
		    !cJSON_AddStringToObject(e, "errno",
					     r->error_errno ?
					     errname(r->error_errno, buf) : ""))
			goto out;
	}
	out = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return out;
}
