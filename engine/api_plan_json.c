/* SPDX-License-Identifier: MIT */
/*
 * api_plan_json - spoke_plan_load_json(): a plan file, the shape a resolver
 * writes (docs/EMBEDDING.md has the schema and an example), turned into
 * spoke_plan and spoke_ctx settings. cJSON parses; this file only walks the
 * tree it gives.
 *
 * The loader is strict: an unknown or repeated key, a wrong type or an
 * out-of-range value is SPOKE_E_USAGE with a message naming the key by its
 * place in the document ("plan: wheels[2].cache_key: ..."), because a typo
 * silently ignored would install something other than what the resolver
 * decided. Keys starting with "x-" are the one exception: they are left to
 * the writer (its own bookkeeping) and ignored. The whole document is
 * checked first, cache keys resolved included, and only then applied, so a
 * load that fails leaves the plan and the context as they were.
 *
 * cJSON allocates with its own malloc: its allocator hooks are process-wide
 * and would also change the host's own use of cJSON, so they are left alone
 * (as in report.c). Everything this file keeps goes through base/alloc.h.
 *
 * Over 600 lines (about 700): the loader is one concern (stage every key,
 * then apply), and splitting its stage_* functions from it would only
 * spread one schema over two files.
 */
#include "engine/ctx.h"
#include "engine/direct_url.h"
#include "cache/store.h"
#include "base/alloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_VERSION 1
#define WHERE_MAX 96

struct staged_wheel {
	char *path;       /* heap: as given, or the cache entry's directory */
	char *direct_url; /* heap JSON text, or NULL */
	const char *sha256; /* the .whl's expected sha256, or NULL */
	int requested;    /* -1: the plan's setting */
};

/* Everything the document says, checked, before any of it is applied.
 * Strings point into the cJSON tree (alive until the load ends) unless
 * noted; -1 means "not given" for numbers and flags. */
struct staged {
	struct staged_wheel *wheels;
	size_t nwheels;
	const char **names;
	size_t nnames;
	const char **removes;
	size_t nremoves;
	const char *installer;
	const char *venv, *target, *python, *cache_dir;
	const char *prefix, *root;
	const char *path[SPOKE_SCHEME__MAX];
	int link_mode, jobs, io, no_verify, no_fallback;
	int reinstall, requested, allow_overwrite, dry_run, no_wait;
	int compat_check;
	int compile_bytecode, compile_optimize;
};

struct loader {
	spoke_ctx *ctx;
	struct staged st;
	struct store *store; /* opened on the first cache key */
};

/* Indexed by enum spoke_scheme_key. */
static const char *const scheme_keys[SPOKE_SCHEME__MAX + 1] = {
	"purelib", "platlib", "scripts", "headers", "data", NULL
};

static int bad(struct loader *ld, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A schema error: "plan: <where>: <what>". */
static int bad(struct loader *ld, const char *where, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ctx_fail(ld->ctx, SPOKE_E_USAGE, 0, NULL, "plan: %s%s%s",
			where ? where : "", where ? ": " : "", msg);
}

static int nomem(struct loader *ld)
{
	return ctx_fail(ld->ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

/* where.key, for messages: keys are short and nesting shallow, and a
 * place cut short would still point the reader at it. */
static void sub(char out[WHERE_MAX], const char *where, const char *key)
{
	if (snprintf(out, WHERE_MAX, "%s%s%s", where, *where ? "." : "",
		     key) >= WHERE_MAX)
		memcpy(out + WHERE_MAX - 4, "...", 4);
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return "an object";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	return "invalid";
}

/* Every key of obj must be one of allowed (NULL-terminated) or start with
 * "x-", and none may repeat: cJSON keeps both copies of a repeated key and
 * a lookup would silently take the first. */
static int check_keys(struct loader *ld, const cJSON *obj, const char *where,
		      const char *const *allowed)
{
	char list[256] = "";

	for (const cJSON *c = obj->child; c; c = c->next) {
		int known = 0;

		if (!strncmp(c->string, "x-", 2))
			continue;
		for (const char *const *a = allowed; *a; a++)
			known |= !strcmp(c->string, *a);
		if (!known) {
			for (const char *const *a = allowed; *a; a++)
				snprintf(list + strlen(list),
					 sizeof(list) - strlen(list), "%s%s",
					 a == allowed ? "" : ", ", *a);
			return bad(ld, *where ? where : "top level",
				   "unknown key '%s' (known: %s; keys starting "
				   "with 'x-' are ignored)", c->string, list);
		}
		for (const cJSON *d = c->next; d; d = d->next)
			if (!strcmp(c->string, d->string))
				return bad(ld, *where ? where : "top level",
					   "key '%s' given twice", c->string);
	}
	return 0;
}

/* A non-empty string. */
static int get_str(struct loader *ld, const cJSON *obj, const char *key,
		   const char *where, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char w[WHERE_MAX];

	if (!v)
		return 0;
	sub(w, where, key);
	if (!cJSON_IsString(v) || !v->valuestring)
		return bad(ld, w, "expected a string, got %s", type_name(v));
	if (!*v->valuestring)
		return bad(ld, w, "must not be empty");
	*out = v->valuestring;
	return 0;
}

static int get_bool(struct loader *ld, const cJSON *obj, const char *key,
		    const char *where, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char w[WHERE_MAX];

	if (!v)
		return 0;
	sub(w, where, key);
	if (!cJSON_IsBool(v))
		return bad(ld, w, "expected true or false, got %s",
			   type_name(v));
	*out = cJSON_IsTrue(v);
	return 0;
}

/* One of names (by index), given as a string. */
static int get_enum(struct loader *ld, const cJSON *obj, const char *key,
		    const char *where, const char *const *names, int *out)
{
	const char *s = NULL;
	char w[WHERE_MAX], list[128] = "";
	int err = get_str(ld, obj, key, where, &s);

	if (err || !s)
		return err;
	for (int i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", names[i]);
	}
	sub(w, where, key);
	return bad(ld, w, "'%s' is not one of %s", s, list);
}

/* options.compile_optimize: 0, 1 or 2 (-O, -OO). */
static int get_optimize(struct loader *ld, const cJSON *o, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "compile_optimize");

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !(v->valuedouble == 0 ||
				    v->valuedouble == 1 || v->valuedouble == 2))
		return bad(ld, "options.compile_optimize", "expected 0, 1 or 2");
	*out = (int)v->valuedouble;
	return 0;
}

static int stage_options(struct loader *ld, const cJSON *o)
{
	static const char *const keys[] = {
		"link_mode", "jobs", "io", "reinstall", "requested",
		"allow_overwrite", "dry_run", "no_wait", "no_verify",
		"no_fallback", "cache_dir", "installer", "compat_check",
		"compile_bytecode", "compile_optimize", NULL
	};
	/* Indexes are the enum values of spoke.h. */
	static const char *const modes[] = { "auto", "clone", "hardlink",
					     "copy", "symlink", NULL };
	static const char *const ios[] = { "auto", "uring", "sync", NULL };
	struct staged *st = &ld->st;
	const cJSON *jobs;
	int err;

	if (!cJSON_IsObject(o))
		return bad(ld, "options", "expected an object, got %s",
			   type_name(o));
	err = check_keys(ld, o, "options", keys);
	if (!err)
		err = get_enum(ld, o, "link_mode", "options", modes,
			       &st->link_mode);
	if (!err)
		err = get_enum(ld, o, "io", "options", ios, &st->io);
	if (!err)
		err = get_bool(ld, o, "reinstall", "options", &st->reinstall);
	if (!err)
		err = get_bool(ld, o, "requested", "options", &st->requested);
	if (!err)
		err = get_bool(ld, o, "allow_overwrite", "options",
			       &st->allow_overwrite);
	if (!err)
		err = get_bool(ld, o, "dry_run", "options", &st->dry_run);
	if (!err)
		err = get_bool(ld, o, "no_wait", "options", &st->no_wait);
	if (!err)
		err = get_bool(ld, o, "compat_check", "options",
			       &st->compat_check);
	if (!err)
		err = get_bool(ld, o, "no_verify", "options", &st->no_verify);
	if (!err)
		err = get_bool(ld, o, "compile_bytecode", "options",
			       &st->compile_bytecode);
	if (!err)
		err = get_optimize(ld, o, &st->compile_optimize);
	if (!err)
		err = get_bool(ld, o, "no_fallback", "options",
			       &st->no_fallback);
	if (!err)
		err = get_str(ld, o, "cache_dir", "options", &st->cache_dir);
	if (!err)
		err = get_str(ld, o, "installer", "options", &st->installer);
	/* Checked here, so that a bad name leaves plan and ctx unchanged. */
	if (!err && st->installer) {
		spoke_plan *probe = spoke_plan_create();

		if (!probe)
			return nomem(ld);
		err = spoke_plan_set_installer(probe, st->installer);
		spoke_plan_free(probe);
		if (err == SPOKE_E_NOMEM)
			return nomem(ld);
		if (err)
			return bad(ld, "options.installer", "expected a tool "
				   "name: 1 to 64 printable ASCII characters, "
				   "no spaces");
	}
	jobs = cJSON_GetObjectItemCaseSensitive(o, "jobs");
	if (!err && jobs) {
		double d = jobs->valuedouble;

		/* The same range as spoke_ctx_set_jobs(). */
		if (!cJSON_IsNumber(jobs) || !(d >= 0 && d <= 1024) ||
		    d != (double)(int)d)
			return bad(ld, "options.jobs", "expected a whole number "
				   "from 0 (one per CPU) to 1024");
		st->jobs = (int)d;
	}
	return err;
}

static int stage_environment(struct loader *ld, const cJSON *e)
{
	static const char *const keys[] = { "venv", "target", "python",
					    "prefix", "root", "scheme", NULL };
	struct staged *st = &ld->st;
	const cJSON *scheme;
	int err;

	if (!cJSON_IsObject(e))
		return bad(ld, "environment", "expected an object, got %s",
			   type_name(e));
	err = check_keys(ld, e, "environment", keys);
	if (!err)
		err = get_str(ld, e, "venv", "environment", &st->venv);
	if (!err)
		err = get_str(ld, e, "target", "environment", &st->target);
	if (!err)
		err = get_str(ld, e, "python", "environment", &st->python);
	if (!err)
		err = get_str(ld, e, "prefix", "environment", &st->prefix);
	if (!err)
		err = get_str(ld, e, "root", "environment", &st->root);
	if (!err && !!st->venv + !!st->target + !!st->prefix > 1)
		return bad(ld, "environment", "'venv', 'target' and 'prefix' "
			   "exclude each other: give one");
	scheme = cJSON_GetObjectItemCaseSensitive(e, "scheme");
	if (err || !scheme)
		return err;
	if (!cJSON_IsObject(scheme))
		return bad(ld, "environment.scheme", "expected an object, got "
			   "%s", type_name(scheme));
	err = check_keys(ld, scheme, "environment.scheme", scheme_keys);
	for (int k = 0; k < SPOKE_SCHEME__MAX && !err; k++)
		err = get_str(ld, scheme, scheme_keys[k], "environment.scheme",
			      &st->path[k]);
	return err;
}

/* direct_url (PEP 610) as an object, or as a string holding one; either
 * way it must have PEP 610's shape (direct_url.h). */
static int stage_direct_url(struct loader *ld, const cJSON *v,
			    const char *where, char **out)
{
	cJSON *parsed = NULL;
	const cJSON *obj = v;
	const char *why;
	char *text;
	int err = 0;

	if (cJSON_IsString(v) && v->valuestring) {
		parsed = cJSON_Parse(v->valuestring);
		obj = parsed;
	} else if (!cJSON_IsObject(v)) {
		return bad(ld, where, "expected an object (PEP 610 "
			   "direct_url.json), got %s", type_name(v));
	}
	why = obj ? direct_url_problem(obj) : "not JSON";
	if (why) {
		err = bad(ld, where, "not PEP 610 direct_url.json: %s (it "
			  "needs a string \"url\" and exactly one of the objects "
			  "\"archive_info\", \"dir_info\", \"vcs_info\")",
			  why);
		goto out;
	}
	text = cJSON_PrintUnformatted(obj);
	if (!text || !(*out = xstrdup(text)))
		err = nomem(ld);
	cJSON_free(text);
out:
	cJSON_Delete(parsed);
	return err;
}

static int is_key(const char *s)
{
	if (strlen(s) != STORE_KEY_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A cache key names the verified entry archive-v2/<key> of the cache the
 * context uses (or options.cache_dir), which installs like any tree. */
static int resolve_key(struct loader *ld, const char *key, const char *where,
		       char **out)
{
	char err[512] = "", *entry = NULL;
	int ret;

	if (!is_key(key))
		return bad(ld, where, "'%s' is not a cache key (64 lowercase "
			   "hex digits: the sha256 of the .whl)", key);
	if (!ld->store) {
		ret = store_open(&ld->store, ld->st.cache_dir ?
				 ld->st.cache_dir : ld->ctx->cache_dir, 0, err,
				 sizeof(err));
		if (ret)
			return ctx_fail(ld->ctx, ret, ret > -4096 ? -ret : 0,
					NULL, "plan: %s: %s", where,
					*err ? err : spoke_strerror(ret));
	}
	ret = store_entry_path(ld->store, key, &entry);
	if (ret)
		return nomem(ld);
	ret = store_lookup_key(ld->store, key);
	if (ret) {
		ret = ctx_fail(ld->ctx, SPOKE_E_USAGE, -ret, entry, "plan: %s: "
			       "no cache entry '%s' in '%s' (%s; add the wheel "
			       "first: spoke cache add, spoke_cache_add)", where,
			       key, ld->store->root, strerror(-ret));
		free(entry);
		return ret;
	}
	*out = entry;
	return 0;
}

static int stage_wheel(struct loader *ld, const cJSON *v, size_t i)
{
	static const char *const keys[] = { "path", "cache_key", "direct_url",
					    "sha256", "requested", NULL };
	struct staged_wheel *w = &ld->st.wheels[ld->st.nwheels];
	const char *path = NULL, *key = NULL;
	const cJSON *url;
	char where[WHERE_MAX], w2[WHERE_MAX];
	int err;

	snprintf(where, sizeof(where), "wheels[%zu]", i);
	if (cJSON_IsString(v)) {
		if (!v->valuestring || !*v->valuestring)
			return bad(ld, where, "must not be empty");
		path = v->valuestring;
		w->requested = -1;
	} else if (!cJSON_IsObject(v)) {
		return bad(ld, where, "expected a path or an object with "
			   "\"path\" or \"cache_key\", got %s", type_name(v));
	} else {
		err = check_keys(ld, v, where, keys);
		if (!err)
			err = get_str(ld, v, "path", where, &path);
		if (!err)
			err = get_str(ld, v, "cache_key", where, &key);
		if (err)
			return err;
		if (!path == !key)
			return bad(ld, where, "give exactly one of \"path\" "
				   "and \"cache_key\"");
		w->requested = -1;
		if (!err)
			err = get_bool(ld, v, "requested", where,
				       &w->requested);
		if (!err)
			err = get_str(ld, v, "sha256", where, &w->sha256);
		if (err)
			return err;
		if (w->sha256 && (key || strlen(w->sha256) != 64 ||
				  strspn(w->sha256, "0123456789abcdefABCDEF")
				  != 64)) {
			sub(w2, where, "sha256");
			return bad(ld, w2, key ? "not with \"cache_key\" (the "
				   "key is the sha256)" : "expected 64 hex "
				   "digits");
		}
	}
	/* Counted before anything is owned, so a failure below frees it. */
	ld->st.nwheels++;
	if (key) {
		sub(w2, where, "cache_key");
		err = resolve_key(ld, key, w2, &w->path);
	} else {
		err = (w->path = xstrdup(path)) ? 0 : nomem(ld);
	}
	url = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v,
			"direct_url") : NULL;
	if (!err && url) {
		sub(w2, where, "direct_url");
		err = stage_direct_url(ld, url, w2, &w->direct_url);
	}
	return err;
}

static int stage_wheels(struct loader *ld, const cJSON *a)
{
	size_t n = 0, i = 0;
	const cJSON *v;
	int err = 0;

	if (!cJSON_IsArray(a))
		return bad(ld, "wheels", "expected an array, got %s",
			   type_name(a));
	for (v = a->child; v; v = v->next)
		n++;
	if (n && !(ld->st.wheels = xcalloc(n, sizeof(*ld->st.wheels))))
		return nomem(ld);
	for (v = a->child; v && !err; v = v->next)
		err = stage_wheel(ld, v, i++);
	return err;
}

/* "names" (to uninstall) and "remove" (removed by an install). */
static int stage_names(struct loader *ld, const cJSON *a, const char *key,
		       const char ***out, size_t *nout)
{
	size_t n = 0, i = 0;
	const cJSON *v;

	if (!cJSON_IsArray(a))
		return bad(ld, key, "expected an array, got %s",
			   type_name(a));
	for (v = a->child; v; v = v->next)
		n++;
	if (n && !(*out = xcalloc(n, sizeof(**out))))
		return nomem(ld);
	for (v = a->child; v; v = v->next, i++) {
		if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring)
			return bad(ld, key, "item %zu: expected a "
				   "distribution name, got %s", i,
				   cJSON_IsString(v) ? "\"\"" : type_name(v));
		(*out)[(*nout)++] = v->valuestring;
	}
	return 0;
}

static int stage(struct loader *ld, const cJSON *root)
{
	static const char *const keys[] = { "version", "wheels", "names",
					    "remove", "environment", "options",
					    NULL };
	const cJSON *v;
	int err;

	if (!cJSON_IsObject(root))
		return bad(ld, NULL, "the document must be a JSON object, not "
			   "%s", type_name(root));
	err = check_keys(ld, root, "", keys);
	if (err)
		return err;
	v = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (v && (!cJSON_IsNumber(v) || v->valuedouble != PLAN_VERSION))
		return bad(ld, "version", "this libspoke reads plan version %d "
			   "only", PLAN_VERSION);
	/* Options first: options.cache_dir decides where cache keys are. */
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "options")) &&
	    (err = stage_options(ld, v)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "environment")) &&
	    (err = stage_environment(ld, v)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "names")) &&
	    (err = stage_names(ld, v, "names", &ld->st.names,
				 &ld->st.nnames)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "remove")) &&
	    (err = stage_names(ld, v, "remove", &ld->st.removes,
			       &ld->st.nremoves)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "wheels")))
		err = stage_wheels(ld, v);
	return err;
}

/* Only memory can fail here: every value was checked by stage(). */
static int apply(struct loader *ld, spoke_plan *plan)
{
	const struct staged *st = &ld->st;
	spoke_ctx *ctx = ld->ctx;
	int err = 0;

	if (st->link_mode >= 0)
		spoke_ctx_set_link_mode(ctx, (enum spoke_link_mode)st->link_mode);
	if (st->io >= 0)
		spoke_ctx_set_io(ctx, (enum spoke_io_backend)st->io);
	if (st->jobs >= 0)
		spoke_ctx_set_jobs(ctx, (unsigned)st->jobs);
	if (st->no_verify >= 0)
		spoke_ctx_set_verify(ctx, !st->no_verify);
	if (st->no_fallback >= 0)
		spoke_ctx_set_no_fallback(ctx, st->no_fallback);
	if (st->cache_dir)
		err = spoke_ctx_set_cache_dir(ctx, st->cache_dir);
	if (!err && st->venv)
		err = spoke_plan_set_venv(plan, st->venv);
	if (!err && st->target)
		err = spoke_plan_set_target(plan, st->target);
	if (!err && st->prefix)
		err = spoke_plan_set_prefix(plan, st->prefix);
	if (!err && st->root)
		err = spoke_plan_set_root(plan, st->root);
	if (!err && st->python)
		err = spoke_plan_set_python(plan, st->python);
	for (int k = 0; k < SPOKE_SCHEME__MAX && !err; k++)
		if (st->path[k])
			err = spoke_plan_set_scheme_path(plan, k, st->path[k]);
	if (!err && st->reinstall >= 0)
		err = spoke_plan_set_reinstall(plan, st->reinstall);
	if (!err && st->requested >= 0)
		err = spoke_plan_set_requested(plan, st->requested);
	if (!err && st->allow_overwrite >= 0)
		err = spoke_plan_set_allow_overwrite(plan, st->allow_overwrite);
	if (!err && st->dry_run >= 0)
		err = spoke_plan_set_dry_run(plan, st->dry_run);
	if (!err && st->no_wait >= 0)
		err = spoke_plan_set_no_wait(plan, st->no_wait);
	if (!err && st->installer)
		err = spoke_plan_set_installer(plan, st->installer);
	if (!err && st->compat_check >= 0)
		err = spoke_plan_set_compat_check(plan, st->compat_check);
	if (!err && (st->compile_bytecode >= 0 || st->compile_optimize >= 0))
		err = spoke_plan_set_compile_bytecode(plan,
			st->compile_bytecode > 0, st->compile_optimize > 0 ?
			st->compile_optimize : 0);
	for (size_t i = 0; i < st->nnames && !err; i++)
		err = spoke_plan_add_name(plan, st->names[i]);
	for (size_t i = 0; i < st->nremoves && !err; i++)
		err = spoke_plan_add_remove(plan, st->removes[i]);
	for (size_t i = 0; i < st->nwheels && !err; i++) {
		const struct staged_wheel *w = &st->wheels[i];
		int idx = w->sha256 ? spoke_plan_add_wheel_sha256(plan, w->path,
								  w->sha256) :
			  spoke_plan_add_wheel(plan, w->path);

		err = idx < 0 ? idx : 0;
		if (!err && w->requested >= 0)
			err = spoke_plan_set_wheel_requested(plan, idx,
							     w->requested);
		if (!err && st->wheels[i].direct_url)
			err = spoke_plan_set_direct_url(plan, idx,
							st->wheels[i].direct_url);
	}
	return err ? nomem(ld) : 0;
}

/* The offset of a NUL byte, raw or as a \u0000 escape in a string, or
 * len when there is none. cJSON would hand such a string back cut short at
 * the NUL, and "/venv\u0000/../elsewhere" must not quietly become
 * "/venv". */
static size_t find_nul(const char *json, size_t len)
{
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		if (!json[i])
			return i;
		if (json[i] == '"') {
			in_str = !in_str;
		} else if (in_str && json[i] == '\\' && i + 1 < len) {
			if (json[i + 1] == 'u' && i + 5 < len &&
			    !memcmp(json + i + 2, "0000", 4))
				return i;
			i++; /* the escaped character, perhaps a quote */
		}
	}
	return len;
}

/* "line L, column C" of the byte at off, both 1-based. */
static void position(const char *json, size_t off, char *buf, size_t len)
{
	size_t line = 1, col = 1;

	for (size_t i = 0; i < off; i++, col++)
		if (json[i] == '\n')
			line++, col = 0;
	snprintf(buf, len, "line %zu, column %zu", line, col);
}

int spoke_plan_load_json(spoke_ctx *ctx, spoke_plan *plan, const char *json,
			 size_t len)
{
	struct loader ld;
	const char *end = NULL;
	char pos[64];
	cJSON *root;
	int err;

	if (!ctx)
		return SPOKE_E_USAGE;
	err = ctx_begin(ctx);
	if (err)
		return err;
	if (!plan || !json)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL,
				"spoke_plan_load_json: no %s given",
				plan ? "document" : "plan");
	memset(&ld, 0, sizeof(ld));
	ld.ctx = ctx;
	ld.st.link_mode = ld.st.jobs = ld.st.io = ld.st.no_verify = -1;
	ld.st.no_fallback = ld.st.reinstall = ld.st.requested = -1;
	ld.st.allow_overwrite = ld.st.dry_run = ld.st.no_wait = -1;
	ld.st.compat_check = -1;
	ld.st.compile_bytecode = ld.st.compile_optimize = -1;
	/* With a length, not NUL-terminated, so a host can pass a buffer or
	 * a mapped file as it is; whatever follows the value must be blank. */
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	while (root && end && end < json + len &&
	       (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (root && find_nul(json, len) < len) {
		position(json, find_nul(json, len), pos, sizeof(pos));
		err = bad(&ld, NULL, "a NUL character at %s (not allowed in a "
			  "plan: it would cut a path short)", pos);
	} else if (!root || !end || end != json + len) {
		size_t off = end && end >= json && end <= json + len ?
			     (size_t)(end - json) : 0;

		position(json, off, pos, sizeof(pos));
		err = bad(&ld, NULL, "%s at %s", !len ? "empty document" :
			  root ? "text after the JSON value" : "invalid JSON",
			  pos);
	} else {
		err = stage(&ld, root);
		if (!err)
			err = apply(&ld, plan);
	}
	for (size_t i = 0; i < ld.st.nwheels; i++) {
		free(ld.st.wheels[i].path);
		free(ld.st.wheels[i].direct_url);
	}
	free(ld.st.wheels);
	free(ld.st.names);
	free(ld.st.removes);
	store_close(ld.store);
	cJSON_Delete(root);
	return err;
}
