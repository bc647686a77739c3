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

struct pool;

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

#endif
