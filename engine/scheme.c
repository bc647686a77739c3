/* SPDX-License-Identifier: MIT */
/*
 * scheme - see scheme.h. The venv layout is the one pip uses inside a
 * virtual environment (sysconfig's "venv" scheme plus pip's historical
 * headers directory include/site/pythonX.Y); the target layout is what
 * `pip install --target` leaves behind after moving its temporary "home"
 * scheme into the directory. docs/INSTALL.md has the table.
 */
#include "engine/scheme.h"
#include "base/spawn.h"
#include "base/alloc.h"
#include "base/name.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


static const char *const key_names[SPOKE_SCHEME__MAX] = {
	[SPOKE_SCHEME_PURELIB] = "purelib",
	[SPOKE_SCHEME_PLATLIB] = "platlib",
	[SPOKE_SCHEME_SCRIPTS] = "scripts",
	[SPOKE_SCHEME_HEADERS] = "headers",
	[SPOKE_SCHEME_DATA] = "data",
};

const char *scheme_key_name(enum spoke_scheme_key key)
{
	return (unsigned)key < SPOKE_SCHEME__MAX ? key_names[key] : "?";
}

static int nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

/* ---- interpreter ------------------------------------------------------ */

/* A --python without a '/' is looked up in $PATH, as a shell would: the
 * shebang must name a file, not a command. */
char *scheme_find_python(const char *python)
{
	const char *path = getenv("PATH");

	if (strchr(python, '/'))
		return path_absolute(python);
	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		char dir[PATH_MAX], *cand;

		if (n && n < sizeof(dir)) {
			memcpy(dir, path, n);
			dir[n] = '\0';
			cand = path_join(dir, python);
			if (cand && dir[0] == '/' && access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		path = end ? end + 1 : NULL;
	}
	return NULL;
}

/* "X.Y" from "3.11.2", "3.11.2.final.0", "3.12": 0 or -EINVAL. */
static int parse_xy(const char *v, char out[16])
{
	unsigned long major, minor;
	char *end;

	while (*v == ' ' || *v == '\t')
		v++;
	major = strtoul(v, &end, 10);
	if (end == v || *end != '.')
		return -EINVAL;
	v = end + 1;
	minor = strtoul(v, &end, 10);
	if (end == v || (*end && *end != '.' && *end != '\n' && *end != ' ' &&
			 *end != '\r' && *end != '+'))
		return -EINVAL;
	if (major > 99 || minor > 999)
		return -EINVAL;
	snprintf(out, 16, "%lu.%lu", major, minor);
	return 0;
}

static int run_python_version(spoke_ctx *ctx, const char *python,
			      char out[16])
{
	char *const argv[] = { (char *)python, "-I", "-c",
		"import sys; print('%d.%d' % sys.version_info[:2])", NULL };
	char *buf;
	int status = 0, more, err, bad;

	err = spawn_capture(argv, 0, 63, &buf, &more, &status);
	if (err == -ENOMEM)
		return nomem(ctx);
	if (err)
		return ctx_fail(ctx, err, -err, python,
				"cannot run the interpreter '%s' to learn its "
				"version: %s", python, strerror(-err));
	bad = !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	      parse_xy(buf, out);
	free(buf);
	if (bad)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, python,
				"cannot learn the Python version of '%s': it "
				"did not run or printed no version", python);
	return 0;
}

/* version_info (virtualenv) or version (venv) from pyvenv.cfg. */
static int read_pyvenv_cfg(spoke_ctx *ctx, const char *venv, char out[16],
			   int *found)
{
	char *cfg = path_join(venv, "pyvenv.cfg"), line[512];
	char vi[16] = "", v[16] = "";
	FILE *f;

	*found = 0;
	if (!cfg)
		return nomem(ctx);
	f = fopen(cfg, "re");
	if (!f) {
		int e = errno;
		int ret = e == ENOENT ?
			ctx_fail(ctx, SPOKE_E_USAGE, e, venv,
				 "'%s' is not a virtual environment: it has no "
				 "pyvenv.cfg", venv) :
			ctx_fail(ctx, -e, e, cfg, "cannot read '%s': %s", cfg,
				 strerror(e));
		free(cfg);
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *k = line, *ke;

		if (!eq)
			continue;
		while (*k == ' ' || *k == '\t')
			k++;
		ke = eq;
		while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		*ke = '\0';
		if (strcmp(k, "version_info") == 0)
			parse_xy(eq + 1, vi);
		else if (strcmp(k, "version") == 0)
			parse_xy(eq + 1, v);
	}
	fclose(f);
	free(cfg);
	if (vi[0] || v[0]) {
		snprintf(out, 16, "%s", vi[0] ? vi : v);
		*found = 1;
	}
	return 0;
}

/* ---- resolve ---------------------------------------------------------- */

static int set_path(struct scheme *s, enum spoke_scheme_key k,
		    const char *base, const char *rel)
{
	free(s->path[k]);
	s->path[k] = rel ? path_join(base, rel) : path_absolute(base);
	return s->path[k] ? 0 : SPOKE_E_NOMEM;
}

static int resolve_venv(spoke_ctx *ctx, const struct scheme_opts *o,
			struct scheme *s, const char *venv)
{
	char sp[64], inc[64];
	int found, err;

	s->kind = SCHEME_VENV;
	s->env = path_absolute(venv);
	if (!s->env)
		return nomem(ctx);
	err = read_pyvenv_cfg(ctx, s->env, s->pyver, &found);
	if (err)
		return err;
	if (o->python)
		s->python = scheme_find_python(o->python);
	else
		s->python = path_join(s->env, "bin/python");
	if (!s->python && !o->python)
		return nomem(ctx);
	if (!s->python)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, o->python,
				"cannot find the interpreter '%s'", o->python);
	if (!found) {
		err = run_python_version(ctx, s->python, s->pyver);
		if (err)
			return err;
	}
	snprintf(sp, sizeof(sp), "lib/python%s/site-packages", s->pyver);
	snprintf(inc, sizeof(inc), "include/site/python%s", s->pyver);
	if (set_path(s, SPOKE_SCHEME_PURELIB, s->env, sp) ||
	    set_path(s, SPOKE_SCHEME_PLATLIB, s->env, sp) ||
	    set_path(s, SPOKE_SCHEME_SCRIPTS, s->env, "bin") ||
	    set_path(s, SPOKE_SCHEME_HEADERS, s->env, inc) ||
	    set_path(s, SPOKE_SCHEME_DATA, s->env, "."))
		return nomem(ctx);
	return 0;
}

static int resolve_target(spoke_ctx *ctx, struct scheme *s, const char *dir)
{
	s->kind = SCHEME_TARGET;
	s->env = path_absolute(dir);
	if (!s->env || set_path(s, SPOKE_SCHEME_PURELIB, s->env, ".") ||
	    set_path(s, SPOKE_SCHEME_PLATLIB, s->env, ".") ||
	    set_path(s, SPOKE_SCHEME_SCRIPTS, s->env, "bin") ||
	    set_path(s, SPOKE_SCHEME_HEADERS, s->env, "include/python") ||
	    set_path(s, SPOKE_SCHEME_DATA, s->env, "."))
		return nomem(ctx);
	return 0;
}

int scheme_resolve(spoke_ctx *ctx, const struct scheme_opts *o,
		   struct scheme *s)
{
	const char *venv = o->venv;
	int explicit = 0, err = 0;

	memset(s, 0, sizeof(*s));
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		explicit |= o->path[k] != NULL;
	if (!!o->venv + !!o->target + !!o->prefix > 1)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL,
				"a venv, a target directory and a prefix "
				"exclude each other: give one");
	if (!venv && !o->target && !o->prefix && !o->root && !explicit) {
		venv = getenv("VIRTUAL_ENV");
		if (!venv || !*venv)
			return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL,
					"no environment to install into: give "
					"a venv or a target directory, or "
					"activate a virtual environment");
	}
	if (o->prefix || o->root)
		err = scheme_resolve_prefix(ctx, o, s);
	else if (venv)
		err = resolve_venv(ctx, o, s, venv);
	else if (o->target)
		err = resolve_target(ctx, s, o->target);
	else
		s->kind = SCHEME_EXPLICIT;
	if (err)
		return err;
	if (!s->python && o->python) {
		s->python = scheme_find_python(o->python);
		if (!s->python)
			return ctx_fail(ctx, SPOKE_E_USAGE, 0, o->python,
					"cannot find the interpreter '%s'",
					o->python);
	}
	if (o->shebang && !(s->shebang = scheme_find_python(o->shebang)))
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, o->shebang,
				"cannot find the interpreter '%s'", o->shebang);
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		if (o->path[k] && set_path(s, k, o->path[k], NULL))
			return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
					"out of memory");
	return 0;
}

void scheme_free(struct scheme *s)
{
	free(s->env);
	free(s->python);
	free(s->shebang);
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		free(s->path[k]);
	memset(s, 0, sizeof(*s));
}

int scheme_dir(spoke_ctx *ctx, const struct scheme *s,
	       enum spoke_scheme_key key, const char *why, const char **out)
{
	*out = s->path[key];
	if (*out)
		return 0;
	return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL,
			"%s needs a %s directory, and none is set (use a venv, "
			"a target directory or a scheme path)", why,
			scheme_key_name(key));
}

int scheme_python(spoke_ctx *ctx, const struct scheme *s, const char *why,
		  const char **out)
{
	*out = s->shebang ? s->shebang : s->python;
	if (*out)
		return 0;
	return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL,
			"%s needs the interpreter its scripts run with: give "
			"one (python)", why);
}

int scheme_pyver(spoke_ctx *ctx, struct scheme *s, const char *why,
		 const char **out)
{
	int err;

	*out = s->pyver;
	if (s->pyver[0])
		return 0;
	if (!s->python)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "%s needs the "
				"interpreter's version: give the interpreter "
				"(python)", why);
	err = run_python_version(ctx, s->python, s->pyver);
	*out = s->pyver;
	return err;
}

const char *scheme_root_of(const struct scheme *s, const char *abs)
{
	const char *best = NULL;

	if (s->env && path_under(s->env, abs))
		best = s->env;
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		if (s->path[k] && path_under(s->path[k], abs) &&
		    (!best || strlen(s->path[k]) > strlen(best)))
			best = s->path[k];
	return best;
}

int scheme_is_boundary(const struct scheme *s, const char *abs)
{
	if (s->env && strcmp(abs, s->env) == 0)
		return 1;
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		if (s->path[k] && path_under(abs, s->path[k]))
			return 1;
	return 0;
}

static int protected_name(const char *n)
{
	if (strcmp(n, "activate") == 0 || strncmp(n, "activate.", 9) == 0 ||
	    strcmp(n, "Activate.ps1") == 0 || strcmp(n, "pythonw") == 0)
		return 1;
	if (strncmp(n, "python", 6) != 0)
		return 0;
	n += 6;
	/* python, python3, python3.11 */
	while (*n >= '0' && *n <= '9')
		n++;
	if (*n == '.') {
		n++;
		if (!(*n >= '0' && *n <= '9'))
			return 0;
		while (*n >= '0' && *n <= '9')
			n++;
	}
	return *n == '\0';
}

int scheme_protected(const struct scheme *s, const char *abs)
{
	const char *scripts = s->path[SPOKE_SCHEME_SCRIPTS];
	const char *base = path_basename(abs);

	/* A --target's bin/ holds no interpreter of its own. */
	if (s->kind == SCHEME_TARGET)
		return 0;
	if (scripts && strncmp(abs, scripts, strlen(scripts)) == 0 &&
	    abs[strlen(scripts)] == '/' && base == abs + strlen(scripts) + 1 &&
	    protected_name(base))
		return 1;
	if (s->env && strncmp(abs, s->env, strlen(s->env)) == 0 &&
	    strcmp(abs + strlen(s->env), "/pyvenv.cfg") == 0)
		return 1;
	return 0;
}

int scheme_reserved(const struct scheme *s, const char *abs)
{
	const char *root = scheme_root_of(s, abs), *p;

	if (!root)
		return 0;
	p = abs + strlen(root);
	/* every component of the rest, each after its '/' */
	for (; *p; p++)
		if (*p == '/' && name_folds_to_prefix(p + 1, ".spoke"))
			return 1;
	return 0;
}
