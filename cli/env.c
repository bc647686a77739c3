/* SPDX-License-Identifier: MIT */
/*
 * env - where `spoke install` and `spoke uninstall` put things, chosen the
 * way uv and pip choose it: --venv, else the environment of --python, else
 * $VIRTUAL_ENV, else a .venv in the working directory or a parent; or
 * pip's --target, --prefix and --root. Which environment is discovery,
 * the CLI's part; the layouts (and what the interpreter says about
 * itself for --prefix and --root) are the library's.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A name without '/' is looked up in $PATH, as a shell does. */
static int find_python(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return is_file(out) ? 0 : -ENOENT;
	}
	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", name);
		if (access(out, X_OK) == 0 && is_file(out))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* The venv an interpreter belongs to: <venv>/bin/python with a
 * <venv>/pyvenv.cfg (the path as given, not resolved: a venv's python is
 * a symlink to the base interpreter). */
static int venv_of(const char *python, char *out, size_t len)
{
	char cfg[PATH_MAX + 16], *slash;

	snprintf(out, len, "%s", python);
	for (int i = 0; i < 2; i++) {
		if (!(slash = strrchr(out, '/')))
			return -1;
		*slash = '\0';
	}
	if (!*out)
		snprintf(out, len, "/");
	snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", out);
	return is_file(cfg) ? 0 : -1;
}

/* uv's discovery: .venv (with pyvenv.cfg) in the working directory or
 * the nearest parent that has one. */
static int find_dot_venv(char *out, size_t len)
{
	char dir[PATH_MAX], cfg[PATH_MAX + 32];

	if (!getcwd(dir, sizeof(dir)))
		return -1;
	for (;;) {
		char *slash;

		snprintf(cfg, sizeof(cfg), "%s/.venv/pyvenv.cfg",
			 strcmp(dir, "/") ? dir : "");
		if (is_file(cfg)) {
			if ((size_t)snprintf(out, len, "%s/.venv", strcmp(dir,
				"/") ? dir : "") >= len)
				return -1;
			return 0;
		}
		if (!strcmp(dir, "/") || !(slash = strrchr(dir, '/')))
			return -1;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

int cli_env_apply(spoke_plan *plan, const struct cli_env *e, const char *cmd)
{
	char py[PATH_MAX], venv[PATH_MAX];
	const char *venv_dir = e->venv;
	int given = !!e->venv + !!e->target + !!e->prefix;

	if (given > 1) {
		cli_usage_error(cmd, "--venv, --target and --prefix exclude "
				"each other: give one");
		return EXIT_USAGE;
	}
	py[0] = '\0';
	if (e->python && find_python(e->python, py, sizeof(py))) {
		fprintf(stderr, "spoke %s: cannot find the interpreter '%s'\n",
			cmd, cli_esc(e->python));
		return EXIT_USAGE;
	}
	if (!given && py[0]) {
		if (venv_of(py, venv, sizeof(venv))) {
			fprintf(stderr, "spoke %s: '%s' is not the interpreter "
				"of a virtual environment (no pyvenv.cfg beside "
				"its bin/)\nspoke %s: hint: --python selects the "
				"environment to install into, as in pip and uv; "
				"give --prefix or --target with it, or name the "
				"interpreter for generated scripts with "
				"--shebang-python\n", cmd, cli_esc(py), cmd);
			return EXIT_USAGE;
		}
		venv_dir = venv;
	} else if (!given && !e->have_plan && !e->root &&
		   !(getenv("VIRTUAL_ENV") && *getenv("VIRTUAL_ENV")) &&
		   find_dot_venv(venv, sizeof(venv)) == 0) {
		venv_dir = venv;
	} else if (!given && e->root && getenv("VIRTUAL_ENV") &&
		   *getenv("VIRTUAL_ENV")) {
		venv_dir = getenv("VIRTUAL_ENV");
	} else if (!given && e->root && find_dot_venv(venv, sizeof(venv)) == 0) {
		venv_dir = venv;
	}
	/* --prefix and --root are the library's: it asks the interpreter
	 * (--python, else the venv's, else python3 on PATH) for the layout. */
	if (e->root && !e->target && !e->prefix && !venv_dir) {
		cli_usage_error(cmd, "--root needs an environment: --venv, "
				"--target, --prefix or an active venv");
		return EXIT_USAGE;
	}
	if (e->prefix && spoke_plan_set_prefix(plan, e->prefix))
		goto nomem;
	if (e->root && spoke_plan_set_root(plan, e->root))
		goto nomem;
	if (e->target && spoke_plan_set_target(plan, e->target))
		goto nomem;
	if (!e->target && !e->prefix && venv_dir &&
	    spoke_plan_set_venv(plan, venv_dir))
		goto nomem;
	if (py[0] && spoke_plan_set_python(plan, py))
		goto nomem;
	if (e->shebang && spoke_plan_set_shebang_python(plan, e->shebang))
		goto nomem;
	return EXIT_OK;
nomem:
	fprintf(stderr, "spoke %s: out of memory\n", cmd);
	return EXIT_FAIL;
}
