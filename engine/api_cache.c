/* SPDX-License-Identifier: MIT */
/*
 * api_cache - the public cache calls (spoke_cache_*) and wheelcache_add(),
 * thin wrappers over cache/store.c that turn its (err, errlen) messages into
 * the context's error and run unpacks on the context's thread count. The
 * engine's checks of a wheel that cache/ cannot make (it does not know
 * WHEEL, METADATA or wheel file names) run here, as the store's check
 * callback, so a wheel they refuse is never published.
 */
#include "engine/wheelcache.h"
#include "engine/wheel.h"
#include "engine/wheelname.h"
#include "base/name.h"
#include "base/path.h"
#include "base/pool.h"
#include "cache/store.h"
#include "base/alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A backstop for messages from cache/: names are escaped where they are
 * printed, but a control byte that slipped through any other way must
 * still not reach a terminal. C0, DEL and C1 (UTF-8 C2 80..9F) become '?'. */
static void defang(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?';
	}
}

static int fail_store(spoke_ctx *ctx, int ret, const char *path,
		      char *err)
{
	int e = ret < 0 && ret > -4096 ? -ret : 0;

	defang(err);
	return ctx_fail(ctx, ret, e, path, "%s", *err ? err :
			spoke_strerror(ret));
}

static int open_store(spoke_ctx *ctx, struct store **s, int create)
{
	char err[512] = "";
	int ret = store_open(s, ctx->cache_dir, create, err, sizeof(err));

	return ret ? fail_store(ctx, ret, ctx->cache_dir, err) : 0;
}

/* "123", "64K", "256M", "4G" (powers of 1024) from the environment:
 * 0 and *out untouched when unset or empty. */
static int env_size(spoke_ctx *ctx, const char *var, uint64_t *out)
{
	const char *v = getenv(var);
	unsigned long long n;
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	switch (*end) {
	case 'G': case 'g': n = n > ULLONG_MAX >> 30 ? 0 : n << 30; end++; break;
	case 'M': case 'm': n = n > ULLONG_MAX >> 20 ? 0 : n << 20; end++; break;
	case 'K': case 'k': n = n > ULLONG_MAX >> 10 ? 0 : n << 10; end++; break;
	}
	if (errno || *end || end == v || *v == '-' || n == 0)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "%s=%.64s: not a "
				"positive size (digits, then K, M or G)", var, v);
	*out = n;
	return 0;
}

struct wheel_check {
	spoke_ctx *ctx;
	const struct wheelname *wn;
	const char *label;
};

/* The store's check, on the unpacked tree before it is published and on an
 * existing entry before the index names it: WHEEL and METADATA parse and
 * belong to the dist-info (wheel_open), and the file name names that
 * dist-info's distribution and version. */
static int check_tree(void *user, const char *dir, char *err, size_t errlen)
{
	struct wheel_check *c = user;
	struct wheel w;
	int ret = wheel_open(c->ctx, dir, c->label, &w);

	if (ret) {
		snprintf(err, errlen, "%s", spoke_ctx_error_message(c->ctx));
		wheel_close(&w);
		return ret;
	}
	ret = wheelname_matches(c->wn, w.distinfo);
	if (ret == 0) {
		char shown[4 * NAME_MAX + 1];

		name_escape(shown, sizeof(shown), w.distinfo);
		snprintf(err, errlen, "%s: the file name says %s %s, but the "
			 "wheel holds %s", c->label, c->wn->name,
			 c->wn->version, shown);
		ret = SPOKE_E_BADWHEEL;
	} else if (ret < 0) {
		snprintf(err, errlen, "out of memory");
	} else {
		ret = 0;
	}
	wheel_close(&w);
	return ret;
}

int wheelcache_add(spoke_ctx *ctx, struct pool *pool, const char *whl,
		   char **entry_dir, char key_out[65])
{
	return wheelcache_add_sha256(ctx, pool, whl, NULL, entry_dir, key_out);
}

int wheelcache_add_sha256(spoke_ctx *ctx, struct pool *pool, const char *whl,
			  const char *sha256, char **entry_dir,
			  char key_out[65])
{
	struct store_add_result res;
	struct unpack_opts o = { 0 };
	struct wheelname wn;
	struct wheel_check wc = { ctx, &wn, NULL };
	struct pool *own = NULL;
	struct store *s = NULL;
	char err[1024] = "", shown[4 * PATH_MAX + 1], want[65];
	struct timespec t0, t1;
	int ret;

	name_escape(shown, sizeof(shown), whl);
	if (sha256) {
		size_t i;

		for (i = 0; i < 64 && sha256[i]; i++) {
			char c = sha256[i];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F')))
				break;
			want[i] = c >= 'A' && c <= 'F' ? (char)(c | 0x20) : c;
		}
		if (i != 64 || sha256[i])
			return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "%s: "
					"expected sha256 is not 64 hex digits",
					shown);
		want[64] = '\0';
		o.expect_key = want;
	}
	wc.label = shown;
	ret = wheelname_parse(whl, &wn);
	if (ret)
		return ctx_fail(ctx, ret == -EINVAL ? SPOKE_E_USAGE : ret,
				-ret, NULL, "%s: %s", shown, ret == -EINVAL ?
				"not a wheel file name "
				"(name-version[-build]-python-abi-platform.whl)"
				: "out of memory");
	if ((ret = env_size(ctx, "SPOKE_UNPACK_MAX", &o.max_total)) != 0 ||
	    (ret = env_size(ctx, "SPOKE_UNPACK_RATIO", &o.max_ratio)) != 0 ||
	    (ret = open_store(ctx, &s, 1)) != 0) {
		wheelname_free(&wn);
		return ret;
	}
	if (!pool) {
		ret = pool_create(&own, ctx->jobs);
		if (ret) {
			ret = ctx_fail(ctx, ret, -ret, NULL, "cannot start "
				       "worker threads: %s", strerror(-ret));
			goto out;
		}
		pool = own;
	}
	o.verify = ctx->verify;
	o.pool = pool;
	o.cancel = &ctx->cancel;
	o.check = check_tree;
	o.check_user = &wc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = store_add(s, whl, &o, &res, err, sizeof(err));
	if (!ret) {
		/* -v of the CLI: where a wheel's files came from, and what
		 * it cost. */
		double secs;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (res.existed)
			ctx_log(ctx, SPOKE_LOG_INFO, "%s: cache hit in %.3f s",
				path_basename(shown), secs);
		else
			ctx_log(ctx, SPOKE_LOG_INFO, "%s: unpacked into the "
				"cache: %llu files, %.1f MB in %.3f s",
				path_basename(shown),
				(unsigned long long)res.st.files,
				(double)res.st.bytes / 1e6, secs);
	}
	if (ret) {
		ret = ctx_canceled(ctx) ? ctx_fail(ctx, SPOKE_E_CANCELED, 0,
						   shown, "canceled") :
		      fail_store(ctx, ret, shown, err);
		goto out;
	}
	if (key_out)
		memcpy(key_out, res.key, sizeof(res.key));
	if (entry_dir) {
		ret = store_entry_path_state(s, res.key, res.verified,
					     entry_dir);
		if (ret)
			ret = ctx_fail(ctx, ret, -ret, shown, "out of memory");
	}
out:
	wheelname_free(&wn);
	pool_free(own);
	store_close(s);
	return ret;
}

int spoke_cache_add(spoke_ctx *ctx, const char *wheel, char key_out[65])
{
	int ret = ctx_begin(ctx);

	if (ret)
		return ret;
	if (!wheel)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "no wheel given");
	return ctx_end(ctx, wheelcache_add(ctx, NULL, wheel, NULL, key_out));
}

int spoke_cache_add_sha256(spoke_ctx *ctx, const char *wheel,
			   const char *sha256, char key_out[65])
{
	int ret = ctx_begin(ctx);

	if (ret)
		return ret;
	if (!wheel)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "no wheel given");
	return ctx_end(ctx, wheelcache_add_sha256(ctx, NULL, wheel, sha256,
						  NULL, key_out));
}

const char *spoke_cache_dir(spoke_ctx *ctx)
{
	char *dir = NULL;

	if (store_resolve_dir(ctx->cache_dir, &dir))
		return "";
	free(ctx->cache_dir);
	ctx->cache_dir = dir;
	return dir;
}

struct list_adapter {
	spoke_cache_entry_fn fn;
	void *user;
	int bad;
};

static void list_one(void *user, const char *key, const char *wheel_name,
		     int status, const char *msg)
{
	struct list_adapter *a = user;
	char shown[1024], name[1024];

	if (status)
		a->bad++;
	snprintf(shown, sizeof(shown), "%s", msg);
	defang(shown);
	/* Index file names come from a directory anyone may have written. */
	if (wheel_name) {
		snprintf(name, sizeof(name), "%s", wheel_name);
		defang(name);
	}
	a->fn(a->user, key, wheel_name ? name : NULL, status, shown);
}

int spoke_cache_list(spoke_ctx *ctx, int verify, spoke_cache_entry_fn fn,
		     void *user)
{
	struct list_adapter a = { fn, user, 0 };
	struct store *s = NULL;
	char err[512] = "";
	int ret = ctx_begin(ctx);

	if (ret || (ret = open_store(ctx, &s, 0)))
		return ret;
	ret = store_list(s, verify, list_one, &a, err, sizeof(err));
	if (ret < 0)
		fail_store(ctx, ret, spoke_cache_dir(ctx), err);
	else if (a.bad)
		ret = ctx_fail(ctx, SPOKE_E_HASH, 0, NULL, "%d cache entr%s "
			       "failed verification", a.bad,
			       a.bad == 1 ? "y" : "ies");
	store_close(s);
	return ctx_end(ctx, ret);
}

int spoke_cache_prune(spoke_ctx *ctx)
{
	struct store *s = NULL;
	char err[512] = "";
	int ret = ctx_begin(ctx);

	if (ret || (ret = open_store(ctx, &s, 0)))
		return ret;
	ret = store_prune(s, 0, err, sizeof(err));
	if (ret < 0)
		fail_store(ctx, ret, s->root, err);
	store_close(s);
	return ctx_end(ctx, ret);
}

int spoke_cache_clean(spoke_ctx *ctx)
{
	struct store *s = NULL;
	char err[512] = "";
	int ret = ctx_begin(ctx);

	if (ret || (ret = open_store(ctx, &s, 0)))
		return ret;
	ret = store_clean(s, err, sizeof(err));
	if (ret < 0)
		fail_store(ctx, ret, s->root, err);
	store_close(s);
	return ctx_end(ctx, ret);
}
