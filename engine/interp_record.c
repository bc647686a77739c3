/* SPDX-License-Identifier: MIT */
/* interp_record - see interp_record.h. */
#include "engine/interp_record.h"
#include "base/alloc.h"
#include "cache/record.h"
#include "cache/store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *interp_record_path(spoke_ctx *ctx, const char *python,
			 const char *subdir, const char *salt)
{
	char real[PATH_MAX], key[PATH_MAX + 128], hex[65], *dir = NULL, *p;
	unsigned char md[32];
	struct stat st;
	size_t n;
	int len;

	if (!realpath(python, real) || stat(real, &st) < 0)
		return NULL;
	len = snprintf(key, sizeof(key), "%s\n%lld.%09ld\n%lld\n%s", real,
		       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		       (long long)st.st_size, salt);
	if (len < 0 || (size_t)len >= sizeof(key) ||
	    sha256_buf(key, (size_t)len, md) ||
	    store_resolve_dir(ctx->cache_dir, &dir))
		return NULL;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	n = strlen(dir) + strlen(subdir) + 2 + 64 + 1;
	p = xmalloc(n);
	if (p)
		snprintf(p, n, "%s/%s/%s", dir, subdir, hex);
	free(dir);
	return p;
}
