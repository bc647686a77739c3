/* SPDX-License-Identifier: MIT */
/*
 * wheelcache - the engine's door to cache/: add a .whl to the context's
 * cache (unpack, verify, publish) and hand back the unpacked entry's
 * directory, which installs then link from. Errors are recorded in the
 * context with the wheel's path (escaped).
 *
 * Before anything is unpacked the file name must be a wheel file name
 * (engine/wheelname.h); before an entry is published or an existing one is
 * handed out, its WHEEL and METADATA must pass wheel_open() and its
 * dist-info must be the file name's distribution and version. With
 * ctx->verify only a verified entry is handed out. $SPOKE_UNPACK_MAX and
 * $SPOKE_UNPACK_RATIO override the size budget (cache/unpack.h).
 */
#ifndef SPOKE_ENGINE_WHEELCACHE_H
#define SPOKE_ENGINE_WHEELCACHE_H

#include "engine/ctx.h"
#include "engine/wheelname.h"
#include "cache/store.h"

#include <limits.h>

struct pool;
struct spoke_plan;

/* pool may be NULL (one is made for the call). *entry_dir (may be NULL) is
 * the heap path of archive-v2/<key> (or <key>.unverified when verification
 * is off and only that exists); key_out (may be NULL) gets the key. */
int wheelcache_add(spoke_ctx *ctx, struct pool *pool, const char *whl,
		   char **entry_dir, char key_out[65]);
/* The same with the sha256 the .whl must have (64 hex digits, either case;
 * NULL: none): SPOKE_E_HASH naming both digests when it differs,
 * SPOKE_E_USAGE when it is not 64 hex digits. */
int wheelcache_add_sha256(spoke_ctx *ctx, struct pool *pool, const char *whl,
			  const char *sha256, char **entry_dir,
			  char key_out[65]);

/* ---- pieces shared with wheelfetch.c ---------------------------------- */

/* One wheel's add: options, the store's check (WHEEL, METADATA, file
 * name) and the result. Errors go to ctx. */
struct wheelcache_req {
	spoke_ctx *ctx;
	const char *whl;
	struct wheelname wn;
	int parsed;
	struct unpack_opts o;
	struct store_add_result res;
	char want[65];
	char shown[4 * PATH_MAX + 1];
};
/* Parse the name and the expected sha256, read the size budget from the
 * environment, fill rq->o (verify, cancel, check); errors recorded. The
 * request must be freed whatever this returns. */
int wheelcache_req_init(spoke_ctx *ctx, struct wheelcache_req *rq,
			const char *whl, const char *sha256);
void wheelcache_req_free(struct wheelcache_req *rq);
int wheelcache_open_store(spoke_ctx *ctx, struct store **s);
/* The store's failure (ret, err) recorded in rq->ctx as a single add
 * records it ("canceled" when the context was canceled). */
int wheelcache_fail(struct wheelcache_req *rq, int ret, const char *err);
/* The -v line of one add, to ctx "to". */
void wheelcache_log(struct wheelcache_req *rq, spoke_ctx *to, double secs);

/*
 * wheelfetch.c: before an install opens its wheels one by one, unpack
 * every .whl of the plan that is not in the cache yet, all at once on one
 * pool, largest first, each entry published when its last file is written
 * (the store's atomic publish). Progress reports the unpack phase. A
 * wheel that fails keeps its error, exactly as wheelcache_add would have
 * recorded it, and the others stop; wheelcache_add then replays that error
 * when the install reaches the wheel in plan order, so the run fails where
 * and how it failed before (a cancel too: the next add reports it).
 *
 * It runs in two halves: start the unpack on a thread of its own and
 * return at once (the first unpack progress report is made before), so the
 * install can open each wheel as its entry is published (replay waits for
 * that one wheel); finish waits for every wheel, makes the phase's last
 * report and adds the unpack's time to the lookup phase. finish is
 * idempotent; forget waits for a running fetch before freeing it.
 * start returns 0, or an error recorded in ctx (none today). */
int wheelfetch_start(spoke_ctx *ctx, const struct spoke_plan *p);
void wheelfetch_finish(spoke_ctx *ctx);
/* 1 while the pool of a started fetch still unpacks. */
int wheelfetch_busy(spoke_ctx *ctx);
/* Without waiting: 1 when replay would not wait for whl (the fetch has
 * settled it, is over, or does not have it); *published: the fetch
 * published its entry. */
int wheelfetch_settled(spoke_ctx *ctx, const char *whl, int *published);
/* Wait until more wheels are settled than *seen (0 at first), or the
 * pool is done; *seen becomes the count. */
void wheelfetch_wait(spoke_ctx *ctx, unsigned long *seen);
/* What the fetch did with whl (the same sha256 expected), waiting until
 * its outcome is settled: 1 and the entry (as wheelcache_add gives it)
 * when it was added, its failure recorded into ctx and returned, or 0 when
 * the fetch did not finish it. */
int wheelfetch_replay(spoke_ctx *ctx, const char *whl, const char *sha256,
		      char **entry_dir, char key_out[65]);
/* Forget the fetch's results (ctx_begin, ctx_end, spoke_ctx_free). */
void wheelfetch_forget(spoke_ctx *ctx);

#endif
