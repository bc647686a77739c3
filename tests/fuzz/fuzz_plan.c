/* SPDX-License-Identifier: MIT */
/*
 * fuzz_plan - libFuzzer target for spoke_plan_load_json(), the JSON plan a
 * resolver hands spoke. Any bytes either load or fail with SPOKE_E_USAGE
 * (or a recorded cache or memory error); a failed load must leave the plan
 * and the context exactly as they were, and a load that succeeds must give
 * a plan whose wheels all have a path and whose direct_url texts have
 * PEP 610's shape (engine/direct_url.h). The context's cache directory is
 * one that does not exist, so cache keys in the input are looked up
 * read-only and fail.
 * Build and run:
 *   make build-fuzz/fuzz_plan
 *   build-fuzz/fuzz_plan -max_total_time=60 tests/fuzz/corpus_plan
 */
#include "engine/ctx.h"
#include "engine/direct_url.h"
#include "engine/plan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spoke_ctx *ctx = spoke_ctx_create();
	spoke_plan *p = spoke_plan_create();
	struct spoke_ctx before;
	int err;

	if (!ctx || !p)
		abort();
	if (spoke_ctx_set_cache_dir(ctx, "/nonexistent/spoke-fuzz-cache"))
		abort();
	memcpy(&before, ctx, sizeof(before));
	err = spoke_plan_load_json(ctx, p, (const char *)data, size);
	if (err) {
		if (!ctx_failed(ctx) || !ctx->err_msg[0])
			abort(); /* every failure says why */
		if (p->nwheels || p->nnames || p->venv || p->target ||
		    p->python || p->reinstall || p->dry_run || p->requested ||
		    p->allow_overwrite || p->no_wait)
			abort(); /* a failed load changed the plan */
		for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
			if (p->path[k])
				abort();
		if (ctx->link_mode != before.link_mode ||
		    ctx->io != before.io || ctx->jobs != before.jobs ||
		    ctx->verify != before.verify ||
		    ctx->no_fallback != before.no_fallback ||
		    strcmp(ctx->cache_dir, before.cache_dir) != 0)
			abort(); /* ... or the context */
	} else {
		for (size_t i = 0; i < p->nwheels; i++) {
			const char *url = p->wheels[i].direct_url;

			if (!p->wheels[i].path || !*p->wheels[i].path)
				abort();
			if (url && direct_url_text_problem(url))
				abort();
		}
	}
	spoke_plan_free(p);
	spoke_ctx_free(ctx);
	return 0;
}
