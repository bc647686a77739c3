/* SPDX-License-Identifier: MIT */
/*
 * manifest_keep - manifests kept beside the cache entries they describe,
 * <cache>/manifest-v1/<entry name> (manifest.h): read and checked against
 * the entry, rebuilt by a walk and written again (temporary, rename) when
 * that fails, written after a publish, removed with the entry.
 */
#include "cache/manifest_int.h"
#include "cache/store.h"
#include "base/alloc.h"
#include "base/errmsg.h"
#include "io/linkops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX ((size_t)1 << 30)

static int read_all(int dfd, const char *name, struct manifest *m)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	size_t got = 0;
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > FILE_MAX || st.st_size < MANIFEST_HDR_LEN) {
		close(fd);
		return -EBADMSG;
	}
	if (!(m->buf = xmalloc((size_t)st.st_size)))
		ret = -ENOMEM;
	while (!ret && got < (size_t)st.st_size) {
		ssize_t n = read(fd, m->buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ret = n < 0 ? -errno : -EBADMSG;
		else
			got += (size_t)n;
	}
	close(fd);
	m->len = got;
	return ret;
}

static void keep(int rootfd, const char *ename, const struct manifest *m)
{
	int mfd;

	if (mkdirat(rootfd, MANIFEST_DIR, 0777) < 0 && errno != EEXIST)
		return;
	mfd = openat(rootfd, MANIFEST_DIR, O_RDONLY | O_DIRECTORY |
		     O_NOFOLLOW | O_CLOEXEC);
	if (mfd < 0)
		return;
	/* Atomic (temporary, rename): a reader sees a whole old or new
	 * one; a torn one after a crash fails its checksum. */
	(void)io_write_file_at(mfd, ename, m->buf, m->len, 0666);
	close(mfd);
}

int manifest_for_entry(const char *entry_dir, struct manifest *m,
		       int *rebuilt, char *err, size_t errlen)
{
	const char *ename = strrchr(entry_dir, '/');
	char *root = NULL, *slash;
	int efd, rootfd = -1, mfd = -1, ret;
	char eb[128];

	memset(m, 0, sizeof(*m));
	if (rebuilt)
		*rebuilt = 1;
	efd = open(entry_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (efd < 0) {
		ret = -errno;
		return errmsg_fail(ret, err, errlen, "cannot open '%s': %s",
				   entry_dir, errmsg_str(ret, eb, sizeof(eb)));
	}
	/* <root>/archive-v2/<ename>: anything else has no kept manifest. */
	if (ename && ename[1] && (root = xstrndup(entry_dir,
						  (size_t)(ename - entry_dir))) &&
	    (slash = strrchr(root, '/')) && !strcmp(slash + 1, STORE_ARCHIVE)) {
		*slash = '\0';
		rootfd = open(*root ? root : "/", O_RDONLY | O_DIRECTORY |
			      O_CLOEXEC);
	}
	ename = ename ? ename + 1 : entry_dir;
	if (rootfd >= 0)
		mfd = openat(rootfd, MANIFEST_DIR, O_RDONLY | O_DIRECTORY |
			     O_NOFOLLOW | O_CLOEXEC);
	if (mfd >= 0 && read_all(mfd, ename, m) == 0 &&
	    manifest_parse(m, efd, ename) == 0) {
		if (rebuilt)
			*rebuilt = 0;
		ret = 0;
		goto out;
	}
	manifest_free(m);
	ret = manifest_build_named(efd, rootfd >= 0 ? ename : "", entry_dir,
				   m, err, errlen);
	if (!ret && rootfd >= 0)
		keep(rootfd, ename, m);
out:
	if (mfd >= 0)
		close(mfd);
	if (rootfd >= 0)
		close(rootfd);
	close(efd);
	free(root);
	return ret;
}

void manifest_publish(int rootfd, int archfd, const char *ename)
{
	struct manifest m;
	char err[256];
	int efd = openat(archfd, ename, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			 O_CLOEXEC);

	if (efd < 0)
		return;
	if (manifest_build_named(efd, ename, ename, &m, err,
				 sizeof(err)) == 0) {
		keep(rootfd, ename, &m);
		manifest_free(&m);
	}
	close(efd);
}

int manifest_remove(int rootfd, const char *ename)
{
	int mfd = openat(rootfd, MANIFEST_DIR, O_RDONLY | O_DIRECTORY |
			 O_NOFOLLOW | O_CLOEXEC), ret = 0;

	if (mfd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (unlinkat(mfd, ename, 0) < 0 && errno != ENOENT)
		ret = -errno;
	close(mfd);
	return ret;
}
