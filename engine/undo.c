/* SPDX-License-Identifier: MIT */
/*
 * undo - taking a transaction back (txn_rollback, and recovery's replay of
 * an interrupted one) or finishing a committed one: plain syscalls, no
 * allocation in process (recovery of a journal on disk allocates while
 * parsing, and a failure there keeps the journal), so an injected fault
 * never breaks the rollback that follows it.
 *
 * Undo order: F paths, then D subtrees, then (recovery only) the temporary
 * files a killed writer left beside F and M paths, then M backups from the
 * shallowest path down (a directory moved aside is back before the files
 * that go into it), then the backup directories, then the journal.
 */
#include "engine/txn_int.h"
#include "base/alloc.h"
#include "base/path.h"
#include "base/rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

static int depth(const char *p)
{
	int d = 0;

	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int rank(char type)
{
	switch (type) {
	case 'F':
		return 0;
	case 'D':
		return 1;
	case 'M':
		return 2;
	case 'X':
		return 3;
	default:
		return 4;
	}
}

static int cmp_undo(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int rx = rank(x->type), ry = rank(y->type);

	if (rx != ry)
		return rx - ry;
	if (x->type == 'M') {
		int dx = depth(x->path), dy = depth(y->path);

		if (dx != dy)
			return dx - dy;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The scheme root that holds path's parent: path's own root, or for a
 * scheme directory itself (a --target's bin/ made by this run) the one
 * around it. NULL when the parent lies outside the environment. */
const char *txn_outer_root(const struct scheme *s, const char *path)
{
	char parent[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s", path);
	path_dirname(parent);
	return strcmp(parent, path) ? scheme_root_of(s, parent) : NULL;
}

/* Where a path of the journal is resolved from: the environment's home
 * when it lies below it (every path of a venv or --target), else its
 * scheme root (explicit scheme paths elsewhere). Below that anchor no
 * symlink is followed in any component (path_open_beneath), whatever the
 * journal says: a scheme directory replaced by a link to /etc is a
 * directory that is not there. */
static const char *anchor_of(struct txn *t, const char *path)
{
	const char *root;

	if (path_under(t->home, path) && strcmp(t->home, path))
		return t->home;
	root = txn_outer_root(t->s, path);
	return root;
}

/* The fd of the directory dir (its first dl bytes; absolute), cached. */
static int dir_fd(struct txn *t, const char *dir, size_t dl)
{
	const char *anchor, *rel;
	char d[PATH_MAX];
	size_t al;

	if (dl >= sizeof(d))
		return -ENAMETOOLONG;
	memcpy(d, dir, dl);
	d[dl] = '\0';
	if (path_under(t->home, d))
		anchor = t->home;
	else if (!(anchor = scheme_root_of(t->s, d)))
		return -EINVAL;
	al = strlen(anchor);
	rel = al == 1 ? d + 1 : d + al + (d[al] == '/');
	return dirfd_get(&t->dc, anchor, rel, strlen(rel));
}

/* The fd of path's parent directory (cached) and path's last name. */
static int parent_fd(struct txn *t, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');

	if (!anchor_of(t, path) || !slash || slash == path)
		return -EINVAL;
	*name = slash + 1;
	return dir_fd(t, path, (size_t)(slash - path));
}

/* A fresh fd of the directory path (a backup directory), resolved the
 * same way. */
static int open_dir(struct txn *t, const char *path)
{
	const char *anchor = anchor_of(t, path), *rel;

	if (!anchor)
		return -EINVAL;
	rel = path + strlen(anchor);
	rel += *rel == '/';
	return path_open_below(anchor, rel);
}

int txn_objid_cmp(const void *a, const void *b)
{
	const struct objid *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* The time window: the change time (birth time for a directory, whose
 * change time moves whenever an entry comes or goes) lies within the
 * run's lifetime, or is this recovery's own doing (unlinking one hardlink
 * of an inode changes the others'). */
static int in_window(const struct txn *t, const struct statx *sx, int dir)
{
	int64_t when;

	if (dir && (sx->stx_mask & STATX_BTIME))
		when = (int64_t)sx->stx_btime.tv_sec * 1000000000 +
		       sx->stx_btime.tv_nsec;
	else
		when = (int64_t)sx->stx_ctime.tv_sec * 1000000000 +
		       sx->stx_ctime.tv_nsec;
	return (when >= t->win_lo && when <= t->win_hi) || when > t->now_ns;
}

/* Recovery: is the entry name below dfd the killed run's? By identity
 * when the journal records identities (format 3): an object whose device,
 * inode and birth time are in an I record is the run's, whatever happened
 * to its times since (another environment hardlinking the same cache
 * file moves its change time); anything else is not, unless the journal
 * ends inside a creating phase (the objects of the kill's last batches
 * have no record yet), and then only within the time window. Without
 * identities (a format 2 journal, temporaries: window set), the window
 * alone decides (docs/RELIABILITY.md, "What recovery removes"). A live
 * rollback (win_hi 0) owns everything it recorded. */
static int runs_how(struct txn *t, int dfd, const char *name, int dir,
		    int window)
{
	struct statx sx;
	struct objid id;
	const struct objid *hit;

	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW, STATX_CTIME | STATX_BTIME |
		  STATX_INO, &sx) < 0)
		return !t->win_hi;
	objid_of(&sx, &id);
	/* what the run found in its way is another writer's, live or not */
	for (size_t i = 0; i < t->nforeign; i++)
		if (t->foreign[i].ino == id.ino && t->foreign[i].dev == id.dev)
			return 0;
	if (!t->win_hi)
		return 1;
	if (window || !t->identity)
		return in_window(t, &sx, dir);
	hit = t->nids ? bsearch(&id, t->ids, t->nids, sizeof(*t->ids),
				txn_objid_cmp) : NULL;
	/* An inode number reused after the kill has another birth time. A
	 * filesystem without birth times cannot tell: the change time must
	 * then also lie in the window (the safe side). */
	if (hit)
		return hit->btime && id.btime ? hit->btime == id.btime :
		       in_window(t, &sx, dir);
	return t->open_phase && in_window(t, &sx, dir);
}

/* A killed writer's temporary (.spoke-<pid>-<n>-name, io_temp_name) is
 * made before any identity can be taken: its name and the window say
 * whose it is. */
static int is_temp_of(const struct txn *t, const char *name)
{
	char prefix[40];
	int n = snprintf(prefix, sizeof(prefix), ".spoke-%ld-", t->pid);

	return !strncmp(name, prefix, (size_t)n);
}

static int runs(struct txn *t, int dfd, const char *name, int dir)
{
	return runs_how(t, dfd, name, dir, !dir && is_temp_of(t, name));
}

static void note_kept(struct txn *t, const char *path)
{
	if (!t->kept++)
		snprintf(t->kept_first, sizeof(t->kept_first), "%s", path);
	ctx_log(t->ctx, SPOKE_LOG_INFO, "recovery: leaving '%s' (or something "
		"in it): it was made or changed after the interrupted run",
		path);
}

static void undo_warn(struct txn *t, const char *what, const char *path,
		      int err)
{
	ctx_log(t->ctx, SPOKE_LOG_WARN, "rollback: cannot %s '%s': %s", what,
		path, strerror(err));
}

static int keep_foreign(void *arg, int dfd, const char *name,
			const struct stat *st)
{
	return !runs(arg, dfd, name, S_ISDIR(st->st_mode));
}

/* Remove the directory name below pfd and everything in it: for a path
 * the run created (path given), only what is the run's; a backup (path
 * NULL) is spoke's own whole. 0, or 1 when something could not be
 * removed. */
static int rm_tree(struct txn *t, int pfd, const char *name,
		   const char *path)
{
	struct rmtree o = { 0 };
	int err;

	o.flags = RMTREE_NOFAULT;
	if ((t->win_hi || t->nforeign) && path) {
		o.keep = keep_foreign;
		o.arg = t;
	}
	err = rmtree_at(&o, pfd, name);
	t->removed += o.removed;
	if (o.kept && path)
		note_kept(t, path);
	return err != 0;
}

/* An F or D path of this run: gone afterwards. 0, or 1 when it could not
 * be removed. A directory where F said file (the run failed before the
 * old directory was pruned) or a file where D said directory (before
 * the old file was moved aside) is not ours and stays. */
static int undo_created(struct txn *t, const struct ent *e)
{
	const char *name;
	struct stat st;
	int pfd = parent_fd(t, e->path, &name);

	if (pfd == -ENOENT || pfd == -ENOTDIR || pfd == -ELOOP)
		return 0; /* its parent is not there: neither is it */
	if (pfd < 0) {
		undo_warn(t, "open the directory of", e->path, -pfd);
		return 1;
	}
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		undo_warn(t, "check", e->path, errno);
		return 1;
	}
	if (((e->type == 'F') != !S_ISDIR(st.st_mode)))
		return 0;
	if (!runs(t, pfd, name, S_ISDIR(st.st_mode))) {
		note_kept(t, e->path);
		return 0;
	}
	if (e->type == 'F') {
		if (unlinkat(pfd, name, 0) < 0) {
			undo_warn(t, "remove", e->path, errno);
			return 1;
		}
		t->removed++;
	} else {
		if (rm_tree(t, pfd, name, e->path)) {
			undo_warn(t, "remove the directory", e->path, EIO);
			return 1;
		}
	}
	return 0;
}

static int undo_move(struct txn *t, const struct ent *e)
{
	struct bdir *b = &t->bd[e->bdir];
	const char *bname = strrchr(e->backup, '/') + 1, *name;
	struct stat st;
	int pfd;

	if (!t->win_hi && !b->made)
		return 0; /* live: never made, so nothing was moved into it */
	if (b->fd < 0) {
		int fd = open_dir(t, b->path);

		if (fd == -ENOENT)
			return 0; /* never made: nothing was moved into it */
		if (fd < 0) {
			undo_warn(t, "open", b->path, -fd);
			return 1;
		}
		b->fd = fd;
	}
	if (fstatat(b->fd, bname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0; /* not moved, or already back */
		undo_warn(t, "check", e->backup, errno);
		return 1;
	}
	pfd = parent_fd(t, e->path, &name);
	if (pfd < 0) {
		undo_warn(t, "open the directory of", e->path, -pfd);
		return 1;
	}
	/* What is there now is the run's replacement, which the rename
	 * removes, unless someone else put it there since. */
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !runs(t, pfd, name, S_ISDIR(st.st_mode))) {
		ctx_log(t->ctx, SPOKE_LOG_WARN, "recovery: not putting '%s' "
			"back: what is there now was made after the "
			"interrupted run; the old one stays in '%s'", e->path,
			e->backup);
		note_kept(t, e->path);
		return 1;
	}
	/* A directory moved aside may find an empty one of this run in its
	 * place (a run that made it again); rename replaces that. */
	if (renameat(b->fd, bname, pfd, name) < 0) {
		undo_warn(t, "put back", e->path, errno);
		return 1;
	}
	t->restored++;
	return 0;
}

/* In every directory holding an F or M path: temporaries of pid's
 * io_write_file_at / replace, which a kill left behind. Recovery only. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sweep_temps(struct txn *t)
{
	char prefix[40], **dirs = xmalloc((t->n + 1) * sizeof(char *));
	size_t nd = 0, plen;
	int bad = 0;

	if (!dirs)
		return 1;
	plen = (size_t)snprintf(prefix, sizeof(prefix), ".spoke-%ld-", t->pid);
	for (size_t i = 0; i < t->n; i++) {
		char *slash;

		if (t->e[i].type != 'F' && t->e[i].type != 'M')
			continue;
		if (!(dirs[nd] = xstrdup(t->e[i].path))) {
			bad = 1;
			break;
		}
		slash = strrchr(dirs[nd], '/');
		*slash = '\0';
		nd++;
	}
	qsort(dirs, nd, sizeof(*dirs), cmp_str);
	for (size_t i = 0; i < nd; i++) {
		struct dirent *d;
		DIR *dir;
		int fd;

		if (i && !strcmp(dirs[i], dirs[i - 1]))
			continue;
		fd = dir_fd(t, dirs[i], strlen(dirs[i]));
		/* A fresh open, not a dup: readdir must not move the cached
		 * fd's offset. */
		if (fd < 0 || (fd = openat(fd, ".", O_RDONLY | O_DIRECTORY |
					   O_CLOEXEC)) < 0)
			continue;
		if (!(dir = fdopendir(fd))) {
			close(fd);
			continue;
		}
		while ((d = readdir(dir)))
			if (!strncmp(d->d_name, prefix, plen) &&
			    runs_how(t, fd, d->d_name, 0, 1) &&
			    unlinkat(fd, d->d_name, 0) == 0)
				t->removed++;
		closedir(dir);
	}
	for (size_t i = 0; i < nd; i++)
		free(dirs[i]);
	free(dirs);
	return bad;
}

int txn_drop_journal(struct txn *t)
{
	int dfd;

	txn_beat_stop(t);
	if (t->jfd >= 0)
		close(t->jfd);
	t->jfd = -1;
	/* Never another run's: an O_EXCL create that found one fails the
	 * run, and its rollback must leave that journal alone. */
	if (!t->own)
		return 0;
	if (unlink(t->jpath) < 0 && errno != ENOENT) {
		undo_warn(t, "remove", t->jpath, errno);
		return 1;
	}
	/* Best effort: the journal's removal need not be durable (a
	 * journal that reappears after a power cut is replayed, and
	 * replaying is idempotent). */
	dfd = open(t->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int rm_bdirs(struct txn *t)
{
	const char *name;
	int bad = 0, pfd;

	for (size_t i = 0; i < t->nbd; i++) {
		if (t->bd[i].fd >= 0)
			close(t->bd[i].fd);
		t->bd[i].fd = -1;
		/* A live run's failed mkdir found someone else's: not ours. */
		if (!t->win_hi && !t->bd[i].made)
			continue;
		pfd = parent_fd(t, t->bd[i].path, &name);
		if (pfd == -ENOENT)
			continue;
		if (pfd < 0 || (unlinkat(pfd, name, AT_REMOVEDIR) < 0 &&
				errno != ENOENT)) {
			undo_warn(t, "remove", t->bd[i].path, pfd < 0 ? -pfd :
				  errno);
			bad = 1;
		}
	}
	return bad;
}

/* Undo every entry; 0 when all is back (journal removed), else 1. */
int txn_undo(struct txn *t, int temps)
{
	int bad = 0;

	if (t->n)
		qsort(t->e, t->n, sizeof(*t->e), cmp_undo);
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].type == 'F' || t->e[i].type == 'D')
			bad |= undo_created(t, &t->e[i]);
	if (temps)
		bad |= sweep_temps(t);
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].type == 'M')
			bad |= undo_move(t, &t->e[i]);
	dirfd_forget(&t->dc);
	if (!bad)
		bad = rm_bdirs(t);
	if (!bad)
		bad = txn_drop_journal(t);
	return bad;
}

/* Committed: delete what is left of the backups. 0, or 1 (journal kept). */
int txn_finish(struct txn *t)
{
	int bad = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct ent *e = &t->e[i];
		struct bdir *b;
		const char *bname;

		if (e->type != 'M')
			continue;
		b = &t->bd[e->bdir];
		bname = strrchr(e->backup, '/') + 1;
		if (b->fd < 0) {
			int fd = open_dir(t, b->path);

			if (fd < 0) {
				bad |= fd != -ENOENT;
				continue;
			}
			b->fd = fd;
		}
		if (unlinkat(b->fd, bname, 0) == 0 || errno == ENOENT)
			continue;
		/* a directory moved aside: emptied by the run, or whole */
		if ((errno == EISDIR || errno == EPERM) &&
		    !rm_tree(t, b->fd, bname, NULL))
			continue;
		undo_warn(t, "delete the backup", e->backup, errno);
		bad = 1;
	}
	if (!bad)
		bad = rm_bdirs(t);
	if (!bad)
		bad = txn_drop_journal(t);
	return bad;
}

int txn_rollback(struct txn *t)
{
	int bad;

	if (!t)
		return 0;
	bad = txn_undo(t, 0);
	if (bad)
		ctx_log(t->ctx, SPOKE_LOG_WARN, "the environment '%s' could not "
			"be fully restored; its journal '%s' is kept: run "
			"'spoke recover' once the cause is fixed", t->home,
			t->jpath);
	txn_free(t);
	return bad ? -EIO : 0;
}
