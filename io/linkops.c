/* SPDX-License-Identifier: MIT */
/*
 * linkops - see linkops.h. Modes: new files are created with the source's
 * permission bits (so the exec bit survives a copy); when the umask would
 * strip bits the source has, an fchmod restores them, which is one extra
 * syscall only for files whose mode the umask touches. mtimes are not
 * carried over for copies and clones (a new file gets the current time, as
 * pip and uv do); a hardlink shares the source inode and so its mtime.
 */
#include "io/linkops.h"
#include "base/fdio.h"
#include "base/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static mode_t process_umask;
static atomic_uint temp_counter;

/* The umask can only be read race-free from /proc (umask() sets it while
 * reading, which another thread could observe); set-and-restore is the
 * fallback where /proc is missing. Once per process. */
static void read_umask(void)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");
	unsigned m;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Umask: %o", &m) == 1) {
				process_umask = (mode_t)m;
				fclose(f);
				return;
			}
		fclose(f);
	}
	process_umask = umask(022);
	umask(process_umask);
}

void io_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, read_umask);
}

static int open_src(int sfd, const char *sname)
{
	int fd, err = io_fault_hit(IO_OP_OPEN);

	if (err)
		return err;
	fd = openat(sfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int create_dst(int dfd, const char *dname, mode_t mode)
{
	int fd, err = io_fault_hit(IO_OP_OPEN);

	if (err)
		return err;
	mode &= 07777;
	fd = openat(dfd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if ((mode & process_umask) && fchmod(fd, mode) < 0) {
		err = -errno;
		close(fd);
		unlinkat(dfd, dname, 0);
		return err;
	}
	return fd;
}

/* Close a written fd: its error matters (NFS reports ENOSPC at close). */
static int close_checked(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

/* Give the new file the source's times: a timestamp .pyc records its
 * source's mtime, and Python trusts the .pyc only while the .py it finds
 * has that mtime (a hardlink shares it; a clone or copy must be told). */
int io_carry_times(int in, int out)
{
	struct timespec ts[2];
	struct stat st;

	if (fstat(in, &st) < 0)
		return -errno;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	return futimens(out, ts) < 0 ? -errno : 0;
}

/* Close both files of a clone or copy; when it failed (err) or the close
 * reports a late write error, remove the new file, so no empty or partial
 * file is left for the fallback or the rollback to find. */
static int finish_dst(int in, int out, int dfd, const char *dname, int err)
{
	close(in);
	if (!err)
		err = close_checked(out);
	else
		close(out);
	if (err)
		unlinkat(dfd, dname, 0);
	return err;
}

int io_clone_at(int sfd, const char *sname, int dfd, const char *dname,
		mode_t mode, int times)
{
	int in, out, err;

	in = open_src(sfd, sname);
	if (in < 0)
		return in;
	out = create_dst(dfd, dname, mode);
	if (out < 0) {
		close(in);
		return out;
	}
	err = io_fault_hit(IO_OP_CLONE);
	if (!err && ioctl(out, FICLONE, in) < 0)
		err = -errno;
	if (!err && times)
		err = io_carry_times(in, out);
	return finish_dst(in, out, dfd, dname, err);
}

int io_hardlink_at(int sfd, const char *sname, int dfd, const char *dname)
{
	int err = io_fault_hit(IO_OP_LINK);

	if (err)
		return err;
	return linkat(sfd, sname, dfd, dname, 0) < 0 ? -errno : 0;
}

static int copy_rw(int in, int out, uint64_t off, uint64_t len)
{
	char buf[64 * 1024];

	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t r = pread(in, buf, want, (off_t)off), w;
		int err;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* source shrank under us */
		for (ssize_t done = 0; done < r; done += w) {
			err = io_fault_hit(IO_OP_WRITE);
			if (err)
				return err;
			w = pwrite(out, buf + done, (size_t)(r - done),
				   (off_t)off + done);
			if (w < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				return -errno;
			}
		}
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

int io_copy_fd_range(int in, int out, uint64_t off, uint64_t len,
		     uint8_t *copy)
{
	loff_t ioff = (loff_t)off, ooff = (loff_t)off;
	uint8_t flags = copy ? *copy : 0;
	int err = io_fault_hit(IO_OP_COPY);

	if (err)
		return err;
	while (len > 0 && !(flags & IO_COPY_NO_CFR)) {
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, len, 0);

		if (n < 0) {
			err = errno;
			if (err == EINTR)
				continue;
			/* Refused for this pair of files (EXDEV across
			 * filesystems, EINVAL/EOPNOTSUPP where a filesystem
			 * has no support, ENOSYS on old kernels): read and
			 * write instead, and tell the caller. */
			if (err == EXDEV || err == EINVAL || err == ENOSYS ||
			    err == EOPNOTSUPP) {
				flags |= IO_COPY_CFR_REFUSED;
				break;
			}
			return -err;
		}
		if (n == 0)
			return -EIO;
		flags |= IO_COPY_CFR_OK;
		len -= (uint64_t)n;
	}
	if (copy)
		*copy = flags;
	return len ? copy_rw(in, out, (uint64_t)ioff, len) : 0;
}

int io_copy_at(int sfd, const char *sname, int dfd, const char *dname,
	       mode_t mode, uint64_t size, uint8_t *copy)
{
	int in, out, err;

	in = open_src(sfd, sname);
	if (in < 0)
		return in;
	out = create_dst(dfd, dname, mode);
	if (out < 0) {
		close(in);
		return out;
	}
	err = size ? io_copy_fd_range(in, out, 0, size, copy) : 0;
	if (!err && copy && (*copy & IO_COPY_TIMES))
		err = io_carry_times(in, out);
	return finish_dst(in, out, dfd, dname, err);
}

int io_symlink_at(const char *target, int dfd, const char *dname)
{
	int err = io_fault_hit(IO_OP_SYMLINK);

	if (err)
		return err;
	return symlinkat(target, dfd, dname) < 0 ? -errno : 0;
}

int io_link_at(enum io_kind kind, int sfd, const char *sname, int dfd,
	       const char *dname, const char *target, mode_t mode,
	       uint64_t size, uint8_t *copy)
{
	switch (kind) {
	case IOK_CLONE:
		return io_clone_at(sfd, sname, dfd, dname, mode,
				   copy && (*copy & IO_COPY_TIMES));
	case IOK_HARDLINK:
		return io_hardlink_at(sfd, sname, dfd, dname);
	case IOK_COPY:
		return io_copy_at(sfd, sname, dfd, dname, mode, size, copy);
	case IOK_SYMLINK:
		return io_symlink_at(target, dfd, dname);
	default:
		return -EINVAL;
	}
}

void io_temp_name(char *buf, size_t buflen, const char *name)
{
	unsigned n = atomic_fetch_add(&temp_counter, 1);
	int len = snprintf(buf, buflen, ".spoke-%d-%u-", (int)getpid(), n);
	size_t room;

	if (len < 0 || (size_t)len >= buflen) {
		buf[0] = '\0';
		return;
	}
	/* Keep the result within NAME_MAX: the name only aids debugging. */
	room = NAME_MAX - (size_t)len;
	if (room > buflen - (size_t)len - 1)
		room = buflen - (size_t)len - 1;
	snprintf(buf + len, room + 1, "%s", name);
}

int io_is_temp_name(const char *name)
{
	return strncmp(name, ".spoke-", 7) == 0;
}

int io_rename_at(int ofd, const char *oname, int nfd, const char *nname)
{
	int err = io_fault_hit(IO_OP_RENAME);

	if (err)
		return err;
	return renameat(ofd, oname, nfd, nname) < 0 ? -errno : 0;
}

int io_unlink_at(int dfd, const char *name, int flags)
{
	int err = io_fault_hit(IO_OP_UNLINK);

	if (err)
		return err;
	return unlinkat(dfd, name, flags) < 0 ? -errno : 0;
}

int io_link_replace_at(enum io_kind kind, int sfd, const char *sname, int dfd,
		       const char *dname, const char *target, mode_t mode,
		       uint64_t size, uint8_t *copy)
{
	char tmp[NAME_MAX + 1];
	struct stat st;
	int err;

	/* rename() would happily replace an empty directory with a file on
	 * some paths; refuse directories up front for a clear error. */
	if (fstatat(dfd, dname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		return -EISDIR;
	io_temp_name(tmp, sizeof(tmp), dname);
	err = io_link_at(kind, sfd, sname, dfd, tmp, target, mode, size, copy);
	if (err)
		return err;
	err = io_rename_at(dfd, tmp, dfd, dname);
	/* rename() between two links of one inode "does nothing and returns
	 * success" (POSIX), leaving the temporary: relinking a hardlinked
	 * install from the same cache hits exactly that case. */
	if (err || kind == IOK_HARDLINK)
		unlinkat(dfd, tmp, 0);
	return err;
}

int io_mkdir_new_at(int dfd, const char *name, mode_t mode)
{
	struct stat st;
	int err = io_fault_hit(IO_OP_MKDIR);

	if (err)
		return err;
	if (mkdirat(dfd, name, mode) == 0)
		return 1;
	err = -errno;
	if (err != -EEXIST)
		return err;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int io_mkdir_at(int dfd, const char *name, mode_t mode)
{
	int ret = io_mkdir_new_at(dfd, name, mode);

	return ret > 0 ? 0 : ret;
}

int io_open_dir_at(int dfd, const char *name)
{
	int fd, err = io_fault_hit(IO_OP_OPEN);

	if (err)
		return err;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int io_write_file_at(int dfd, const char *dname, const void *data, size_t len,
		     mode_t mode)
{
	return io_write_file_seen_at(dfd, dname, data, len, mode, NULL, NULL);
}

int io_write_file_seen_at(int dfd, const char *dname, const void *data,
			  size_t len, mode_t mode,
			  void (*seen)(void *arg, int fd), void *arg)
{
	char tmp[NAME_MAX + 1];
	int fd, err;

	io_temp_name(tmp, sizeof(tmp), dname);
	fd = create_dst(dfd, tmp, mode);
	if (fd < 0)
		return fd;
	err = fd_write_all(fd, data, len);
	if (!err && seen)
		seen(arg, fd);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err)
		err = io_rename_at(dfd, tmp, dfd, dname);
	if (err)
		unlinkat(dfd, tmp, 0);
	return err;
}

mode_t io_umask(void)
{
	return process_umask;
}
