/* SPDX-License-Identifier: MIT */
/*
 * envmod - see envmod.h. Removals walk below their root with O_NOFOLLOW
 * directory fds, so a RECORD path can never reach outside the environment
 * through a symlinked directory; the fd of the last directory is kept, since
 * an uninstall removes files in RECORD order, which groups them by
 * directory.
 */
#include "engine/envmod.h"
#include "engine/walk.h"
#include "io/alloc.h"
#include "io/linkops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct strvec {
	char **v;
	size_t n;
};

struct saved_mode {
	char *path;
	mode_t mode;
};

struct envmod {
	spoke_ctx *ctx;
	struct spoke_report *rep;
	const struct scheme *s;
	struct linker *linker;
	struct strvec created_files, created_dirs;
	struct saved_mode *modes; /* existing link destinations */
	size_t nmodes;
	int dfd;      /* cached directory for removals */
	char *droot, *drel;
};

static int strvec_push(struct strvec *sv, const char *s)
{
	char **v = xrealloc(sv->v, (sv->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	sv->v = v;
	if (!(v[sv->n] = xstrdup(s)))
		return -ENOMEM;
	sv->n++;
	return 0;
}

static void strvec_free(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static int nomem(struct envmod *m)
{
	return ctx_fail(m->ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

int envmod_begin(struct envmod **out, spoke_ctx *ctx, struct spoke_report *rep,
		 const struct scheme *s)
{
	struct envmod *m = xcalloc(1, sizeof(*m));
	int err;

	*out = NULL;
	if (!m)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	m->ctx = ctx;
	m->rep = rep;
	m->s = s;
	m->dfd = -1;
	err = linker_create(&m->linker, ctx, rep);
	if (err) {
		free(m);
		return ctx_fail(ctx, err, err, NULL, "cannot set up the linker: "
				"%s", spoke_strerror(err));
	}
	*out = m;
	return 0;
}

/* The linker gives every directory it walks the source directory's mode,
 * which for a tree's root (often 0700 when unpacked into a private
 * temporary directory) would be imposed on site-packages or bin. Existing
 * destination roots get their own mode back after the run. */
static int save_mode(struct envmod *m, const char *dst)
{
	struct saved_mode *v;
	struct stat st;

	if (stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	for (size_t i = 0; i < m->nmodes; i++)
		if (!strcmp(m->modes[i].path, dst))
			return 0;
	v = xrealloc(m->modes, (m->nmodes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->modes = v;
	v[m->nmodes].mode = st.st_mode & 07777;
	if (!(v[m->nmodes].path = xstrdup(dst)))
		return -ENOMEM;
	m->nmodes++;
	return 0;
}

static void restore_modes(struct envmod *m)
{
	for (size_t i = 0; i < m->nmodes; i++) {
		struct stat st;

		if (stat(m->modes[i].path, &st) == 0 &&
		    (st.st_mode & 07777) != m->modes[i].mode)
			chmod(m->modes[i].path, m->modes[i].mode);
		free(m->modes[i].path);
	}
	free(m->modes);
	m->modes = NULL;
	m->nmodes = 0;
}

int envmod_link_tree(struct envmod *m, const char *src, const char *dst,
		     const char *const *skip, const char *label)
{
	int err = save_mode(m, dst);

	if (!err)
		err = linker_add_tree(m->linker, src, dst, skip, label);
	return err ? nomem(m) : 0;
}

void envmod_link_totals(struct envmod *m, uint64_t files, uint64_t bytes)
{
	linker_set_totals(m->linker, files, bytes);
}

int envmod_link_run(struct envmod *m)
{
	int err = linker_run(m->linker);

	restore_modes(m);
	return err;
}

/* mkdir -p of the parents of path, remembering what it made. */
static int make_parents(struct envmod *m, const char *path)
{
	char *p = xstrdup(path);
	int ret = 0;

	if (!p)
		return nomem(m);
	path_dirname(p);
	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) == 0) {
			if (strvec_push(&m->created_dirs, p)) {
				ret = nomem(m);
				break;
			}
		} else if (errno != EEXIST) {
			ret = ctx_fail(m->ctx, -errno, errno, p, "cannot create "
				       "directory '%s': %s", p, strerror(errno));
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return ret;
}

int envmod_write_file(struct envmod *m, const char *path, const void *data,
		      size_t len, mode_t mode)
{
	char *dir = xstrdup(path);
	struct stat st;
	int dfd = -1, existed, err;

	if (!dir)
		return nomem(m);
	err = make_parents(m, path);
	if (err)
		goto out;
	path_dirname(dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = ctx_fail(m->ctx, -errno, errno, dir, "cannot open "
			       "directory '%s': %s", dir, strerror(errno));
		goto out;
	}
	existed = fstatat(dfd, path_basename(path), &st,
			  AT_SYMLINK_NOFOLLOW) == 0;
	err = io_write_file_at(dfd, path_basename(path), data, len, mode);
	if (err) {
		err = ctx_fail(m->ctx, err, err, path, "cannot write '%s': %s",
			       path, strerror(-err));
		goto out;
	}
	m->rep->count[SPOKE_COUNT_WRITTEN]++;
	if (!existed && strvec_push(&m->created_files, path))
		err = nomem(m);
out:
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return err;
}

/* The directory fd for root/dir, from the one-entry cache. */
static int dir_fd(struct envmod *m, const char *root, const char *dir)
{
	if (m->dfd >= 0 && strcmp(m->droot, root) == 0 &&
	    strcmp(m->drel, dir) == 0)
		return m->dfd;
	if (m->dfd >= 0)
		close(m->dfd);
	free(m->droot);
	free(m->drel);
	m->droot = xstrdup(root);
	m->drel = xstrdup(dir);
	m->dfd = -1;
	if (!m->droot || !m->drel)
		return -ENOMEM;
	m->dfd = path_open_below(root, dir);
	return m->dfd;
}

static void dir_forget(struct envmod *m)
{
	if (m->dfd >= 0)
		close(m->dfd);
	m->dfd = -1;
}

/* Split rel into its directory (in buf) and last name. */
static const char *split(const char *rel, char *buf, size_t len)
{
	const char *slash = strrchr(rel, '/');

	if (!slash) {
		buf[0] = '\0';
		return rel;
	}
	snprintf(buf, len, "%.*s", (int)(slash - rel), rel);
	return slash + 1;
}

int envmod_remove(struct envmod *m, const char *root, const char *rel)
{
	char dir[PATH_MAX];
	const char *name = split(rel, dir, sizeof(dir));
	int fd = dir_fd(m, root, dir), err;

	if (fd == -ENOMEM)
		return nomem(m);
	if (fd == -ENOENT)
		return 0;
	if (fd == -ENOTDIR || fd == -ELOOP) {
		/* A component is a file or a symlink: what RECORD names is
		 * not there (and must not be reached through a link). */
		ctx_log(m->ctx, SPOKE_LOG_DEBUG, "not removing '%s/%s': a "
			"parent directory is not a directory", root, rel);
		return 0;
	}
	if (fd < 0)
		return ctx_fail(m->ctx, fd, fd, root, "cannot open '%s/%s': %s",
				root, dir, strerror(-fd));
	err = io_unlink_at(fd, name, 0);
	if (err == -ENOENT)
		return 0;
	if (err == -EISDIR || err == -EPERM) {
		struct stat st;

		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			ctx_log(m->ctx, SPOKE_LOG_WARN, "not removing '%s/%s': "
				"RECORD lists it as a file but it is a "
				"directory", root, rel);
			return 0;
		}
	}
	if (err)
		return ctx_fail(m->ctx, err, err, rel, "cannot remove '%s/%s': "
				"%s", root, rel, strerror(-err));
	m->rep->count[SPOKE_COUNT_REMOVED]++;
	return 0;
}

int envmod_rmdir(struct envmod *m, const char *root, const char *rel)
{
	char dir[PATH_MAX];
	const char *name = split(rel, dir, sizeof(dir));
	int fd, err;

	if (!*rel)
		return 0; /* never a root itself */
	/* The cached fd may be this directory or below it. */
	if (m->dfd >= 0 && strcmp(m->droot, root) == 0 &&
	    strncmp(m->drel, rel, strlen(rel)) == 0)
		dir_forget(m);
	fd = dir_fd(m, root, dir);
	if (fd == -ENOMEM)
		return nomem(m);
	if (fd < 0)
		return 0;
	err = io_unlink_at(fd, name, AT_REMOVEDIR);
	if (err == 0)
		return 1;
	if (err == -ENOTEMPTY || err == -EEXIST || err == -ENOENT ||
	    err == -ENOTDIR || err == -EBUSY)
		return 0;
	return ctx_fail(m->ctx, err, err, rel, "cannot remove directory "
			"'%s/%s': %s", root, rel, strerror(-err));
}

int envmod_touch(struct envmod *m, const char *dir)
{
	if (utimensat(AT_FDCWD, dir, NULL, 0) == 0 || errno == ENOENT)
		return 0;
	return ctx_fail(m->ctx, -errno, errno, dir, "cannot update the mtime "
			"of '%s': %s", dir, strerror(errno));
}

static void envmod_free(struct envmod *m)
{
	dir_forget(m);
	free(m->droot);
	free(m->drel);
	linker_free(m->linker);
	restore_modes(m);
	strvec_free(&m->created_files);
	strvec_free(&m->created_dirs);
	free(m);
}

int envmod_commit(struct envmod *m)
{
	envmod_free(m);
	return 0;
}

void envmod_abort(struct envmod *m)
{
	if (!m)
		return;
	for (size_t i = m->created_files.n; i-- > 0;)
		unlink(m->created_files.v[i]);
	for (size_t i = m->created_dirs.n; i-- > 0;)
		rmdir(m->created_dirs.v[i]);
	envmod_free(m);
}
