/* SPDX-License-Identifier: MIT */
/*
 * api_cache - the public cache calls (spoke_cache_*) and wheelcache_add(),
 * thin wrappers over cache/store.c that turn its (err, errlen) messages into
 * the context's error and run unpacks on the context's thread count.
 */
#include "engine/wheelcache.h"
#include "base/pool.h"
#include "cache/store.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int fail_store(spoke_ctx *ctx, int ret, const char *path,
		      const char *err)
{
	int e = ret < 0 && ret > -4096 ? -ret : 0;

	return ctx_fail(ctx, ret, e, path, "%s", *err ? err :
			spoke_strerror(ret));
}

static int open_store(spoke_ctx *ctx, struct store **s, int create)
{
	char err[512] = "";
	int ret = store_open(s, ctx->cache_dir, create, err, sizeof(err));

	return ret ? fail_store(ctx, ret, ctx->cache_dir, err) : 0;
}

int wheelcache_add(spoke_ctx *ctx, struct pool *pool, const char *whl,
		   char **entry_dir, char key_out[65])
{
	struct store_add_result res;
	struct unpack_opts o = { 0 };
	struct pool *own = NULL;
	struct store *s = NULL;
	char err[1024] = "";
	int ret;

	ret = open_store(ctx, &s, 1);
	if (ret)
		return ret;
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
	ret = store_add(s, whl, &o, &res, err, sizeof(err));
	if (ret) {
		ret = ctx_canceled(ctx) ? ctx_fail(ctx, SPOKE_E_CANCELED, 0,
						   whl, "canceled") :
		      fail_store(ctx, ret, whl, err);
		goto out;
	}
	if (key_out)
		memcpy(key_out, res.key, sizeof(res.key));
	if (entry_dir) {
		ret = store_entry_path(s, res.key, entry_dir);
		if (ret)
			ret = ctx_fail(ctx, ret, -ret, whl, "out of memory");
	}
out:
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

	if (status)
		a->bad++;
	a->fn(a->user, key, wheel_name, status, msg);
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
