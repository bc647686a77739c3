/* SPDX-License-Identifier: MIT */
/* direct_url - see direct_url.h. */
#include "engine/direct_url.h"

#include <stddef.h>

const char *direct_url_problem(const cJSON *v)
{
	static const char *const infos[] = { "archive_info", "dir_info",
					     "vcs_info" };
	const cJSON *info = NULL, *vcs = NULL;
	int n = 0;

	if (!cJSON_IsObject(v))
		return "not a JSON object";
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "url")))
		return "no string \"url\"";
	for (size_t i = 0; i < sizeof(infos) / sizeof(*infos); i++) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, infos[i]);

		if (!x)
			continue;
		if (!cJSON_IsObject(x))
			return "\"archive_info\", \"dir_info\" or \"vcs_info\" "
			       "is not an object";
		if (i == 2)
			vcs = x;
		info = x;
		n++;
	}
	if (n != 1 || !info)
		return "not exactly one of \"archive_info\", \"dir_info\" and "
		       "\"vcs_info\"";
	if (vcs && (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(vcs,
								      "vcs")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
			    vcs, "commit_id"))))
		return "\"vcs_info\" lacks a string \"vcs\" or \"commit_id\"";
	return NULL;
}

const char *direct_url_text_problem(const char *json)
{
	cJSON *v = cJSON_Parse(json);
	const char *why;

	if (!v)
		return "not JSON";
	why = direct_url_problem(v);
	cJSON_Delete(v);
	return why;
}
