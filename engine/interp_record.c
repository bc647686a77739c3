/* SPDX-License-Identifier: MIT */
/* interp_record - see interp_record.h. */
#include "engine/interp_record.h"
#include "base/alloc.h"
#include "cache/record.h"
#include "cache/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

void interp_record_save(spoke_ctx *ctx, const char *file, const char *text)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64];
	const char *slash = strrchr(file, '/');
	size_t len = strlen(text);
	int fd, ok;

	if (!slash || (size_t)(slash - file) >= sizeof(dir))
		return;
	memcpy(dir, file, (size_t)(slash - file));
	dir[slash - file] = '\0';
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		ctx_log(ctx, SPOKE_LOG_DEBUG, "cannot keep what the interpreter "
			"said in '%s': %s", dir, strerror(errno));
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%s", dir, (long)getpid(),
		 slash + 1);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return;
	ok = write(fd, text, len) == (ssize_t)len;
	ok &= close(fd) == 0;
	if (!ok || rename(tmp, file) < 0)
		unlink(tmp);
}
