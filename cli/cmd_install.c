/* SPDX-License-Identifier: MIT */
/*
 * cmd_install - `spoke install` and `spoke uninstall`: build a spoke_plan
 * from the command line, run it, print one line per distribution (or the
 * JSON report). Everything else is the library's.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_HELP                                                            \
	"  --plan FILE        read wheels, names, environment and options from\n" \
	"                     a JSON plan (docs/EMBEDDING.md; - reads stdin);\n"  \
	"                     options are applied in order, so those after\n"    \
	"                     --plan override the plan's\n"

/* Plans are small (a line per wheel); a bigger file is a mistake. */
#define PLAN_MAX (64u << 20)

#define ENV_HELP                                                              \
	"Environment (as uv and pip find it): --venv, else the environment of\n"  \
	"--python, else $VIRTUAL_ENV, else .venv in the working directory or\n"    \
	"the nearest parent that has one.\n"                                     \
	"  --venv DIR         the virtual environment\n"                          \
	"  --python PATH      the interpreter whose environment to use (a venv's\n"\
	"                     bin/python; a name is looked up in $PATH)\n"

static const char install_usage[] =
	"usage: spoke install [ENVIRONMENT] [OPTIONS] WHEEL...\n"
	"       spoke install --plan FILE [OPTIONS] [WHEEL...]\n"
	"\n"
	"Install wheels (.whl files, unpacked once into the cache, or\n"
	"directories holding exactly a wheel's contents). Every wheel and\n"
	"destination is checked before anything changes, including that the\n"
	"interpreter supports the wheel's tags and Requires-Python; all wheels\n"
	"are linked in one parallel run. An installed version of the same\n"
	"distribution is replaced (a same version is left alone unless\n"
	"--reinstall).\n"
	"\n"
	ENV_HELP
	"                     (with --target or --prefix: the interpreter to\n"
	"                     install for, named by generated scripts)\n"
	"  --target DIR       install into DIR as pip --target does\n"
	"  --prefix DIR       install under DIR as pip --prefix does\n"
	"                     (DIR/lib/pythonX.Y/site-packages, DIR/bin, ...)\n"
	"  --root DIR         as pip --root: put every path of the environment\n"
	"                     below DIR (scripts still name the real interpreter)\n"
	"  --shebang-python PATH\n"
	"                     the interpreter generated scripts name (default:\n"
	"                     the environment's); scripts of a --target install\n"
	"                     need one of the two\n"
	"\n"
	"Options:\n"
	"  --reinstall        reinstall distributions of the same version\n"
	"  --dry-run          check everything, print what would happen, change\n"
	"                     nothing\n"
	"  --no-compat-check  install wheels whose tags or Requires-Python the\n"
	"                     interpreter does not match\n"
	"  --no-wait          fail (exit 5) if another spoke holds the\n"
	"                     environment's lock, instead of waiting\n"
	"  --requested        mark the distributions as requested (REQUESTED)\n"
	"  --allow-overwrite  let a later wheel overwrite a file of an earlier one\n"
	"  --direct-url JSON  write JSON as direct_url.json (one wheel only)\n"
	"  --compile-bytecode also install the .pyc of every module (compiled\n"
	"                     once per cached wheel by the environment's python)\n"
	"  --no-compile       install no bytecode (the default)\n"
	"  --compile-optimize N  bytecode for python -O (1) or -OO (2)\n"
	PLAN_HELP
	CLI_LINK_HELP
	CLI_CACHE_HELP
	CLI_OUT_HELP
	"  -h, --help         this help\n"
	"\n"
	"Environment variables: VIRTUAL_ENV, SPOKE_LINK_MODE, SPOKE_CACHE_DIR.\n";

static const char uninstall_usage[] =
	"usage: spoke uninstall [ENVIRONMENT] [OPTIONS] NAME...\n"
	"       spoke uninstall --plan FILE [OPTIONS] [NAME...]\n"
	"\n"
	"Remove installed distributions: every file their RECORD lists, the\n"
	"bytecode of their .py files and the directories that leaves empty.\n"
	"Every RECORD path is checked first; one outside the environment\n"
	"refuses the whole run. There is no question to answer (-y, --yes\n"
	"are accepted for pip's habit).\n"
	"\n"
	ENV_HELP
	"  --target DIR       a directory made by spoke/pip install --target\n"
	"\n"
	"Options:\n"
	"  --dry-run          check, print what would be removed, change nothing\n"
	"  --no-wait          fail (exit 5) if another spoke holds the\n"
	"                     environment's lock, instead of waiting\n"
	PLAN_HELP
	CLI_OUT_HELP
	"  -h, --help         this help\n"
	"\n"
	"Environment variables: VIRTUAL_ENV.\n";

enum {
	OPT_VENV = 2000,
	OPT_TARGET,
	OPT_PYTHON,
	OPT_REINSTALL,
	OPT_DRY_RUN,
	OPT_REQUESTED,
	OPT_ALLOW_OVERWRITE,
	OPT_DIRECT_URL,
	OPT_PLAN,
	OPT_NO_WAIT,
	OPT_PREFIX,
	OPT_ROOT,
	OPT_SHEBANG_PYTHON,
	OPT_NO_COMPAT_CHECK,
	OPT_YES,
	OPT_COMPILE,
	OPT_NO_COMPILE,
	OPT_COMPILE_OPTIMIZE,
};

/* Read FILE ("-": stdin) and load it into plan and ctx. 0, or the exit
 * code after printing why. */
static int load_plan(spoke_ctx *ctx, spoke_plan *plan, const char *cmd,
		     const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int ret = 0;

	if (!f) {
		fprintf(stderr, "spoke %s: cannot open plan '%s': %s\n", cmd,
			cli_esc(file), strerror(errno));
		return EXIT_USAGE;
	}
	while (!ret && !feof(f)) {
		char *grown;

		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > PLAN_MAX) {
				fprintf(stderr, "spoke %s: plan '%s' is larger "
					"than %u MB\n", cmd, cli_esc(file),
					PLAN_MAX >> 20);
				ret = EXIT_USAGE;
				break;
			}
			if (!(grown = realloc(buf, cap))) {
				fprintf(stderr, "spoke %s: out of memory\n", cmd);
				ret = EXIT_FAIL;
				break;
			}
			buf = grown;
		}
		len += fread(buf + len, 1, cap - len, f);
		if (ferror(f)) {
			fprintf(stderr, "spoke %s: cannot read plan '%s': %s\n",
				cmd, cli_esc(file), strerror(errno));
			ret = EXIT_FAIL;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!ret && (ret = spoke_plan_load_json(ctx, plan, buf ? buf : "",
						len)) != 0) {
		fprintf(stderr, "spoke %s: %s: %s\n", cmd, cli_esc(file),
			spoke_ctx_error_message(ctx));
		ret = cli_exit_code(ret);
	}
	free(buf);
	return ret;
}

static int set_option(spoke_plan *plan, int opt, const char *arg,
		      const char **direct_url, struct cli_env *env)
{
	switch (opt) {
	case OPT_VENV:
		env->venv = arg;
		return 0;
	case OPT_TARGET:
		env->target = arg;
		return 0;
	case OPT_PYTHON:
		env->python = arg;
		return 0;
	case OPT_PREFIX:
		env->prefix = arg;
		return 0;
	case OPT_ROOT:
		env->root = arg;
		return 0;
	case OPT_SHEBANG_PYTHON:
		env->shebang = arg;
		return 0;
	case OPT_NO_COMPAT_CHECK:
		return spoke_plan_set_compat_check(plan, 0);
	case OPT_YES:
	case 'y':
		return 0;
	case OPT_REINSTALL:
		return spoke_plan_set_reinstall(plan, 1);
	case OPT_NO_WAIT:
		return spoke_plan_set_no_wait(plan, 1);
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
		{ "plan", required_argument, NULL, OPT_PLAN },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "shebang-python", required_argument, NULL, OPT_SHEBANG_PYTHON },
		{ "no-compat-check", no_argument, NULL, OPT_NO_COMPAT_CHECK },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "compile-bytecode", no_argument, NULL, OPT_COMPILE },
		{ "no-compile", no_argument, NULL, OPT_NO_COMPILE },
		{ "compile-optimize", required_argument, NULL,
		  OPT_COMPILE_OPTIMIZE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = install ? "install" : "uninstall";
	const char *direct_url = NULL;
	struct cli_env env = { 0 };
	struct cli_run_opts o = { 0 };
	spoke_report *rep = NULL;
	spoke_ctx *ctx = cli_ctx_create(&o);
	spoke_plan *plan = spoke_plan_create();
	int opt, ret = EXIT_USAGE, have_plan = 0;
	int compile = -1, optimize = -1; /* -1: not given */

	if (!ctx || !plan) {
		fprintf(stderr, "spoke %s: out of memory\n", cmd);
		ret = EXIT_FAIL;
		goto out;
	}
	/* pip and uv check what they install; a library caller may have
	 * checked already, the command line has not. */
	if (install && spoke_plan_set_compat_check(plan, 1)) {
		ret = EXIT_FAIL;
		goto out;
	}
	while ((opt = getopt_long(argc, argv, install ? "j:qvh" : "j:qvhy",
				  longopts, NULL)) != -1) {
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
					    opt == OPT_DIRECT_URL ||
					    opt == OPT_PREFIX || opt == OPT_ROOT ||
					    opt == OPT_SHEBANG_PYTHON ||
					    opt == OPT_NO_COMPAT_CHECK ||
					    opt == OPT_COMPILE ||
					    opt == OPT_NO_COMPILE ||
					    opt == OPT_COMPILE_OPTIMIZE)))
			r = -1, cli_usage_error(cmd, "'%s' is an install option",
						argv[optind - 1]);
		if (r == 0 && install && opt == OPT_YES)
			r = -1, cli_usage_error(cmd, "'%s' is an uninstall "
						"option", argv[optind - 1]);
		if (r == 0 && opt == OPT_PLAN) {
			int lr = load_plan(ctx, plan, cmd, optarg);

			if (lr) {
				ret = lr;
				goto out;
			}
			have_plan = 1;
			continue;
		}
		if (r == 0 && (opt == OPT_COMPILE || opt == OPT_NO_COMPILE)) {
			compile = opt == OPT_COMPILE;
			continue;
		}
		if (r == 0 && opt == OPT_COMPILE_OPTIMIZE) {
			if (strcmp(optarg, "0") && strcmp(optarg, "1") &&
			    strcmp(optarg, "2")) {
				cli_usage_error(cmd, "--compile-optimize takes "
						"0, 1 or 2");
				goto out;
			}
			optimize = optarg[0] - '0';
			continue;
		}
		if (r == 0)
			r = set_option(plan, opt, optarg, &direct_url, &env);
		if (r != 0) {
			if (r > 0)
				fprintf(stderr, "Try 'spoke %s --help'.\n", cmd);
			goto out;
		}
	}
	if (optind == argc && !have_plan) {
		cli_usage_error(cmd, install ? "no wheel trees given" :
				"no distribution names given");
		goto out;
	}
	if (direct_url && (argc - optind != 1 || have_plan)) {
		cli_usage_error(cmd, have_plan ? "--direct-url does not go with "
				"--plan (give direct_url in the plan)" :
				"--direct-url needs exactly one wheel");
		goto out;
	}
	env.have_plan = have_plan;
	if ((ret = cli_env_apply(plan, &env, cmd)) != EXIT_OK)
		goto out;
	ret = EXIT_USAGE;
	for (int i = optind; i < argc; i++) {
		int r = install ? spoke_plan_add_wheel(plan, argv[i]) :
				  spoke_plan_add_name(plan, argv[i]);

		if (r < 0) {
			fprintf(stderr, "spoke %s: '%s': %s\n", cmd,
				cli_esc(argv[i]), spoke_strerror(r));
			ret = cli_exit_code(r);
			goto out;
		}
	}
	if (direct_url && spoke_plan_set_direct_url(plan, 0, direct_url)) {
		fprintf(stderr, "spoke %s: out of memory\n", cmd);
		ret = EXIT_FAIL;
		goto out;
	}
	if ((compile >= 0 || optimize >= 0) &&
	    spoke_plan_set_compile_bytecode(plan, compile != 0,
					    optimize > 0 ? optimize : 0)) {
		fprintf(stderr, "spoke %s: bad bytecode options\n", cmd);
		ret = EXIT_FAIL;
		goto out;
	}
	cli_ctx_finish(ctx, &o);
	cli_cancel_on_signals(ctx);
	ret = install ? spoke_install(ctx, plan, &rep) :
			spoke_uninstall(ctx, plan, &rep);
	ret = cli_finish_run(ctx, &o, cmd, ret, rep);
	/* Only now: cli_finish_run() clears the progress line on stderr,
	 * which is usually the same terminal as stdout. */
	if (ret == EXIT_OK)
		ret = cli_print_dists(rep, &o, cmd, cli_elapsed());
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
