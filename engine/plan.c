/* SPDX-License-Identifier: MIT */
/*
 * plan - see plan.h: where an entry of the plan is installed from, the
 * .pyc naming rule, and freeing a wheel's layout. The setters of the
 * public object are in api_plan.c, the layout walk in layout.c.
 */
#include "engine/plan.h"
#include "engine/layout.h"
#include "engine/wheelcache.h"
#include "cache/manifest.h"
#include "cache/store.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A cache key names the unpacked entry of the context's cache. */
static int key_source_dir(spoke_ctx *ctx, const struct plan_wheel *pw,
			  char **out)
{
	struct store *st = NULL;
	char err[512] = "";
	int ret = store_open(&st, ctx->cache_dir, 0, err, sizeof(err));

	if (ret)
		return ctx_fail(ctx, ret, ret > -4096 ? -ret : 0, NULL,
				"cache key %s: %s", pw->path,
				*err ? err : spoke_strerror(ret));
	if (store_entry_path(st, pw->path, out))
		ret = ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
			       "out of memory");
	else if ((ret = store_lookup_key(st, pw->path)))
		ret = ctx_fail(ctx, SPOKE_E_USAGE, -ret, *out, "no cache entry "
			       "'%s' in '%s' (%s; add the wheel first: spoke "
			       "cache add, spoke_cache_add)", pw->path,
			       st->root, strerror(-ret));
	if (ret) {
		free(*out);
		*out = NULL;
	}
	store_close(st);
	return ret;
}

int plan_wheel_requested(const struct spoke_plan *p, size_t i)
{
	return p->wheels[i].requested >= 0 ? p->wheels[i].requested :
	       p->requested;
}

int plan_source_dir(spoke_ctx *ctx, const struct plan_wheel *pw, char **out,
		    int *cached)
{
	struct stat st;

	*out = NULL;
	*cached = 1;
	if (pw->is_key)
		return key_source_dir(ctx, pw, out);
	if (stat(pw->path, &st) < 0)
		return ctx_fail(ctx, errno == ENOENT ? SPOKE_E_USAGE : -errno,
				errno, pw->path, "cannot install '%s': %s",
				pw->path, strerror(errno));
	if (S_ISDIR(st.st_mode) && pw->sha256)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, pw->path, "cannot check "
				"the sha256 of '%s': a directory, not a .whl",
				pw->path);
	if (!S_ISDIR(st.st_mode)) {
		size_t n = strlen(pw->path);

		if (!S_ISREG(st.st_mode) || n < 4 ||
		    strcmp(pw->path + n - 4, ".whl") != 0)
			return ctx_fail(ctx, SPOKE_E_USAGE, 0, pw->path,
					"cannot install '%s': neither a .whl "
					"file nor an unpacked wheel directory",
					pw->path);
		/* A .whl is unpacked (once) into the cache, verified, and
		 * installed from its entry like any tree. */
		return wheelcache_add_sha256(ctx, NULL, pw->path, pw->sha256,
					     out, NULL);
	}
	*cached = 0;
	*out = path_absolute(pw->path);
	if (!*out)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
	return 0;
}

size_t pyc_source_stem(const char *name)
{
	size_t n = strlen(name);
	const char *dot;

	if (n < 5 || strcmp(name + n - 4, ".pyc") != 0)
		return 0;
	n -= 4;
	dot = memrchr(name, '.', n);
	/* an optimisation level: "x.cpython-311.opt-1" */
	if (dot && strncmp(dot + 1, "opt-", 4) == 0 &&
	    (size_t)(dot + 5 - name) < n &&
	    strspn(dot + 5, "0123456789") == n - (size_t)(dot + 5 - name))
		n = (size_t)(dot - name);
	dot = memrchr(name, '.', n);
	if (!dot || dot == name || (size_t)(dot - name) + 1 == n)
		return 0;
	return (size_t)(dot - name);
}

void wplan_free(struct wplan *wp)
{
	wheel_close(&wp->w);
	installed_free_all(wp->old, wp->nold);
	for (size_t i = 0; i < wp->nroots; i++) {
		free(wp->roots[i].src);
		free(wp->roots[i].dst);
		for (char **s = wp->roots[i].skip; s && *s; s++)
			free(*s);
		free(wp->roots[i].skip);
	}
	free(wp->roots);
	for (size_t i = 0; i < wp->ngen; i++) {
		free(wp->gen[i].path);
		free(wp->gen[i].data);
	}
	free(wp->gen);
	record_free(&wp->out);
	free(wp->record_text);
	free(wp->record_path);
	strmap_free(&wp->nfc_alias);
	layout_claims_free(wp);
	spoke_ctx_free(wp->lerr);
	if (wp->src)
		manifest_free(wp->src);
	free(wp->src);
	memset(wp, 0, sizeof(*wp));
}

void plan_scheme_opts(const struct spoke_plan *p, struct scheme_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->venv = p->venv;
	o->target = p->target;
	o->python = p->python;
	o->prefix = p->prefix;
	o->root = p->root;
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		o->path[k] = p->path[k];
	o->shebang = p->shebang_python;
}
