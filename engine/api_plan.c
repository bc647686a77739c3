/* SPDX-License-Identifier: MIT */
/*
 * api_plan - the public spoke_plan object (include/spoke.h): creating and
 * freeing it and its setters. A setter only stores what it is given; paths
 * and combinations are checked when the plan runs (install.c, scheme.c,
 * layout.c), where a failure has a context to carry its message.
 */
#include "engine/plan.h"
#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

spoke_plan *spoke_plan_create(void)
{
	return xcalloc(1, sizeof(struct spoke_plan));
}

void spoke_plan_free(spoke_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nwheels; i++) {
		free(p->wheels[i].path);
		free(p->wheels[i].direct_url);
		free(p->wheels[i].sha256);
	}
	free(p->wheels);
	for (size_t i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	for (size_t i = 0; i < p->nremoves; i++)
		free(p->removes[i]);
	free(p->removes);
	free(p->installer);
	free(p->venv);
	free(p->target);
	free(p->prefix);
	free(p->root);
	free(p->python);
	free(p->shebang_python);
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		free(p->path[k]);
	free(p);
}

/* Only memory can fail here. */
int spoke_plan_add_wheel(spoke_plan *p, const char *path)
{
	struct plan_wheel *w;

	if (!p || !path || !*path)
		return SPOKE_E_USAGE;
	if (p->nwheels >= INT32_MAX)
		return SPOKE_E_USAGE;
	w = xrealloc(p->wheels, (p->nwheels + 1) * sizeof(*w));
	if (!w)
		return SPOKE_E_NOMEM;
	p->wheels = w;
	memset(&w[p->nwheels], 0, sizeof(*w));
	w[p->nwheels].requested = -1;
	if (!(w[p->nwheels].path = xstrdup(path)))
		return SPOKE_E_NOMEM;
	return (int)p->nwheels++;
}

static int add_str(char ***vec, size_t *n, const char *s)
{
	char **v;

	if (!s || !*s)
		return SPOKE_E_USAGE;
	v = xrealloc(*vec, (*n + 1) * sizeof(*v));
	if (!v)
		return SPOKE_E_NOMEM;
	*vec = v;
	if (!(v[*n] = xstrdup(s)))
		return SPOKE_E_NOMEM;
	(*n)++;
	return 0;
}

int spoke_plan_add_name(spoke_plan *p, const char *name)
{
	return p ? add_str(&p->names, &p->nnames, name) : SPOKE_E_USAGE;
}

static int set_str(char **slot, const char *v)
{
	char *copy = NULL;

	if (v && !(copy = xstrdup(v)))
		return SPOKE_E_NOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

int spoke_plan_set_venv(spoke_plan *p, const char *venv)
{
	return p ? set_str(&p->venv, venv) : SPOKE_E_USAGE;
}

int spoke_plan_set_target(spoke_plan *p, const char *dir)
{
	return p ? set_str(&p->target, dir) : SPOKE_E_USAGE;
}

int spoke_plan_set_prefix(spoke_plan *p, const char *dir)
{
	return p ? set_str(&p->prefix, dir) : SPOKE_E_USAGE;
}

int spoke_plan_set_root(spoke_plan *p, const char *dir)
{
	return p ? set_str(&p->root, dir) : SPOKE_E_USAGE;
}

int spoke_plan_set_scheme_path(spoke_plan *p, enum spoke_scheme_key key,
			       const char *path)
{
	if (!p || (unsigned)key >= SPOKE_SCHEME__MAX)
		return SPOKE_E_USAGE;
	return set_str(&p->path[key], path);
}

int spoke_plan_set_python(spoke_plan *p, const char *python)
{
	return p ? set_str(&p->python, python) : SPOKE_E_USAGE;
}

/* Only the shebang: python (or the venv's) stays the interpreter whose
 * version and tags count. */
int spoke_plan_set_shebang_python(spoke_plan *p, const char *python)
{
	return p ? set_str(&p->shebang_python, python) : SPOKE_E_USAGE;
}

int spoke_plan_set_reinstall(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->reinstall = !!on;
	return 0;
}

int spoke_plan_set_dry_run(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->dry_run = !!on;
	return 0;
}

int spoke_plan_set_requested(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->requested = !!on;
	return 0;
}

int spoke_plan_set_allow_overwrite(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->allow_overwrite = !!on;
	return 0;
}

int spoke_plan_set_direct_url(spoke_plan *p, int wheel, const char *json)
{
	if (!p || wheel < 0 || (size_t)wheel >= p->nwheels)
		return SPOKE_E_USAGE;
	return set_str(&p->wheels[wheel].direct_url, json);
}

/* Bytecode for the installed modules (engine/bytecode.c). */
int spoke_plan_set_compile_bytecode(spoke_plan *p, int on, int optimize)
{
	if (!p || optimize < 0 || optimize > 2)
		return SPOKE_E_USAGE;
	p->compile_bytecode = !!on;
	p->compile_optimize = optimize;
	return 0;
}

/* Whether a busy environment lock fails at once (engine/lock.c). */
int spoke_plan_set_no_wait(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->no_wait = !!on;
	return 0;
}

/* ---- plan-level control for resolvers ---------------------------------- */

static int is_hex64(const char *s, int lower_only)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		      (s[n] >= 'a' && s[n] <= 'f') ||
		      (!lower_only && s[n] >= 'A' && s[n] <= 'F')))
			return 0;
	return n == 64;
}

int spoke_plan_add_wheel_sha256(spoke_plan *p, const char *path,
				const char *sha256)
{
	int i;

	if (!p || !sha256 || !is_hex64(sha256, 0))
		return SPOKE_E_USAGE;
	i = spoke_plan_add_wheel(p, path);
	if (i >= 0 && !(p->wheels[i].sha256 = xstrdup(sha256))) {
		free(p->wheels[i].path);
		p->nwheels--;
		return SPOKE_E_NOMEM;
	}
	return i;
}

int spoke_plan_add_cache_key(spoke_plan *p, const char *key)
{
	int i;

	if (!p || !key || !is_hex64(key, 1))
		return SPOKE_E_USAGE;
	i = spoke_plan_add_wheel(p, key);
	if (i >= 0)
		p->wheels[i].is_key = 1;
	return i;
}

int spoke_plan_set_wheel_requested(spoke_plan *p, int wheel, int on)
{
	if (!p || wheel < 0 || (size_t)wheel >= p->nwheels)
		return SPOKE_E_USAGE;
	p->wheels[wheel].requested = !!on;
	return 0;
}

/* INSTALLER is one line other tools print and compare: keep it a plain
 * token, so a name can never break the file's format. */
int spoke_plan_set_installer(spoke_plan *p, const char *name)
{
	size_t n = 0;

	if (!p)
		return SPOKE_E_USAGE;
	for (; name && name[n]; n++)
		if (name[n] <= ' ' || name[n] > '~')
			return SPOKE_E_USAGE;
	if (name && (n == 0 || n > 64))
		return SPOKE_E_USAGE;
	return set_str(&p->installer, name);
}

int spoke_plan_add_remove(spoke_plan *p, const char *name)
{
	return p ? add_str(&p->removes, &p->nremoves, name) : SPOKE_E_USAGE;
}

/* Off by default: a resolver that chose the wheels for this interpreter
 * has checked them already (engine/compat.c). */
int spoke_plan_set_compat_check(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->compat_check = !!on;
	return 0;
}
