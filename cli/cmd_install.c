/* SPDX-License-Identifier: MIT */
/*
 * cmd_install - `spoke install` and `spoke uninstall`: build a spoke_plan
 * from the command line, run it, print one line per distribution (or the
 * JSON report). Everything else is the library's.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char install_usage[] =
	"usage: spoke install [--venv DIR | --target DIR] [OPTIONS] WHEEL_TREE...\n"
	"\n"
	"Install unpacked wheels (directories holding exactly a wheel's\n"
	"contents) into a virtual environment (default: $VIRTUAL_ENV) or a\n"
	"--target directory. Every wheel and destination is checked before\n"
	"anything changes; all wheels are linked in one parallel run. An\n"
	"installed version of the same distribution is replaced (a same\n"
	"version is left alone unless --reinstall).\n"
	"\n"
	"Options:\n"
	"  --venv DIR         the virtual environment to install into\n"
	"  --target DIR       install into DIR as pip --target does\n"
	"  --python PATH      interpreter named by generated scripts (default:\n"
	"                     the venv's bin/python); needed with --target for\n"
	"                     scripts and entry points\n"
	"  --reinstall        reinstall distributions of the same version\n"
	"  --dry-run          check everything, print what would happen, change\n"
	"                     nothing\n"
	"  --requested        mark the distributions as requested (REQUESTED)\n"
	"  --allow-overwrite  let a later wheel overwrite a file of an earlier one\n"
	"  --direct-url JSON  write JSON as direct_url.json (one wheel only)\n"
	CLI_RUN_HELP
	"  -h, --help         this help\n";

static const char uninstall_usage[] =
	"usage: spoke uninstall [--venv DIR | --target DIR] [OPTIONS] NAME...\n"
	"\n"
	"Remove installed distributions: every file their RECORD lists, the\n"
	"bytecode of their .py files and the directories that leaves empty.\n"
	"Every RECORD path is checked first; one outside the environment\n"
	"refuses the whole run.\n"
	"\n"
	"Options:\n"
	"  --venv DIR         the virtual environment (default: $VIRTUAL_ENV)\n"
	"  --target DIR       a directory made by spoke/pip install --target\n"
	"  --python PATH      interpreter of the venv, if pyvenv.cfg has no\n"
	"                     version\n"
	"  --dry-run          check, print what would be removed, change nothing\n"
	CLI_RUN_HELP
	"  -h, --help         this help\n";

enum {
	OPT_VENV = 2000,
	OPT_TARGET,
	OPT_PYTHON,
	OPT_REINSTALL,
	OPT_DRY_RUN,
	OPT_REQUESTED,
	OPT_ALLOW_OVERWRITE,
	OPT_DIRECT_URL,
};

static int set_option(spoke_plan *plan, int opt, const char *arg,
		      const char **direct_url)
{
	switch (opt) {
	case OPT_VENV:
		return spoke_plan_set_venv(plan, arg);
	case OPT_TARGET:
		return spoke_plan_set_target(plan, arg);
	case OPT_PYTHON:
		return spoke_plan_set_python(plan, arg);
	case OPT_REINSTALL:
		return spoke_plan_set_reinstall(plan, 1);
	case OPT_DRY_RUN:
		return spoke_plan_set_dry_run(plan, 1);
	case OPT_REQUESTED:
		return spoke_plan_set_requested(plan, 1);
	case OPT_ALLOW_OVERWRITE:
		return spoke_plan_set_allow_overwrite(plan, 1);
	case OPT_DIRECT_URL:
		*direct_url = arg;
		return 0;
	}
	return 1;
}

static void print_dists(const spoke_report *rep, const struct cli_run_opts *o)
{
	if (!rep || o->json || o->quiet)
		return;
	for (size_t i = 0; i < spoke_report_dist_count(rep); i++) {
		const char *name, *version, *action;

		spoke_report_dist(rep, i, &name, &version, &action);
		if (strcmp(action, "failed") != 0)
			printf("%s %s %s\n", action, name, version);
	}
}

static int run(int argc, char **argv, int install)
{
	static const struct option longopts[] = {
		CLI_RUN_LONGOPTS,
		{ "venv", required_argument, NULL, OPT_VENV },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "python", required_argument, NULL, OPT_PYTHON },
		{ "reinstall", no_argument, NULL, OPT_REINSTALL },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "requested", no_argument, NULL, OPT_REQUESTED },
		{ "allow-overwrite", no_argument, NULL, OPT_ALLOW_OVERWRITE },
		{ "direct-url", required_argument, NULL, OPT_DIRECT_URL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = install ? "install" : "uninstall";
	const char *direct_url = NULL;
	struct cli_run_opts o = { 0 };
	spoke_report *rep = NULL;
	spoke_ctx *ctx = cli_ctx_create(&o);
	spoke_plan *plan = spoke_plan_create();
	int opt, ret = EXIT_USAGE;

	if (!ctx || !plan) {
		fprintf(stderr, "spoke %s: out of memory\n", cmd);
		ret = EXIT_FAIL;
		goto out;
	}
	while ((opt = getopt_long(argc, argv, "j:qvh", longopts, NULL)) != -1) {
		int r = cli_run_option(ctx, &o, opt, optarg);

		if (r == 1)
			continue;
		if (r == 0 && opt == 'h') {
			fputs(install ? install_usage : uninstall_usage, stdout);
			ret = EXIT_OK;
			goto out;
		}
		if (r == 0 && (!install && (opt == OPT_REINSTALL ||
					    opt == OPT_REQUESTED ||
					    opt == OPT_ALLOW_OVERWRITE ||
					    opt == OPT_DIRECT_URL)))
			r = -1, cli_usage_error(cmd, "'%s' is an install option",
						argv[optind - 1]);
		if (r == 0)
			r = set_option(plan, opt, optarg, &direct_url);
		if (r != 0) {
			if (r > 0)
				fprintf(stderr, "Try 'spoke %s --help'.\n", cmd);
			goto out;
		}
	}
	if (optind == argc) {
		cli_usage_error(cmd, install ? "no wheel trees given" :
				"no distribution names given");
		goto out;
	}
	if (direct_url && argc - optind != 1) {
		cli_usage_error(cmd, "--direct-url needs exactly one wheel");
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		int r = install ? spoke_plan_add_wheel(plan, argv[i]) :
				  spoke_plan_add_name(plan, argv[i]);

		if (r < 0) {
			fprintf(stderr, "spoke %s: '%s': %s\n", cmd, argv[i],
				spoke_strerror(r));
			ret = cli_exit_code(r);
			goto out;
		}
	}
	if (direct_url && spoke_plan_set_direct_url(plan, 0, direct_url)) {
		fprintf(stderr, "spoke %s: out of memory\n", cmd);
		ret = EXIT_FAIL;
		goto out;
	}
	cli_ctx_finish(ctx, &o);
	cli_cancel_on_signals(ctx);
	ret = install ? spoke_install(ctx, plan, &rep) :
			spoke_uninstall(ctx, plan, &rep);
	if (ret == 0)
		print_dists(rep, &o);
	ret = cli_finish_run(ctx, &o, cmd, ret, rep);
out:
	spoke_report_free(rep);
	spoke_plan_free(plan);
	spoke_ctx_free(ctx);
	return ret;
}

int cmd_install(int argc, char **argv)
{
	return run(argc, argv, 1);
}

int cmd_uninstall(int argc, char **argv)
{
	return run(argc, argv, 0);
}
