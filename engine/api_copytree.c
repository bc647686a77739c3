/* SPDX-License-Identifier: MIT */
/*
 * api_copytree - spoke_copy_tree(): the linker as a general tool, one tree in
 * one run. The same path an installer takes, minus the wheel semantics.
 */
#include "engine/walk.h"

#include <errno.h>
#include <stdlib.h>

int spoke_copy_tree(spoke_ctx *ctx, const char *src, const char *dst,
		    spoke_report **report)
{
	struct spoke_report *rep = report_create();
	struct linker *l = NULL;
	int ret;

	if (report)
		*report = NULL;
	ret = ctx_begin(ctx);
	if (!rep)
		return ret ? ret : ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
					    "out of memory");
	if (!ret && (!src || !dst))
		ret = ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL,
			       "copy-tree needs a source and a destination");
	if (!ret)
		ret = linker_create(&l, ctx, rep);
	if (!ret)
		ret = linker_add_tree(l, src, dst, NULL, src);
	if (!ret)
		ret = linker_run(l);
	linker_free(l);
	ret = ctx_end(ctx, ret);
	report_set_status(rep, ret, ctx);
	if (report)
		*report = rep;
	else
		spoke_report_free(rep);
	return ret;
}
