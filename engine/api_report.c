/* SPDX-License-Identifier: MIT */
/*
 * api_report - the public side of spoke_report (spoke.h "reports"): the
 * getters, spoke_report_free, spoke_report_json and spoke_free (for the
 * string it returns). JSON is built with
 * cJSON (a well-kept library, so escaping of odd file names is somebody's
 * tested code, not ours). Filling a report is engine/report.c.
 */
#include "engine/report.h"
#include "base/errname.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

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

void spoke_free(void *p)
{
	free(p);
}
