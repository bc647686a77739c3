/* SPDX-License-Identifier: MIT */
/*
 * api_install - the public functions that change an environment:
 * spoke_install(), spoke_uninstall() (the runs are engine/install.c) and
 * spoke_recover(), which only replays what a killed run left (under the
 * environment's lock; engine/recover.c does the work).
 */
#include "engine/install.h"
#include "engine/envmod.h"
#include "engine/lock.h"
#include "engine/plan.h"
#include "engine/report.h"

#include <errno.h>
#include <string.h>

int spoke_install(spoke_ctx *ctx, spoke_plan *plan, spoke_report **report)
{
	return install_run(ctx, plan, report);
}

int spoke_uninstall(spoke_ctx *ctx, spoke_plan *plan, spoke_report **report)
{
	return uninstall_run(ctx, plan, report);
}

int spoke_recover(spoke_ctx *ctx, spoke_plan *p, spoke_report **report)
{
	struct scheme_opts o;
	struct spoke_report *rep;
	struct env_lock *l = NULL;
	struct scheme s;
	int ret;

	if (report)
		*report = NULL;
	if (!ctx || !p)
		return SPOKE_E_USAGE;
	ret = ctx_begin(ctx);
	if (ret)
		return ret;
	if (!(rep = report_create()))
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	plan_scheme_opts(p, &o);
	memset(&s, 0, sizeof(s));
	ret = scheme_resolve(ctx, &o, &s);
	if (!ret)
		ret = envmod_lock_home(ctx, &s, p->no_wait, &l);
	if (!ret) {
		ret = envmod_recover_locked(ctx, &s, rep, 1);
		env_lock_release(l);
	}
	ret = ctx_end(ctx, ret);
	report_set_status(rep, ret < 0 ? ret : 0, ctx);
	scheme_free(&s);
	if (report)
		*report = rep;
	else
		spoke_report_free(rep);
	return ret;
}
