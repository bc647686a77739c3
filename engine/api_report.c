/* SPDX-License-Identifier: MIT */
/*
 * api_report - the public side of spoke_report (spoke.h "reports"): the
 * getters (the per-wheel results too), spoke_report_free,
 * spoke_report_json and spoke_free (for the string it returns). JSON is built with
 * cJSON (a well-kept library, so escaping of odd file names is somebody's
 * tested code, not ours). Filling a report is engine/report.c.
 */
#include "engine/report.h"
#include "base/errname.h"

#include <cjson/cJSON.h>
#include <stddef.h>
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
	[SPOKE_COUNT_PYC_COMPILED] = "pyc_compiled",
	[SPOKE_COUNT_PYC_CACHED] = "pyc_cached",
	[SPOKE_COUNT_PYC_FAILED] = "pyc_failed",
};

void spoke_report_free(spoke_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfallbacks; i++)
		free(r->fallbacks[i].path);
	for (size_t i = 0; i < r->ndists; i++) {
		free(r->dists[i].name);
		free(r->dists[i].version);
		free(r->dists[i].wheel);
		free(r->dists[i].dist_info);
		free(r->dists[i].previous);
	}
	free(r->fallbacks);
	free(r->dists);
	free(r->error);
	free(r->error_path);
	pthread_mutex_destroy(&r->lock);
	free(r);
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

static const char *const action_names[] = {
	[SPOKE_ACTION_NONE] = "none",
	[SPOKE_ACTION_INSTALLED] = "installed",
	[SPOKE_ACTION_UPGRADED] = "upgraded",
	[SPOKE_ACTION_DOWNGRADED] = "downgraded",
	[SPOKE_ACTION_REINSTALLED] = "reinstalled",
	[SPOKE_ACTION_UNCHANGED] = "unchanged",
	[SPOKE_ACTION_REMOVED] = "removed",
};

const char *spoke_action_name(enum spoke_action a)
{
	return (unsigned)a < sizeof(action_names) / sizeof(*action_names) ?
	       action_names[a] : "unknown";
}

size_t spoke_report_wheel_count(const spoke_report *r)
{
	return r ? r->ndists : 0;
}

/* The size of the first spoke_wheel_result, the least a caller may pass. */
#define WHEEL_RESULT_V1 (offsetof(struct spoke_wheel_result, error) + \
			 sizeof(int))

/* Filled in full here, then copied as far as the caller's struct goes: a
 * host built against an older, shorter struct gets the members it knows. */
int spoke_report_wheel(const spoke_report *r, size_t i,
		       struct spoke_wheel_result *out)
{
	struct spoke_wheel_result res;
	const struct report_dist *d;
	size_t size;

	if (!r || !out || i >= r->ndists || out->size < WHEEL_RESULT_V1)
		return SPOKE_E_USAGE;
	d = &r->dists[i];
	size = out->size < sizeof(res) ? out->size : sizeof(res);
	memset(&res, 0, sizeof(res));
	res.size = size;
	res.index = d->index;
	res.wheel = d->wheel ? d->wheel : "";
	res.dist_info = d->dist_info ? d->dist_info : "";
	res.name = d->name;
	res.version = d->version;
	res.previous_version = d->previous ? d->previous : "";
	res.action = d->act;
	res.planned = d->planned;
	res.error = d->error;
	memcpy(out, &res, size);
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

/* The per-wheel result, under the same names as spoke_wheel_result. */
static int add_result(cJSON *o, const struct report_dist *d)
{
	return !cJSON_AddNumberToObject(o, "index", d->index) ||
	       !cJSON_AddStringToObject(o, "wheel", d->wheel ? d->wheel : "") ||
	       !cJSON_AddStringToObject(o, "dist_info",
					d->dist_info ? d->dist_info : "") ||
	       !cJSON_AddStringToObject(o, "previous_version",
					d->previous ? d->previous : "") ||
	       !cJSON_AddStringToObject(o, "result", spoke_action_name(d->act)) ||
	       !cJSON_AddStringToObject(o, "planned",
					spoke_action_name(d->planned)) ||
	       !cJSON_AddNumberToObject(o, "error", d->error) ? -1 : 0;
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
					     (double)r->dists[i].bytes) ||
		    add_result(o, &r->dists[i]))
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
	if (r->has_phases) {
		static const char *const keys[4] = { "lookup_s", "plan_s",
						     "link_s", "finalize_s" };
		cJSON *ph = cJSON_AddObjectToObject(root, "phases");

		for (int i = 0; ph && i < 4; i++)
			if (!cJSON_AddNumberToObject(ph, keys[i],
						     r->phase_s[i]))
				ph = NULL;
		if (!ph)
			goto out;
	}
	if (r->status) {
		cJSON *e = cJSON_AddObjectToObject(root, "error");

		if (!e ||
		    !cJSON_AddNumberToObject(e, "code", r->status) ||
		    !cJSON_AddNumberToObject(e, "wheel", r->error_wheel) ||
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

void spoke_free(void *p)
{
	free(p);
}
