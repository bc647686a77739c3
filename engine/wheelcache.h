/* SPDX-License-Identifier: MIT */
/*
 * wheelcache - the engine's door to cache/: add a .whl to the context's
 * cache (unpack, verify, publish) and hand back the unpacked entry's
 * directory, which installs then link from. Errors are recorded in the
 * context with the wheel's path.
 */
#ifndef SPOKE_ENGINE_WHEELCACHE_H
#define SPOKE_ENGINE_WHEELCACHE_H

#include "engine/ctx.h"

struct pool;

/* pool may be NULL (one is made for the call). *entry_dir (may be NULL) is
 * the heap path of archive-v1/<key>; key_out (may be NULL) gets the key. */
int wheelcache_add(spoke_ctx *ctx, struct pool *pool, const char *whl,
		   char **entry_dir, char key_out[65]);

#endif
