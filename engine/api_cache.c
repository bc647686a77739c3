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

/* The store's check, on the unpacked tree before it is published and on an
 * existing entry before the index points at it: WHEEL and METADATA parse and
 * belong to the dist-info (wheel_open), and the file name names that
 * dist-info's distribution and version. */
static int check_tree(void *user, const char *dir, char *err, size_t errlen)
{
	struct wheelcache_req *c = user;
	struct wheel w;
	int ret = wheel_open(c->ctx, dir, c->shown, &w);

	if (ret) {
		snprintf(err, errlen, "%s", spoke_ctx_error_message(c->ctx));
		wheel_close(&w);
		return ret;
	}
	ret = wheelname_matches(&c->wn, w.distinfo);
	if (ret == 0) {
		char shown[4 * NAME_MAX + 1];

		name_escape(shown, sizeof(shown), w.distinfo);
		snprintf(err, errlen, "%s: the file name says %s %s, but the "
			 "wheel holds %s", c->shown, c->wn.name,
			 c->wn.version, shown);
		ret = SPOKE_E_BADWHEEL;
	} else if (ret < 0) {
		snprintf(err, errlen, "out of memory");
	} else {
		ret = 0;
	}
	wheel_close(&w);
	return ret;
}

int wheelcache_req_init(spoke_ctx *ctx, struct wheelcache_req *rq,
			const char *whl, const char *sha256)
{
	int ret;

	memset(rq, 0, sizeof(*rq));
	rq->ctx = ctx;
	rq->whl = whl;
	name_escape(rq->shown, sizeof(rq->shown), whl);
	if (sha256) {
		size_t i;

		for (i = 0; i < 64 && sha256[i]; i++) {
			char c = sha256[i];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F')))
				break;
			rq->want[i] = c >= 'A' && c <= 'F' ? (char)(c | 0x20) : c;
		}
		if (i != 64 || sha256[i])
			return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "%s: "
					"expected sha256 is not 64 hex digits",
					rq->shown);
		rq->want[64] = '\0';
		rq->o.expect_key = rq->want;
	}
	ret = wheelname_parse(whl, &rq->wn);
	if (ret)
		return ctx_fail(ctx, ret == -EINVAL ? SPOKE_E_USAGE : ret,
				-ret, NULL, "%s: %s", rq->shown, ret == -EINVAL ?
				"not a wheel file name "
				"(name-version[-build]-python-abi-platform.whl)"
				: "out of memory");
	rq->parsed = 1;
	if ((ret = env_size(ctx, "SPOKE_UNPACK_MAX", &rq->o.max_total)) != 0 ||
	    (ret = env_size(ctx, "SPOKE_UNPACK_RATIO", &rq->o.max_ratio)) != 0)
		return ret;
	rq->o.verify = ctx->verify;
	rq->o.io = (int)ctx->io;
	rq->o.cancel = &ctx->cancel;
	rq->o.check = check_tree;
	rq->o.check_user = rq;
	return 0;
}

void wheelcache_req_free(struct wheelcache_req *rq)
{
	if (rq->parsed)
		wheelname_free(&rq->wn);
	rq->parsed = 0;
}

int wheelcache_open_store(spoke_ctx *ctx, struct store **s)
{
	return open_store(ctx, s, 1);
}

int wheelcache_fail(struct wheelcache_req *rq, int ret, const char *err)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", err);
	return ctx_canceled(rq->ctx) ? ctx_fail(rq->ctx, SPOKE_E_CANCELED, 0,
						rq->shown, "canceled") :
	       fail_store(rq->ctx, ret, rq->shown, msg);
}

void wheelcache_log(struct wheelcache_req *rq, spoke_ctx *to, double secs)
{
	/* -v of the CLI: where a wheel's files came from, and what it
	 * cost. */
	if (rq->res.existed && !rq->res.st.files)
		ctx_log(to, SPOKE_LOG_INFO, "%s: cache hit in %.3f s",
			path_basename(rq->shown), secs);
	else
		ctx_log(to, SPOKE_LOG_INFO, "%s: unpacked into the cache: "
			"%llu files, %.1f MB in %.3f s",
			path_basename(rq->shown),
			(unsigned long long)rq->res.st.files,
			(double)rq->res.st.bytes / 1e6, secs);
}

int wheelcache_add(spoke_ctx *ctx, struct pool *pool, const char *whl,
		   char **entry_dir, char key_out[65])
{
	return wheelcache_add_sha256(ctx, pool, whl, NULL, entry_dir, key_out);
}

static int add_one(spoke_ctx *ctx, struct pool *pool, const char *whl,
		   const char *sha256, char **entry_dir, char key_out[65])
{
	struct wheelcache_req rq;
	struct store_pending *pd = NULL;
	struct pool *own = NULL;
	struct store *s = NULL;
	char err[1024] = "";
	struct timespec t0, t1;
	int ret;

	/* What the install's fetch already did with this wheel, if anything. */
	ret = wheelfetch_replay(ctx, whl, sha256, entry_dir, key_out);
	if (ret)
		return ret > 0 ? 0 : ret;
	ret = wheelcache_req_init(ctx, &rq, whl, sha256);
	if (!ret)
		ret = open_store(ctx, &s, 1);
	if (ret)
		goto out;
	/* Canceled during the fetch of the whole install: stop here, with
	 * the message a canceled unpack gives. */
	if (ctx_canceled(ctx)) {
		ret = wheelcache_fail(&rq, SPOKE_E_CANCELED, "");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = store_add_begin(s, whl, &rq.o, &rq.res, &pd, err, sizeof(err));
	if (!ret && pd) {
		struct unpack_job *j = store_pending_job(pd);

		/* Threads only for an unpack, not for a cache hit. */
		if (!pool && unpack_ntasks(j) > 1 &&
		    pool_create(&own, ctx->jobs) == 0)
			pool = own;
		if (pool && unpack_ntasks(j) > 1) {
			/* A failed spawn is recorded in the job; run what
			 * was queued so no task points into the job. */
			unpack_spawn(j, pool, NULL);
			pool_run(pool);
		} else {
			unpack_run_here(j);
		}
		ret = store_add_end(pd, err, sizeof(err));
	}
	if (ret) {
		ret = wheelcache_fail(&rq, ret, err);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wheelcache_log(&rq, ctx, (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (key_out)
		memcpy(key_out, rq.res.key, sizeof(rq.res.key));
	if (entry_dir) {
		ret = store_entry_path_state(s, rq.res.key, rq.res.verified,
					     entry_dir);
		if (ret)
			ret = ctx_fail(ctx, ret, -ret, rq.shown,
				       "out of memory");
	}
out:
	wheelcache_req_free(&rq);
	pool_free(own);
	store_close(s);
	return ret;
}

/* The time is the install's "lookup" phase (report.h). */
int wheelcache_add_sha256(spoke_ctx *ctx, struct pool *pool, const char *whl,
			  const char *sha256, char **entry_dir,
			  char key_out[65])
{
	long long start = ctx_now_ns();
	int ret = add_one(ctx, pool, whl, sha256, entry_dir, key_out);

	atomic_fetch_add(&ctx->lookup_ns, ctx_now_ns() - start);
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
