/* SPDX-License-Identifier: MIT */
/*
 * direct_url - the shape PEP 610 gives direct_url.json, checked wherever
 * spoke is handed one (the JSON plan, spoke_plan_set_direct_url(), the
 * CLI's --direct-url): a JSON object with a string "url" and exactly one
 * of "archive_info", "dir_info", "vcs_info", itself an object ("vcs_info"
 * with the strings "vcs" and "commit_id" PEP 610 requires). pip reads the
 * file on every `pip list` and warns about one it cannot parse, so a bad
 * one is refused before it is written.
 */
#ifndef SPOKE_ENGINE_DIRECT_URL_H
#define SPOKE_ENGINE_DIRECT_URL_H

#include <cjson/cJSON.h>

/* NULL when v is a valid direct_url object, else what is wrong (static). */
const char *direct_url_problem(const cJSON *v);
/* The same for JSON text; "not JSON" when it does not parse, or "out of
 * memory". */
const char *direct_url_text_problem(const char *json);

#endif
