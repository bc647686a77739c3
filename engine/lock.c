/* SPDX-License-Identifier: MIT */
/*
 * lock - see lock.h. A busy lock is polled (LOCK_NB every 20 ms) rather
 * than waited for in a blocking flock(): spoke_ctx_cancel() may come from
 * another thread of an embedding host, which no signal would interrupt, and
 * a few milliseconds of latency do not matter next to an install. The
 * holder writes its pid into the file, so a waiter can say whom it waits
 * for.
 */
#include "engine/lock.h"
#include "engine/scheme.h"
#include "base/alloc.h"
#include "base/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_NAME ".spoke-lock"
#define POLL_NS 20000000L

struct env_lock {
	int fd;
	char *path;
	char *home;
	size_t made; /* length of the top directory this lock created, or 0 */
};

/* The holder's pid from the lock file, or "" (a holder that has not
 * written it yet, or an old file). */
static void holder(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* 0 when fd is a lock file spoke can trust (see the top), 1 when its
 * holder has just unlinked it (open again), else a refusal recorded in
 * ctx. */
static int check_lock_file(spoke_ctx *ctx, int fd, const char *path)
{
	const char *why = NULL;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return ctx_fail(ctx, -errno, errno, path, "cannot check the lock "
				"file '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		why = "is not a regular file";
	else if (st.st_nlink == 0)
		return 1;
	else if (st.st_nlink != 1)
		why = "has more than one link (a hardlink to another file)";
	else if (st.st_uid != geteuid())
		why = "belongs to another user";
	if (!why)
		return 0;
	return ctx_fail(ctx, SPOKE_E_UNSAFE_PATH, 0, path, "refusing the lock "
			"file '%s': it %s, so spoke did not make it; remove it "
			"once you know no spoke is running there", path, why);
}

/* Does path still name the inode fd has locked? 1 yes, 0 no (unlinked or
 * replaced by its releasing holder: lock again), <0 error. */
static int still_ours(int fd, const char *path)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return -errno;
	if (lstat(path, &b) < 0)
		return errno == ENOENT ? 0 : -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int wait_lock(spoke_ctx *ctx, int fd, const char *home,
		     const char *path, int no_wait, int *told)
{
	struct timespec ts = { 0, POLL_NS };
	char pid[32];

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return ctx_fail(ctx, -errno, errno, path, "cannot lock "
					"'%s': %s", path, strerror(errno));
		if (errno == EINTR)
			continue;
		holder(fd, pid, sizeof(pid));
		if (no_wait)
			return ctx_fail(ctx, SPOKE_E_LOCKED, EWOULDBLOCK, home,
					"'%s' is locked by another spoke%s%s%s "
					"(not waiting: no_wait is set)", home,
					*pid ? " (pid " : "", pid, *pid ? ")" : "");
		if (!*told) {
			ctx_log(ctx, SPOKE_LOG_WARN, "waiting for the lock on "
				"'%s' held by another spoke%s%s%s...", home,
				*pid ? " (pid " : "", pid, *pid ? ")" : "");
			*told = 1;
		}
		if (ctx_canceled(ctx))
			return ctx_fail(ctx, SPOKE_E_CANCELED, 0, home,
					"canceled while waiting for the lock "
					"on '%s'", home);
		/* EINTR only shortens the pause; the loop re-checks. */
		nanosleep(&ts, NULL);
	}
}

/* mkdir -p home: a --target directory may not exist before its first
 * install. Remembers the top directory it made, for release. */
static int make_home(spoke_ctx *ctx, struct env_lock *l)
{
	char *p = l->home;
	struct stat st;

	if (stat(p, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : ctx_fail(ctx, -ENOTDIR,
			ENOTDIR, p, "'%s' is not a directory", p);
	for (char *c = p + 1;; c++) {
		char save = *c;

		if (save != '/' && save != '\0')
			continue;
		*c = '\0';
		if (mkdir(p, 0777) == 0) {
			if (!l->made)
				l->made = strlen(p);
		} else if (errno != EEXIST) {
			int err = errno;

			*c = save;
			return ctx_fail(ctx, -err, err, p, "cannot create "
					"directory '%.*s': %s", (int)(c - p), p,
					strerror(err));
		}
		*c = save;
		if (!save)
			return 0;
	}
}

int env_lock_acquire(spoke_ctx *ctx, const char *home, int no_wait,
		     struct env_lock **out)
{
	struct env_lock *l = xcalloc(1, sizeof(*l));
	size_t n = strlen(home) + sizeof(LOCK_NAME) + 1;
	int told = 0, err = 0, tries = 0;

	*out = NULL;
	if (!l || !(l->path = xmalloc(n)) || !(l->home = xstrdup(home))) {
		if (l)
			free(l->path);
		free(l);
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	}
	snprintf(l->path, n, "%s/%s", home, LOCK_NAME);
	for (;;) {
		char pid[32];
		int ours, len;

		err = make_home(ctx, l);
		if (err) {
			l->fd = -1;
			break;
		}
		err = io_fault_hit(IO_OP_OPEN);
		l->fd = err ? -1 : open(l->path, O_RDWR | O_CREAT | O_NOFOLLOW |
					O_NONBLOCK | O_CLOEXEC, 0644);
		/* A holder that made home removed it again on release. */
		if (l->fd < 0 && !err && errno == ENOENT && ++tries < 100)
			continue;
		if (l->fd < 0 && !err && errno == ELOOP) {
			err = ctx_fail(ctx, SPOKE_E_UNSAFE_PATH, 0, l->path,
				       "refusing the lock file '%s': it is a "
				       "symbolic link, so spoke did not make "
				       "it; remove it", l->path);
			break;
		}
		if (l->fd < 0) {
			if (!err)
				err = -errno;
			err = ctx_fail(ctx, err, -err, l->path, "cannot open the "
				       "lock file '%s': %s", l->path,
				       strerror(-err));
			break;
		}
		err = check_lock_file(ctx, l->fd, l->path);
		if (err == 1) {
			close(l->fd);
			err = 0;
			continue;
		}
		if (err)
			break;
		err = wait_lock(ctx, l->fd, home, l->path, no_wait, &told);
		if (err)
			break;
		ours = still_ours(l->fd, l->path);
		if (ours < 0) {
			err = ctx_fail(ctx, ours, -ours, l->path, "cannot check "
				       "the lock file '%s': %s", l->path,
				       strerror(-ours));
			break;
		}
		if (!ours) {
			close(l->fd);
			continue;
		}
		/* The pid only improves a waiter's message: a full disk
		 * must not fail the install over it. */
		len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (ftruncate(l->fd, 0) < 0 ||
		    pwrite(l->fd, pid, (size_t)len, 0) != len)
			ctx_log(ctx, SPOKE_LOG_DEBUG, "cannot write the pid into "
				"'%s': %s", l->path, strerror(errno));
		if (told)
			ctx_log(ctx, SPOKE_LOG_INFO, "got the lock on '%s'",
				home);
		*out = l;
		return 0;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	env_lock_release(l);
	return err;
}

void env_lock_release(struct env_lock *l)
{
	if (!l)
		return;
	/* Unlink while still holding it: a waiter that then locks this
	 * inode sees the path gone and starts over. A failed unlink leaves
	 * an unlocked file that the next run reuses, so it is not an error;
	 * the lock itself goes with the close. */
	if (l->fd >= 0) {
		(void)unlink(l->path);
		close(l->fd);
	}
	/* A home this lock made and nothing filled (a failed first install
	 * into a new --target) goes again, up to the top one it made;
	 * ENOTEMPTY means it is in use, which is fine. */
	while (l->made && strlen(l->home) >= l->made && rmdir(l->home) == 0)
		path_dirname(l->home);
	free(l->home);
	free(l->path);
	free(l);
}
