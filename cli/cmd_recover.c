/* SPDX-License-Identifier: MIT */
/*
 * cmd_recover - `spoke recover`: finish what a killed install or uninstall
 * left in an environment (roll it back, or complete the cleanup of one
 * that had committed), under the environment's lock. Any install or
 * uninstall there does the same first, so this is for when you want the
 * environment sound now, before running anything else in it.
 */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: spoke recover [--venv DIR | --target DIR] [OPTIONS]\n"
	"\n"
	"Roll back the install or uninstall that a crash, SIGKILL or power\n"
	"loss interrupted in an environment, using the journal it left there\n"
	"(.spoke-journal); or, if it had already committed, finish its\n"
	"cleanup. Nothing to do is not an error. The next spoke install or\n"
	"uninstall in the environment does this automatically.\n"
	"\n"
	"A journal that fails its checks (damaged, not made by spoke for this\n"
	"environment and user) is never acted on or deleted: recover exits 1\n"
	"saying what is wrong, keeping the journal and the backups, and\n"
	"installs there refuse until it is dealt with (docs/RELIABILITY.md).\n"
	"Paths changed after the interrupted run are left and reported.\n"
	"\n"
	"Environment (as install finds it): --venv, else the venv of --python,\n"
	"else $VIRTUAL_ENV, else .venv in the working directory or a parent.\n"
	"  --venv DIR         the virtual environment\n"
	"  --python PATH      the interpreter whose venv to use\n"
	"  --target DIR       a directory made by spoke/pip install --target\n"
	"\n"
	"Options:\n"
	"  --no-wait          fail (exit 5) if another spoke holds the lock\n"
	"  --json             print the report as one JSON object on stdout\n"
	"  -q, --quiet        print nothing on success\n"
	"  -v, --verbose      more detail on stderr\n"
	"  -h, --help         this help\n";

enum { OPT_VENV = 3000, OPT_TARGET, OPT_PYTHON, OPT_NO_WAIT };

int cmd_recover(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "venv", required_argument, NULL, OPT_VENV },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "python", required_argument, NULL, OPT_PYTHON },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_run_opts o = { 0 };
	spoke_report *rep = NULL;
	spoke_ctx *ctx = cli_ctx_create(&o);
	spoke_plan *plan = spoke_plan_create();
	struct cli_env env = { 0 };
	int opt, ret = EXIT_USAGE, r = 0;

	if (!ctx || !plan) {
		fprintf(stderr, "spoke recover: out of memory\n");
		ret = EXIT_FAIL;
		goto out;
	}
	while ((opt = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
		switch (opt) {
		case CLI_OPT_JSON:
		case 'q':
		case 'v':
			cli_run_option(ctx, &o, opt, optarg);
			continue;
		case OPT_VENV:
			env.venv = optarg;
			continue;
		case OPT_TARGET:
			env.target = optarg;
			continue;
		case OPT_PYTHON:
			env.python = optarg;
			continue;
		case OPT_NO_WAIT:
			r = spoke_plan_set_no_wait(plan, 1);
			break;
		case 'h':
			fputs(usage, stdout);
			ret = EXIT_OK;
			goto out;
		default:
			fprintf(stderr, "Try 'spoke recover --help'.\n");
			goto out;
		}
		if (r) {
			fprintf(stderr, "spoke recover: %s\n", spoke_strerror(r));
			ret = cli_exit_code(r);
			goto out;
		}
	}
	if (optind != argc) {
		cli_usage_error("recover", "unexpected argument '%s'",
				argv[optind]);
		goto out;
	}
	if ((ret = cli_env_apply(plan, &env, "recover")) != EXIT_OK)
		goto out;
	cli_ctx_finish(ctx, &o);
	/* Recovery itself is not interruptible (it only puts things back);
	 * a signal ends the wait for the lock. */
	cli_cancel_on_signals(ctx);
	r = spoke_recover(ctx, plan, &rep);
	if (r > 0 && !o.quiet && !o.json)
		printf("%s the interrupted spoke run: %" PRIu64 " paths put "
		       "back, %" PRIu64 " removed\n", r == 2 ? "finished" :
		       "rolled back",
		       spoke_report_counter(rep, SPOKE_COUNT_REPLACED),
		       spoke_report_counter(rep, SPOKE_COUNT_REMOVED));
	else if (r == 0 && !o.quiet && !o.json)
		printf("nothing to recover\n");
	ret = cli_finish_run(ctx, &o, "recover", r < 0 ? r : 0, rep);
out:
	spoke_report_free(rep);
	spoke_plan_free(plan);
	spoke_ctx_free(ctx);
	return ret;
}
