/* SPDX-License-Identifier: MIT */
/*
 * txn - see txn.h. On-disk format of .spoke-journal: a sequence of batches,
 * each "SPKJ", the payload length (u32 LE), the FNV-1a 64 hash of the
 * payload (u64 LE), the payload. A payload is records: a type byte and its
 * NUL-terminated strings (H: home, pid, version; X: dir; F, D: path; M:
 * path, backup; C: none). Paths never hold NUL, so no quoting is needed.
 *
 * Backups are named by entry index in a flat backup directory per
 * filesystem: <home>/.spoke-txn for every scheme root on home's device,
 * <root>/.spoke-txn for a root on another one (explicit scheme paths), so
 * moving aside is always one rename within a filesystem.
 *
 * Undo order: F paths, then D subtrees, then (recovery only) the temporary
 * files a killed writer left beside F and M paths, then M backups from the
 * shallowest path down (a directory moved aside is back before the files
 * that go into it), then the backup directories, then the journal.
 */
#include "engine/txn.h"
#include "base/fdio.h"
#include "base/alloc.h"
#include "base/fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "SPKJ"
#define HDR 16 /* magic, length, hash */
#define FORMAT "1"
#define RM_DEPTH_MAX 4096

struct ent {
	char type;
	int bdir;    /* M: index into bd */
	size_t idx;  /* recording order: a stable tie-break when sorting */
	char *path;
	char *backup; /* M */
};

struct bdir {
	char *path;
	dev_t dev;
	int fd; /* -1 until made (forward) or opened (undo) */
};

struct rootdev {
	const char *root; /* a scheme root string (owned by the scheme) */
	int bdir;
};

struct txn {
	spoke_ctx *ctx;
	const struct scheme *s;
	const char *home;
	char *jpath;
	int jfd;
	int broken;       /* a journal write failed: write nothing more */
	int own;          /* the journal is this txn's (made or replayed) */
	long pid;         /* of the writer (for its temporaries) */
	struct ent *e;
	size_t n, cap, synced;
	struct bdir *bd;
	size_t nbd;
	struct rootdev *rd;
	size_t nrd;
	int committed;
	uint64_t restored, removed;
	/* undo's one-entry cache of the last parent directory opened */
	const char *croot;
	char cdir[PATH_MAX];
	int cfd;
};

const char *txn_home(const struct scheme *s)
{
	static const int order[] = { SPOKE_SCHEME_PURELIB, SPOKE_SCHEME_PLATLIB,
				     SPOKE_SCHEME_DATA, SPOKE_SCHEME_SCRIPTS,
				     SPOKE_SCHEME_HEADERS };

	if (s->env)
		return s->env;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (s->path[order[i]])
			return s->path[order[i]];
	return NULL;
}

static char *join2(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = xmalloc(n);

	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

int txn_pending(const char *home)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", home, TXN_JOURNAL);
	return lstat(path, &st) == 0;
}

static int nomem(struct txn *t)
{
	return ctx_fail(t->ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

static struct txn *txn_new(spoke_ctx *ctx, const struct scheme *s)
{
	struct txn *t = xcalloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ctx = ctx;
	t->s = s;
	t->home = txn_home(s);
	t->jfd = -1;
	t->cfd = -1;
	t->pid = (long)getpid();
	if (!t->home || !(t->jpath = join2(t->home, TXN_JOURNAL))) {
		free(t);
		return NULL;
	}
	return t;
}

static void txn_free(struct txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].path);
		free(t->e[i].backup);
	}
	free(t->e);
	for (size_t i = 0; i < t->nbd; i++) {
		if (t->bd[i].fd >= 0)
			close(t->bd[i].fd);
		free(t->bd[i].path);
	}
	free(t->bd);
	free(t->rd);
	if (t->jfd >= 0)
		close(t->jfd);
	if (t->cfd >= 0)
		close(t->cfd);
	free(t->jpath);
	free(t);
}

int txn_create(struct txn **out, spoke_ctx *ctx, const struct scheme *s)
{
	*out = txn_new(ctx, s);
	if (!*out)
		return ctx_fail(ctx, txn_home(s) ? SPOKE_E_NOMEM : SPOKE_E_USAGE,
				txn_home(s) ? ENOMEM : 0, NULL, txn_home(s) ?
				"out of memory" : "no environment directory "
				"for the journal");
	return 0;
}

/* Append an entry (strings copied). Index, or -ENOMEM (not recorded). */
static long add(struct txn *t, char type, const char *path,
		const char *backup, int bdir)
{
	struct ent *e;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		e = xrealloc(t->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->e = e;
		t->cap = cap;
	}
	e = &t->e[t->n];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->bdir = bdir;
	e->idx = t->n;
	e->path = xstrdup(path);
	e->backup = backup ? xstrdup(backup) : NULL;
	if (!e->path || (backup && !e->backup)) {
		free(e->path);
		free(e->backup);
		return -ENOMEM;
	}
	return (long)t->n++;
}

int txn_created(struct txn *t, const char *path, int is_dir)
{
	return add(t, is_dir ? 'D' : 'F', path, NULL, -1) < 0 ? nomem(t) : 0;
}

/* The backup directory for files below root: home's, or root's own when
 * root lies on another filesystem (a rename cannot cross). */
static int bdir_for(struct txn *t, const char *root)
{
	struct rootdev *rd;
	struct stat st;
	const char *base = t->home;
	int b = -1;

	for (size_t i = 0; i < t->nrd; i++)
		if (t->rd[i].root == root)
			return t->rd[i].bdir;
	if (stat(root, &st) < 0)
		return ctx_fail(t->ctx, -errno, errno, root, "cannot stat "
				"'%s': %s", root, strerror(errno));
	for (size_t i = 0; i < t->nbd && b < 0; i++)
		if (t->bd[i].dev == st.st_dev)
			b = (int)i;
	if (b < 0) {
		struct stat hs;
		struct bdir *bd;
		char *path;

		if (stat(t->home, &hs) < 0)
			return ctx_fail(t->ctx, -errno, errno, t->home, "cannot "
					"stat '%s': %s", t->home,
					strerror(errno));
		if (hs.st_dev != st.st_dev)
			base = root;
		path = join2(base, TXN_BACKUP_DIR);
		bd = xrealloc(t->bd, (t->nbd + 1) * sizeof(*bd));
		if (!path || !bd) {
			free(path);
			if (bd)
				t->bd = bd;
			return nomem(t);
		}
		t->bd = bd;
		if (add(t, 'X', path, NULL, -1) < 0) {
			free(path);
			return nomem(t);
		}
		bd[t->nbd].path = path;
		bd[t->nbd].dev = st.st_dev;
		bd[t->nbd].fd = -1;
		b = (int)t->nbd++;
	}
	rd = xrealloc(t->rd, (t->nrd + 1) * sizeof(*rd));
	if (!rd)
		return nomem(t);
	t->rd = rd;
	rd[t->nrd].root = root;
	rd[t->nrd++].bdir = b;
	return b;
}

int txn_move(struct txn *t, const char *path, const char *root)
{
	char backup[PATH_MAX];
	int b = bdir_for(t, root);
	long i;

	if (b < 0)
		return b;
	snprintf(backup, sizeof(backup), "%s/%zu", t->bd[b].path, t->n);
	i = add(t, 'M', path, backup, b);
	return i < 0 ? nomem(t) : (int)i;
}

/* ---- writing the journal --------------------------------------------- */

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n--)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static int jsync(int fd)
{
	int err = io_fault_hit(IO_OP_WRITE);

	if (err)
		return err;
	return fdatasync(fd) < 0 ? -errno : 0;
}

static size_t rec_len(const struct ent *e)
{
	return 1 + strlen(e->path) + 1 + (e->backup ? strlen(e->backup) + 1 :
					  0);
}

static unsigned char *put_str(unsigned char *p, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(p, s, n);
	return p + n;
}

static int create_journal(struct txn *t)
{
	int err = io_fault_hit(IO_OP_OPEN), dfd;

	if (!err) {
		t->jfd = open(t->jpath, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
			      O_NOFOLLOW | O_CLOEXEC, 0644);
		if (t->jfd < 0)
			err = -errno;
		else
			t->own = 1;
	}
	if (err)
		return ctx_fail(t->ctx, err, -err, t->jpath, "cannot create the "
				"journal '%s': %s", t->jpath, strerror(-err));
	/* The journal's directory entry must be durable before anything it
	 * protects changes. */
	err = io_fault_hit(IO_OP_OPEN);
	dfd = err ? -1 : open(t->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!err && dfd < 0)
		err = -errno;
	if (!err) {
		err = jsync(dfd);
		close(dfd);
	}
	if (err)
		return ctx_fail(t->ctx, err, -err, t->home, "cannot sync '%s': "
				"%s", t->home, strerror(-err));
	return 0;
}

/* One batch: the records of e[from..n), preceded by the header record
 * when this is the journal's first batch, or the commit mark alone. */
static int write_batch(struct txn *t, int commit)
{
	size_t len = 0, off = HDR;
	unsigned char *buf, *p;
	char pid[24];
	int first = t->jfd < 0, err;

	if (t->broken)
		return ctx_fail(t->ctx, -EIO, EIO, t->jpath, "the journal '%s' "
				"could not be written before", t->jpath);
	snprintf(pid, sizeof(pid), "%ld", t->pid);
	if (first)
		len += 1 + strlen(t->home) + 1 + strlen(pid) + 1 +
		       sizeof(FORMAT);
	for (size_t i = t->synced; i < t->n && !commit; i++)
		len += rec_len(&t->e[i]);
	len += commit;
	if (len > UINT32_MAX)
		return ctx_fail(t->ctx, -EFBIG, EFBIG, t->jpath, "the journal "
				"batch for '%s' is too large", t->home);
	if (!(buf = xmalloc(HDR + len)))
		return nomem(t);
	p = buf + off;
	if (first) {
		*p++ = 'H';
		p = put_str(p, t->home);
		p = put_str(p, pid);
		p = put_str(p, FORMAT);
	}
	for (size_t i = t->synced; i < t->n && !commit; i++) {
		*p++ = (unsigned char)t->e[i].type;
		p = put_str(p, t->e[i].path);
		if (t->e[i].backup)
			p = put_str(p, t->e[i].backup);
	}
	if (commit)
		*p++ = 'C';
	memcpy(buf, MAGIC, 4);
	put_le(buf + 4, len, 4);
	put_le(buf + 8, fnv1a(buf + HDR, len), 8);
	err = first ? create_journal(t) : 0;
	if (!err) {
		err = fd_write_all(t->jfd, buf, HDR + len);
		if (!err)
			err = jsync(t->jfd);
		if (err) {
			t->broken = 1;
			err = ctx_fail(t->ctx, err, -err, t->jpath, "cannot "
				       "write the journal '%s': %s", t->jpath,
				       strerror(-err));
		}
	}
	free(buf);
	if (!err && !commit)
		t->synced = t->n;
	return err;
}

int txn_sync(struct txn *t)
{
	/* Nothing recorded, nothing to protect: no journal at all. */
	return t->synced == t->n ? 0 : write_batch(t, 0);
}

int txn_backup_at(struct txn *t, int idx, int *dfd, const char **name)
{
	struct ent *e = &t->e[idx];
	struct bdir *b = &t->bd[e->bdir];
	int err = 0;

	*name = strrchr(e->backup, '/') + 1;
	if (b->fd >= 0) {
		*dfd = b->fd;
		return 0;
	}
	err = io_fault_hit(IO_OP_MKDIR);
	if (!err && mkdir(b->path, 0700) < 0) {
		err = -errno;
		/* An empty one is harmless (nothing can name its contents);
		 * anything in it is not ours to reuse or delete. */
		if (err == -EEXIST && rmdir(b->path) == 0)
			err = mkdir(b->path, 0700) < 0 ? -errno : 0;
	}
	if (err)
		return ctx_fail(t->ctx, err, -err, b->path, "cannot create the "
				"backup directory '%s': %s%s", b->path,
				strerror(-err), err == -EEXIST ? " (a leftover "
				"not made by this spoke run; move it away)" : "");
	err = io_fault_hit(IO_OP_OPEN);
	if (!err) {
		b->fd = open(b->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		if (b->fd < 0)
			err = -errno;
	}
	if (err)
		return ctx_fail(t->ctx, err, -err, b->path, "cannot open '%s': "
				"%s", b->path, strerror(-err));
	*dfd = b->fd;
	return 0;
}

/* ---- undo and finish: plain syscalls, no allocation ------------------- */

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

/* The fd of the directory rel (rl bytes) below root, opened without
 * following symlinks; the last one stays cached (undo goes path by path,
 * and neighbours share directories). */
static int dir_fd(struct txn *t, const char *root, const char *rel, size_t rl)
{
	int fd;

	if (rl >= sizeof(t->cdir))
		return -ENAMETOOLONG;
	if (t->cfd >= 0 && t->croot == root && !strncmp(t->cdir, rel, rl) &&
	    t->cdir[rl] == '\0')
		return t->cfd;
	if (t->cfd >= 0)
		close(t->cfd);
	t->cfd = -1;
	memcpy(t->cdir, rel, rl);
	t->cdir[rl] = '\0';
	fd = path_open_below(root, t->cdir);
	if (fd >= 0) {
		t->croot = root;
		t->cfd = fd;
	}
	return fd;
}

/* The scheme root that holds path's parent: path's own root, or for a
 * scheme directory itself (a --target's bin/ made by this run) the one
 * around it. NULL when the parent lies outside the environment. */
static const char *outer_root(const struct scheme *s, const char *path)
{
	char parent[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s", path);
	path_dirname(parent);
	return strcmp(parent, path) ? scheme_root_of(s, parent) : NULL;
}

/* The fd of path's parent directory (see dir_fd) and path's last name. */
static int parent_fd(struct txn *t, const char *path, const char **name)
{
	const char *root = outer_root(t->s, path), *rel, *slash;

	if (!root)
		return -EINVAL;
	rel = path + strlen(root);
	rel += *rel == '/';
	slash = strrchr(rel, '/');
	*name = slash ? slash + 1 : rel;
	return dir_fd(t, root, rel, slash ? (size_t)(slash - rel) : 0);
}

static void forget_parent(struct txn *t)
{
	if (t->cfd >= 0)
		close(t->cfd);
	t->cfd = -1;
}

static void undo_warn(struct txn *t, const char *what, const char *path,
		      int err)
{
	ctx_log(t->ctx, SPOKE_LOG_WARN, "rollback: cannot %s '%s': %s", what,
		path, strerror(err));
}

/* Remove the directory name below pfd and everything in it. */
static int rm_tree(struct txn *t, int pfd, const char *name, int level)
{
	int fd, bad = 0;
	struct dirent *d;
	DIR *dir;

	if (level > RM_DEPTH_MAX)
		return 1;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return 1;
	}
	while ((d = readdir(dir))) {
		struct stat st;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			bad |= errno != ENOENT;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			bad |= rm_tree(t, fd, d->d_name, level + 1);
		} else if (unlinkat(fd, d->d_name, 0) == 0) {
			t->removed++;
		} else {
			bad |= errno != ENOENT;
		}
	}
	closedir(dir);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0)
		return 1;
	t->removed++;
	return bad;
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
	if (e->type == 'F' && !S_ISDIR(st.st_mode)) {
		if (unlinkat(pfd, name, 0) < 0) {
			undo_warn(t, "remove", e->path, errno);
			return 1;
		}
		t->removed++;
	} else if (e->type == 'D' && S_ISDIR(st.st_mode)) {
		if (rm_tree(t, pfd, name, 0)) {
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

	if (b->fd < 0) {
		b->fd = open(b->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		if (b->fd < 0 && errno == ENOENT)
			return 0; /* never made: nothing was moved into it */
		if (b->fd < 0) {
			undo_warn(t, "open", b->path, errno);
			return 1;
		}
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
		const char *root = scheme_root_of(t->s, dirs[i]), *rel;
		struct dirent *d;
		DIR *dir;
		int fd;

		if (!root || (i && !strcmp(dirs[i], dirs[i - 1])))
			continue;
		rel = dirs[i] + strlen(root);
		rel += *rel == '/';
		fd = dir_fd(t, root, rel, strlen(rel));
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
			    unlinkat(fd, d->d_name, 0) == 0)
				t->removed++;
		closedir(dir);
	}
	for (size_t i = 0; i < nd; i++)
		free(dirs[i]);
	free(dirs);
	return bad;
}

static int drop_journal(struct txn *t)
{
	int dfd;

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
	int bad = 0;

	for (size_t i = 0; i < t->nbd; i++) {
		if (t->bd[i].fd >= 0)
			close(t->bd[i].fd);
		t->bd[i].fd = -1;
		if (rmdir(t->bd[i].path) < 0 && errno != ENOENT) {
			undo_warn(t, "remove", t->bd[i].path, errno);
			bad = 1;
		}
	}
	return bad;
}

/* Undo every entry; 0 when all is back (journal removed), else 1. */
static int undo(struct txn *t, int temps)
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
	forget_parent(t);
	if (!bad)
		bad = rm_bdirs(t);
	if (!bad)
		bad = drop_journal(t);
	return bad;
}

/* Committed: delete what is left of the backups. 0, or 1 (journal kept). */
static int finish(struct txn *t)
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
		if (b->fd < 0)
			b->fd = open(b->path, O_RDONLY | O_DIRECTORY |
				     O_NOFOLLOW | O_CLOEXEC);
		if (b->fd < 0) {
			bad |= errno != ENOENT;
			continue;
		}
		if (unlinkat(b->fd, bname, 0) == 0 || errno == ENOENT)
			continue;
		/* a directory moved aside: emptied by the run, or whole */
		if ((errno == EISDIR || errno == EPERM) &&
		    !rm_tree(t, b->fd, bname, 0))
			continue;
		undo_warn(t, "delete the backup", e->backup, errno);
		bad = 1;
	}
	if (!bad)
		bad = rm_bdirs(t);
	if (!bad)
		bad = drop_journal(t);
	return bad;
}

int txn_rollback(struct txn *t)
{
	int bad;

	if (!t)
		return 0;
	bad = undo(t, 0);
	if (bad)
		ctx_log(t->ctx, SPOKE_LOG_WARN, "the environment '%s' could not "
			"be fully restored; its journal '%s' is kept: run "
			"'spoke recover' once the cause is fixed", t->home,
			t->jpath);
	txn_free(t);
	return bad ? -EIO : 0;
}

int txn_commit(struct txn *t)
{
	off_t end;
	int err = txn_sync(t);

	if (err) {
		txn_rollback(t);
		return err;
	}
	if (t->jfd < 0) { /* nothing was ever recorded */
		txn_free(t);
		return 0;
	}
	end = lseek(t->jfd, 0, SEEK_END);
	err = write_batch(t, 1);
	if (err) {
		/* A mark that reached the page cache but failed to sync must
		 * not survive: a crash during the rollback would then be
		 * "finished" as committed. */
		if (end >= 0 && ftruncate(t->jfd, end) < 0)
			ctx_log(t->ctx, SPOKE_LOG_WARN, "cannot truncate the "
				"journal '%s': %s", t->jpath, strerror(errno));
		txn_rollback(t);
		return err;
	}
	t->committed = 1;
	if (finish(t))
		ctx_log(t->ctx, SPOKE_LOG_WARN, "the change to '%s' is complete "
			"but its backups could not all be deleted; the next "
			"spoke run there (or 'spoke recover') will", t->home);
	txn_free(t);
	return 0;
}

/* ---- recovery ---------------------------------------------------------- */

static int corrupt(struct txn *t, const char *why)
{
	return ctx_fail(t->ctx, SPOKE_E_CORRUPT, 0, t->jpath, "the journal "
			"'%s' %s; it was left untouched", t->jpath, why);
}

static const char *next_str(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *s = *p, *nul = memchr(s, '\0', (size_t)(end - s));

	if (!nul)
		return NULL;
	*p = nul + 1;
	return (const char *)s;
}

/* Is dir (a backup directory named in the journal) one this scheme would
 * use: <home or a root>/.spoke-txn? */
static int valid_bdir(struct txn *t, const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char parent[PATH_MAX];
	const char *root;

	if (!slash || strcmp(slash + 1, TXN_BACKUP_DIR) ||
	    (size_t)(slash - dir) >= sizeof(parent))
		return 0;
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	root = scheme_root_of(t->s, parent);
	return !strcmp(parent, t->home) || (root && !strcmp(root, parent));
}

static int valid_path(struct txn *t, const char *p)
{
	char *norm;
	int ok;

	if (*p != '/' || !outer_root(t->s, p))
		return 0;
	if (!(norm = xstrdup(p)))
		return 0;
	path_normalize(norm);
	ok = !strcmp(norm, p);
	free(norm);
	return ok;
}

static int parse_records(struct txn *t, const unsigned char *p,
			 const unsigned char *end, int first)
{
	while (p < end) {
		char type = (char)*p++;
		const char *a = NULL, *b = NULL;
		long bi = -1;

		if (type != 'C' && !(a = next_str(&p, end)))
			return corrupt(t, "has a truncated record");
		if (first) {
			const char *pid = next_str(&p, end);
			const char *ver = pid ? next_str(&p, end) : NULL;

			if (type != 'H' || !ver)
				return corrupt(t, "has no header");
			if (strcmp(ver, FORMAT))
				return corrupt(t, "has an unknown format "
					       "(written by another spoke "
					       "version?)");
			if (strcmp(a, t->home))
				return corrupt(t, "was written for another "
					       "directory (was the environment "
					       "moved?)");
			t->pid = strtol(pid, NULL, 10);
			first = 0;
			continue;
		}
		switch (type) {
		case 'C':
			t->committed = 1;
			continue;
		case 'X':
			if (!valid_bdir(t, a))
				return corrupt(t, "names a backup directory "
					       "outside the environment");
			break;
		case 'F':
		case 'D':
			if (!valid_path(t, a))
				return corrupt(t, "names a path outside the "
					       "environment");
			break;
		case 'M':
			b = next_str(&p, end);
			if (!b || !valid_path(t, a))
				return corrupt(t, "names a path outside the "
					       "environment");
			for (size_t i = 0; i < t->nbd && bi < 0; i++) {
				size_t n = strlen(t->bd[i].path);

				if (!strncmp(b, t->bd[i].path, n) &&
				    b[n] == '/' && b[n + 1] &&
				    !strchr(b + n + 1, '/'))
					bi = (long)i;
			}
			if (bi < 0)
				return corrupt(t, "names a backup outside its "
					       "backup directories");
			break;
		default:
			return corrupt(t, "has an unknown record");
		}
		if (add(t, type, a, b, (int)bi) < 0)
			return nomem(t);
		if (type == 'X') {
			struct bdir *bd = xrealloc(t->bd, (t->nbd + 1) *
						   sizeof(*bd));

			if (!bd)
				return nomem(t);
			t->bd = bd;
			bd[t->nbd].fd = -1;
			bd[t->nbd].dev = 0;
			if (!(bd[t->nbd].path = xstrdup(a)))
				return nomem(t);
			t->nbd++;
		}
	}
	return 0;
}

/* Every complete batch of the journal in buf; a torn tail ends it. 1 when
 * there was at least one batch, 0 when none (nothing was changed). */
static int parse(struct txn *t, const unsigned char *buf, size_t len)
{
	size_t off = 0;
	int batches = 0, err;

	while (len - off >= HDR && !memcmp(buf + off, MAGIC, 4)) {
		uint64_t n = get_le(buf + off + 4, 4);

		if (n > len - off - HDR ||
		    get_le(buf + off + 8, 8) != fnv1a(buf + off + HDR, n))
			break;
		err = parse_records(t, buf + off + HDR, buf + off + HDR + n,
				    batches == 0);
		if (err)
			return err;
		batches++;
		off += HDR + n;
	}
	return batches > 0;
}

static int read_all(int fd, unsigned char **out, size_t *len)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!(*out = xmalloc((size_t)st.st_size + 1)))
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *out + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(*out);
			return err;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

int txn_recover(spoke_ctx *ctx, const struct scheme *s, uint64_t *restored,
		uint64_t *removed)
{
	struct txn *t = txn_new(ctx, s);
	unsigned char *buf = NULL;
	size_t len = 0;
	int fd, ret;

	*restored = *removed = 0;
	if (!t)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	fd = open(t->jpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ENOENT ? 0 : ctx_fail(ctx, -errno, errno,
			t->jpath, "cannot open the journal '%s': %s", t->jpath,
			strerror(errno));
		txn_free(t);
		return ret;
	}
	ret = read_all(fd, &buf, &len);
	close(fd);
	if (ret) {
		ret = ctx_fail(ctx, ret, -ret, t->jpath, "cannot read the "
			       "journal '%s': %s", t->jpath, strerror(-ret));
		txn_free(t);
		return ret;
	}
	t->own = 1; /* replaying it: it goes when the replay is complete */
	ret = parse(t, buf, len);
	free(buf);
	if (ret < 0) {
		txn_free(t);
		return ret;
	}
	if (ret == 0) {
		/* Killed before its first batch was complete: nothing of
		 * the change had begun. */
		ret = drop_journal(t) ? -EIO : 1;
	} else if (t->committed) {
		ret = finish(t) ? -EIO : 2;
	} else {
		ret = undo(t, 1) ? -EIO : 1;
	}
	*restored = t->restored;
	*removed = t->removed;
	if (ret == -EIO)
		ret = ctx_fail(ctx, -EIO, EIO, t->jpath, "could not finish the "
			       "interrupted change recorded in '%s' (see the "
			       "warnings above); the journal is kept",
			       t->jpath);
	txn_free(t);
	return ret;
}
