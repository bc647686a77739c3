/* SPDX-License-Identifier: MIT */
/* rmtree - see rmtree.h. */
#include "base/rmtree.h"
#include "base/fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define DEPTH_MAX 4096

static int hit(const struct rmtree *o, enum io_opcode op)
{
	return (o->flags & RMTREE_NOFAULT) ? 0 : io_fault_hit(op);
}

static int unlink_at(const struct rmtree *o, int dfd, const char *name,
		     int flags)
{
	int err = hit(o, IO_OP_UNLINK);

	if (err)
		return err;
	return unlinkat(dfd, name, flags) < 0 ? -errno : 0;
}

static int open_dir_at(const struct rmtree *o, int dfd, const char *name)
{
	int fd, err = hit(o, IO_OP_OPEN);

	if (err)
		return err;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int rm_tree(struct rmtree *o, int dfd, const char *name, int depth);

/* One pass over a directory, removing everything in it. */
static int rm_children(struct rmtree *o, DIR *d, int depth)
{
	struct dirent *de;
	int ret = 0;

	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rm_tree(o, dirfd(d), de->d_name, depth + 1);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

static int rm_tree(struct rmtree *o, int dfd, const char *name, int depth)
{
	uint64_t kept = o->kept;
	struct stat st;
	DIR *d;
	int fd, ret;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (o->keep && o->keep(o->arg, dfd, name, &st)) {
		o->kept++;
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		ret = unlink_at(o, dfd, name, 0);
		if (!ret)
			o->removed++;
		return ret == -ENOENT ? 0 : ret;
	}
	if (depth > (o->depth_max ? o->depth_max : DEPTH_MAX))
		return -ELOOP;
	fd = open_dir_at(o, dfd, name);
	/* A directory we may not read or write (a wheel can't make one, a
	 * user can): it is ours, so make it removable. */
	if (fd == -EACCES && fchmodat(dfd, name, S_IRWXU, 0) == 0)
		fd = open_dir_at(o, dfd, name);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if ((st.st_mode & S_IRWXU) != S_IRWXU)
		(void)fchmod(fd, S_IRWXU);
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* readdir need not return names created during the walk, nor
	 * promise every name when the directory shrinks under it: retry
	 * a few times before calling a directory undeletable. */
	for (int pass = 0; pass < 4; pass++) {
		ret = rm_children(o, d, depth);
		if (ret)
			break;
		ret = unlink_at(o, dfd, name, AT_REMOVEDIR);
		if (!ret)
			o->removed++;
		if (ret != -ENOTEMPTY && ret != -EEXIST)
			break;
		if (o->kept != kept) {
			ret = 0; /* not empty by keep()'s choice */
			break;
		}
	}
	closedir(d);
	return ret == -ENOENT ? 0 : ret;
}

int rmtree_at(struct rmtree *o, int dfd, const char *name)
{
	return rm_tree(o, dfd, name, 0);
}
