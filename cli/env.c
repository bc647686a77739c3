/* SPDX-License-Identifier: MIT */
/*
 * env - where `spoke install` and `spoke uninstall` put things, chosen the
 * way uv and pip choose it: --venv, else the environment of --python, else
 * $VIRTUAL_ENV, else a .venv in the working directory or a parent; or
 * pip's --target, --prefix and --root. The library knows venvs, targets
 * and explicit scheme paths; --prefix and --root become scheme paths here,
 * computed from what the interpreter says about itself.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What pip's scheme needs from the interpreter: X.Y, sys.platlibdir,
 * abiflags, and whether it runs in a virtual environment (pip then puts
 * headers under include/site/pythonX.Y). */
static const char INFO_SCRIPT[] =
	"import sys, sysconfig\n"
	"print('%d.%d' % sys.version_info[:2])\n"
	"print(getattr(sys, 'platlibdir', 'lib'))\n"
	"print(sysconfig.get_config_var('abiflags') or '')\n"
	"print(int(sys.prefix != sys.base_prefix))\n";

struct pyinfo {
	char xy[16], platlibdir[64], abiflags[16];
	int in_venv;
};

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

static int read_line(char **p, char *out, size_t len)
{
	size_t n = strcspn(*p, "\n");

	if (!(*p)[n] || n >= len)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n + 1;
	return 0;
}

static int python_info(const char *python, struct pyinfo *pi)
{
	char *const argv[] = { (char *)python, "-I", "-c",
			       (char *)INFO_SCRIPT, NULL };
	posix_spawn_file_actions_t fa;
	char buf[512], *p = buf, flag[8], sink[512];
	size_t got = 0;
	int fds[2], status = 0, err;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	err = posix_spawn(&pid, python, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (err) {
		close(fds[0]);
		return -err;
	}
	for (;;) {
		ssize_t n = read(fds[0], buf + got, sizeof(buf) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	/* Drain what does not fit, so the child cannot block on the pipe. */
	while (got == sizeof(buf) - 1) {
		ssize_t n = read(fds[0], sink, sizeof(sink));

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	buf[got] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    read_line(&p, pi->xy, sizeof(pi->xy)) ||
	    read_line(&p, pi->platlibdir, sizeof(pi->platlibdir)) ||
	    read_line(&p, pi->abiflags, sizeof(pi->abiflags)) ||
	    read_line(&p, flag, sizeof(flag)) || !pi->xy[0] ||
	    strchr(pi->platlibdir, '/'))
		return -EINVAL;
	pi->in_venv = flag[0] == '1';
	return 0;
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

static int absolute(const char *p, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (p[0] == '/')
		return snprintf(out, len, "%s", p) >= (int)len ? -1 : 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	return snprintf(out, len, "%s/%s", cwd, p) >= (int)len ? -1 : 0;
}

static int set_scheme(spoke_plan *plan, enum spoke_scheme_key k,
		      const char *root, const char *base, const char *rel)
{
	char p[3 * PATH_MAX];

	snprintf(p, sizeof(p), "%s%s%s%s", root ? root : "", base,
		 rel ? "/" : "", rel ? rel : "");
	return spoke_plan_set_scheme_path(plan, k, p);
}

/* pip's scheme under base (a prefix, or a venv seen through --root):
 * posix_prefix, with include/site/pythonX.Y for an interpreter in a venv;
 * or pip's --target layout. root is prepended to every path. */
static int set_explicit(spoke_plan *plan, const char *root, const char *base,
			const struct pyinfo *pi, int target)
{
	char lib[128], plat[160], inc[64];

	if (target)
		return set_scheme(plan, SPOKE_SCHEME_PURELIB, root, base, NULL) ||
		       set_scheme(plan, SPOKE_SCHEME_PLATLIB, root, base, NULL) ||
		       set_scheme(plan, SPOKE_SCHEME_SCRIPTS, root, base, "bin") ||
		       set_scheme(plan, SPOKE_SCHEME_HEADERS, root, base,
				  "include/python") ||
		       set_scheme(plan, SPOKE_SCHEME_DATA, root, base, NULL);
	snprintf(lib, sizeof(lib), "lib/python%s/site-packages", pi->xy);
	snprintf(plat, sizeof(plat), "%s/python%s/site-packages",
		 pi->platlibdir, pi->xy);
	if (pi->in_venv)
		snprintf(inc, sizeof(inc), "include/site/python%s", pi->xy);
	else
		snprintf(inc, sizeof(inc), "include/python%s%s", pi->xy,
			 pi->abiflags);
	return set_scheme(plan, SPOKE_SCHEME_PURELIB, root, base, lib) ||
	       set_scheme(plan, SPOKE_SCHEME_PLATLIB, root, base, plat) ||
	       set_scheme(plan, SPOKE_SCHEME_SCRIPTS, root, base, "bin") ||
	       set_scheme(plan, SPOKE_SCHEME_HEADERS, root, base, inc) ||
	       set_scheme(plan, SPOKE_SCHEME_DATA, root, base, NULL);
}

int cli_env_apply(spoke_plan *plan, const struct cli_env *e, const char *cmd)
{
	char py[PATH_MAX], venv[PATH_MAX], base[PATH_MAX], root[PATH_MAX];
	const char *venv_dir = e->venv;
	struct pyinfo pi;
	int given = !!e->venv + !!e->target + !!e->prefix, err;

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
	if ((e->prefix || e->root) && !e->target) {
		/* The interpreter whose scheme this is: --python, the venv's,
		 * else python3 on PATH (the one a pip would run with). */
		if (!py[0] && venv_dir &&
		    (size_t)snprintf(py, sizeof(py), "%s/bin/python",
				     venv_dir) >= sizeof(py))
			goto too_long;
		if (!py[0] && find_python("python3", py, sizeof(py))) {
			fprintf(stderr, "spoke %s: --prefix and --root need an "
				"interpreter: give --python\n", cmd);
			return EXIT_USAGE;
		}
		if ((err = python_info(py, &pi)) != 0) {
			fprintf(stderr, "spoke %s: cannot learn the install "
				"scheme of '%s': %s\n", cmd, cli_esc(py),
				err == -EINVAL ? "it failed or printed nothing "
				"usable" : strerror(-err));
			return EXIT_USAGE;
		}
	}
	if (e->root && absolute(e->root, root, sizeof(root)))
		goto too_long;
	if (e->root || e->prefix) {
		const char *b = e->prefix ? e->prefix : e->target ? e->target :
				venv_dir;

		if (!b) {
			cli_usage_error(cmd, "--root needs an environment: "
					"--venv, --target, --prefix or an "
					"active venv");
			return EXIT_USAGE;
		}
		if (absolute(b, base, sizeof(base)))
			goto too_long;
		if (set_explicit(plan, e->root ? root : NULL, base, &pi,
				 !!e->target))
			goto nomem;
	} else if (e->target) {
		if (spoke_plan_set_target(plan, e->target))
			goto nomem;
	} else if (venv_dir && spoke_plan_set_venv(plan, venv_dir)) {
		goto nomem;
	}
	if (py[0] && spoke_plan_set_python(plan, py))
		goto nomem;
	if (e->shebang && spoke_plan_set_shebang_python(plan, e->shebang))
		goto nomem;
	return EXIT_OK;
too_long:
	fprintf(stderr, "spoke %s: path too long\n", cmd);
	return EXIT_USAGE;
nomem:
	fprintf(stderr, "spoke %s: out of memory\n", cmd);
	return EXIT_FAIL;
}
