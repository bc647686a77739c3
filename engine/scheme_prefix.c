/* SPDX-License-Identifier: MIT */
/*
 * scheme_prefix - pip's --prefix and --root (see scheme.h). A prefix has
 * no pyvenv.cfg to read, so its layout (pip's posix_prefix) comes from
 * what the interpreter says about itself: X.Y, sys.platlibdir, abiflags,
 * and whether it runs in a venv (pip then puts headers under
 * include/site/pythonX.Y). A root is prepended to every scheme path of a
 * prefix, a target or a venv, as pip does for staged installs; the
 * interpreter scripts name stays unrooted, as pip's sys.executable does.
 */
#include "engine/scheme.h"
#include "base/alloc.h"
#include "base/spawn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

static int take_line(char **p, char *out, size_t len)
{
	size_t n = strcspn(*p, "\n");

	if (!(*p)[n] || n >= len)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n + 1;
	return 0;
}

static int python_info(spoke_ctx *ctx, const char *python, struct pyinfo *pi)
{
	char *const argv[] = { (char *)python, "-I", "-c",
			       (char *)INFO_SCRIPT, NULL };
	char *buf, *p, flag[8] = "";
	int status = 0, more, err, bad;

	err = spawn_capture(argv, 0, 511, &buf, &more, &status);
	if (err == -ENOMEM)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	if (err)
		return ctx_fail(ctx, SPOKE_E_USAGE, -err, python,
				"cannot run the interpreter '%s' to learn its "
				"install scheme: %s", python, strerror(-err));
	p = buf;
	bad = !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	      take_line(&p, pi->xy, sizeof(pi->xy)) ||
	      take_line(&p, pi->platlibdir, sizeof(pi->platlibdir)) ||
	      take_line(&p, pi->abiflags, sizeof(pi->abiflags)) ||
	      take_line(&p, flag, sizeof(flag)) || !pi->xy[0] ||
	      !pi->platlibdir[0] || strchr(pi->platlibdir, '/') ||
	      strstr(pi->platlibdir, "..") || strchr(pi->abiflags, '/');
	pi->in_venv = flag[0] == '1';
	free(buf);
	if (bad)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, python,
				"cannot learn the install scheme of '%s': it "
				"failed or printed nothing usable", python);
	return 0;
}

/* root + base + "/" + rel; base is absolute and normalised. */
static int set_rooted(struct scheme *s, enum spoke_scheme_key k,
		      const char *root, const char *base, const char *rel)
{
	char *joined = rel ? path_join(base, rel) : xstrdup(base);
	char *full = joined;

	if (joined && root) {
		full = path_join(root, joined + 1);
		free(joined);
	}
	free(s->path[k]);
	s->path[k] = full;
	return full ? 0 : SPOKE_E_NOMEM;
}

static int layout(struct scheme *s, const char *root, const char *base,
		  const struct pyinfo *pi, int target)
{
	char lib[128], plat[160], inc[64];

	if (target)
		return set_rooted(s, SPOKE_SCHEME_PURELIB, root, base, NULL) ||
		       set_rooted(s, SPOKE_SCHEME_PLATLIB, root, base, NULL) ||
		       set_rooted(s, SPOKE_SCHEME_SCRIPTS, root, base, "bin") ||
		       set_rooted(s, SPOKE_SCHEME_HEADERS, root, base,
				  "include/python") ||
		       set_rooted(s, SPOKE_SCHEME_DATA, root, base, NULL);
	snprintf(lib, sizeof(lib), "lib/python%s/site-packages", pi->xy);
	snprintf(plat, sizeof(plat), "%s/python%s/site-packages",
		 pi->platlibdir, pi->xy);
	if (pi->in_venv)
		snprintf(inc, sizeof(inc), "include/site/python%s", pi->xy);
	else
		snprintf(inc, sizeof(inc), "include/python%s%s", pi->xy,
			 pi->abiflags);
	return set_rooted(s, SPOKE_SCHEME_PURELIB, root, base, lib) ||
	       set_rooted(s, SPOKE_SCHEME_PLATLIB, root, base, plat) ||
	       set_rooted(s, SPOKE_SCHEME_SCRIPTS, root, base, "bin") ||
	       set_rooted(s, SPOKE_SCHEME_HEADERS, root, base, inc) ||
	       set_rooted(s, SPOKE_SCHEME_DATA, root, base, NULL);
}

int scheme_resolve_prefix(spoke_ctx *ctx, const struct scheme_opts *o,
			  struct scheme *s)
{
	const char *venv = o->venv, *base;
	char *root = NULL, *abase;
	struct pyinfo pi;
	int err;

	if (!venv && !o->target && !o->prefix)
		venv = getenv("VIRTUAL_ENV");
	if (venv && !*venv)
		venv = NULL;
	base = o->prefix ? o->prefix : o->target ? o->target : venv;
	if (!base)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL,
				"a root needs an environment to stage: a "
				"venv, a target or a prefix");
	s->kind = SCHEME_EXPLICIT;
	memset(&pi, 0, sizeof(pi));
	if (!o->target) {
		/* The interpreter whose scheme this is: the given one, the
		 * venv's, else python3 on PATH (the one pip would run as). */
		if (o->python)
			s->python = scheme_find_python(o->python);
		else if (venv)
			s->python = path_join(venv, "bin/python");
		else
			s->python = scheme_find_python("python3");
		if (!s->python)
			return ctx_fail(ctx, SPOKE_E_USAGE, 0, o->python,
					"a prefix needs an interpreter to "
					"learn its layout, and '%s' is not "
					"found", o->python ? o->python :
					"python3");
		err = python_info(ctx, s->python, &pi);
		if (err)
			return err;
		memcpy(s->pyver, pi.xy, sizeof(s->pyver));
	}
	abase = path_absolute(base);
	if ((o->root && !(root = path_absolute(o->root))) || !abase)
		err = SPOKE_E_NOMEM;
	else
		err = layout(s, root, abase, &pi, !!o->target);
	free(root);
	free(abase);
	if (err)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	return 0;
}
