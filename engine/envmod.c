/* SPDX-License-Identifier: MIT */
/*
 * envmod - see envmod.h; the journal itself is engine/txn.c. Every path the
 * modification touches is in one map (known) with flags: announced as a
 * file or directory, queued to be moved aside, classified, new (this run
 * creates it: a journal F or D entry, or anything below such a D) or an
 * existing directory that stays. Classification happens once, at the first
 * change, with one lstat per path whose parent exists (a fresh install of
 * a big package costs one lstat for its top directory, not one per file),
 * and yields the first journal batch: F/D entries for the frontier of what
 * the run creates and M entries for what it moves aside.
 *
 * Moves walk below their scheme root with O_NOFOLLOW directory fds, so a
 * RECORD path can never reach outside the environment through a symlinked
 * directory; the fd of the last directory is kept, since removals come in
 * RECORD order, which groups them by directory.
 *
 * Longer than most files (about 900 lines) because classification, the
 * queue and the collapse into whole-directory moves share one map of
 * known paths and its flags; split, each half would need the other's
 * internals.
 */
#include "engine/envmod.h"
#include "engine/lock.h"
#include "engine/plan.h"
#include "engine/txn.h"
#include "engine/walk.h"
#include "base/alloc.h"
#include "base/dirfd.h"
#include "io/linkops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Flags of a known path (strmap_ent.kind). */
enum {
	K_FILE = 1,   /* announced: the run puts a file here */
	K_DIR = 2,    /* announced: the run puts a directory here */
	K_QUEUED = 4, /* a move aside is queued */
	K_DONE = 8,   /* classified */
	K_NEW = 16,   /* created by this run (journaled, or below a D) */
};
_Static_assert((int)K_FILE == (int)DEST_FILE && (int)K_DIR == (int)DEST_DIR,
	       "envmod_expect_map takes the layout's kinds as they are");

struct envop {
	char *path;
	const char *root; /* scheme root (owned by the scheme) */
	int rmdir;        /* an empty directory the removals leave */
	int removal;      /* counts as removed (else: replaced) */
	int idx;          /* the journal entry, -1 until recorded */
	int covered;      /* inside a directory moved aside whole: no-op */
	long tree;        /* a directory moved aside whole: files it holds + 1 */
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
	struct txn *txn;
	struct strmap *known;     /* own_known, or the caller's map
				   * (envmod_expect_map) */
	struct strmap own_known;
	int classified;
	struct envop *ops;
	size_t nops, recorded, done;
	struct saved_mode *modes; /* existing link destinations */
	size_t nmodes;
	struct dirfd_cache dc; /* the last directory moves used */
	char **dsts; /* destinations of the queued link trees */
	size_t ndsts;
};

static int nomem(struct envmod *m)
{
	return ctx_fail(m->ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

/* ---- lock and recovery ------------------------------------------------- */

int envmod_recover_locked(spoke_ctx *ctx, const struct scheme *s,
			  struct spoke_report *rep, int quiet)
{
	uint64_t restored, removed;
	const char *home = txn_home(s);
	int ret = txn_recover(ctx, s, &restored, &removed);

	if (ret > 0)
		ctx_log(ctx, quiet ? SPOKE_LOG_INFO : SPOKE_LOG_WARN, "%s an "
			"interrupted spoke run in '%s' (%llu paths put back, "
			"%llu removed)", ret == 2 ? "finished" : "rolled back",
			home, (unsigned long long)restored,
			(unsigned long long)removed);
	if (rep) {
		rep->count[SPOKE_COUNT_REPLACED] += restored;
		rep->count[SPOKE_COUNT_REMOVED] += removed;
	}
	return ret;
}

int envmod_lock_home(spoke_ctx *ctx, const struct scheme *s, int no_wait,
		     struct env_lock **out)
{
	const char *home = txn_home(s);

	*out = NULL;
	if (!home)
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "no environment "
				"directory to lock");
	return env_lock_acquire(ctx, home, no_wait, out);
}

int envmod_lock(spoke_ctx *ctx, const struct scheme *s, int no_wait,
		struct env_lock **out)
{
	int err = envmod_lock_home(ctx, s, no_wait, out);

	if (!err && (err = envmod_recover_locked(ctx, s, NULL, 0)) > 0)
		err = 0;
	if (err) {
		env_lock_release(*out);
		*out = NULL;
	}
	return err;
}

void envmod_unlock(struct env_lock *l)
{
	env_lock_release(l);
}

void envmod_check_journal(spoke_ctx *ctx, const struct scheme *s)
{
	const char *home = txn_home(s);

	if (home && txn_pending(home))
		ctx_log(ctx, SPOKE_LOG_WARN, "'%s' holds the journal of an "
			"interrupted spoke run; the next install or 'spoke "
			"recover' rolls it back (this dry run sees the "
			"environment as it is now)", home);
}

/* ---- the modification -------------------------------------------------- */

/* The journal can only name paths whose parent lies inside the
 * environment (recovery refuses anything else). A scheme directory given
 * explicitly may sit below directories that do not exist yet and belong to
 * no root: those are made here, before the transaction, and stay. */
static int make_outer_parents(spoke_ctx *ctx, const struct scheme *s)
{
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++) {
		char p[PATH_MAX];
		struct stat st;

		if (!s->path[k])
			continue;
		snprintf(p, sizeof(p), "%s", s->path[k]);
		path_dirname(p);
		if (scheme_root_of(s, p) || stat(p, &st) == 0)
			continue;
		for (char *c = p + 1;; c++) {
			char save = *c;

			if (save != '/' && save != '\0')
				continue;
			*c = '\0';
			if (mkdir(p, 0777) < 0 && errno != EEXIST)
				return ctx_fail(ctx, -errno, errno, p, "cannot "
						"create directory '%s': %s", p,
						strerror(errno));
			*c = save;
			if (!save)
				break;
		}
	}
	return 0;
}

void envmod_allow_replace(struct envmod *m)
{
	linker_allow_replace(m->linker);
}

void envmod_carry_times(struct envmod *m)
{
	linker_carry_times(m->linker);
}

static void disown(void *txn, const char *path)
{
	txn_disown(txn, path);
}

static void made(void *txn, const struct objid *ids, size_t n)
{
	txn_made(txn, ids, n);
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
	m->known = &m->own_known;
	dirfd_init(&m->dc);
	err = make_outer_parents(ctx, s);
	if (!err)
		err = txn_create(&m->txn, ctx, s);
	if (err) {
		free(m);
		return err;
	}
	err = linker_create(&m->linker, ctx, rep);
	if (!err) {
		linker_set_disown(m->linker, disown, m->txn);
		linker_set_made(m->linker, made, m->txn);
	}
	if (err) {
		txn_rollback(m->txn);
		free(m);
		return ctx_fail(ctx, err, err, NULL, "cannot set up the linker: "
				"%s", spoke_strerror(err));
	}
	*out = m;
	return 0;
}

/* The entry for path, added unannounced if new; NULL on ENOMEM. May
 * rehash known: entry pointers held across it are stale. */
static struct strmap_ent *know(struct envmod *m, const char *path)
{
	struct strmap_ent *e;
	int r = strmap_put(m->known, path, &e);

	if (r < 0)
		return NULL;
	if (r == 1) {
		e->kind = 0;
		e->owner = -1; /* no wheel's (a map shared by expect_map) */
	}
	return e;
}

static int queue(struct envmod *m, struct strmap_ent *e, const char *root,
		 int rmdir, int removal)
{
	struct envop *v = xrealloc(m->ops, (m->nops + 1) * sizeof(*v));

	if (!v)
		return nomem(m);
	m->ops = v;
	v += m->nops;
	if (!root)
		root = scheme_root_of(m->s, e->key);
	if (!root || !strcmp(root, e->key))
		return ctx_fail(m->ctx, SPOKE_E_UNSAFE_PATH, 0, e->key, "'%s' "
				"is not inside the environment", e->key);
	if (!(v->path = xstrdup(e->key)))
		return nomem(m);
	v->root = root;
	v->rmdir = rmdir;
	v->removal = removal;
	v->idx = -1;
	v->covered = 0;
	v->tree = 0;
	m->nops++;
	e->kind |= K_QUEUED;
	return 0;
}

/* Decide what the announced path e is to the journal (see the top). The
 * parent is classified first; the recursion is as deep as the path. */
static int classify(struct envmod *m, struct strmap_ent *e)
{
	char parent[PATH_MAX];
	struct strmap_ent *pe;
	struct stat st;
	int dir = !!(e->kind & K_DIR), err;

	e->kind |= K_DONE;
	snprintf(parent, sizeof(parent), "%s", e->key);
	path_dirname(parent);
	pe = strmap_get(m->known, parent);
	if (pe && (pe->kind & (K_FILE | K_DIR)) && !(pe->kind & K_DONE) &&
	    (err = classify(m, pe)))
		return err;
	if (pe && (pe->kind & K_NEW)) {
		e->kind |= K_NEW; /* below a directory this run makes */
		return 0;
	}
	if (lstat(e->key, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return ctx_fail(m->ctx, -errno, errno, e->key, "cannot "
					"check '%s': %s", e->key,
					strerror(errno));
		e->kind |= K_NEW;
		return txn_created(m->txn, e->key, dir);
	}
	if (dir) {
		struct stat target;

		/* An existing directory (or a link to one, lib64 -> lib)
		 * stays as it is. */
		if (S_ISDIR(st.st_mode) || (S_ISLNK(st.st_mode) &&
		    stat(e->key, &target) == 0 && S_ISDIR(target.st_mode)))
			return 0;
		/* A file the upgrade removes, where a directory comes. */
		e->kind |= K_NEW;
		err = txn_created(m->txn, e->key, 1);
		if (!err && !(e->kind & K_QUEUED))
			err = queue(m, e, NULL, 0, 1);
		return err;
	}
	if (S_ISDIR(st.st_mode)) {
		/* A directory the removals prune, where a file comes; if it
		 * is not empty then, the linker fails and all is undone. */
		e->kind |= K_NEW;
		return txn_created(m->txn, e->key, 0);
	}
	return e->kind & K_QUEUED ? 0 : queue(m, e, NULL, 0, 0);
}

static int classify_all(struct envmod *m)
{
	int err = 0;

	m->classified = 1;
	/* classify() only reads the map and sets flags, so iterating its
	 * slots while it runs is safe. */
	for (size_t i = 0; i < m->known->cap && !err; i++) {
		struct strmap_ent *e = &m->known->slots[i];

		if (e->key && (e->kind & (K_FILE | K_DIR)) &&
		    !(e->kind & K_DONE))
			err = classify(m, e);
	}
	return err;
}

int envmod_expect(struct envmod *m, const char *path, int is_dir)
{
	struct strmap_ent *e;

	/* Validation refuses such wheels with a better message; this is the
	 * last line before the journal, the lock or a backup is replaced. */
	if (scheme_reserved(m->s, path))
		return ctx_fail(m->ctx, SPOKE_E_UNSAFE_PATH, 0, path, "refusing "
				"to write '%s': names beginning with '.spoke' "
				"are reserved for spoke's own files", path);
	e = know(m, path);

	if (!e)
		return nomem(m);
	if (e->kind & (K_FILE | K_DIR))
		return 0;
	e->kind |= is_dir ? K_DIR : K_FILE;
	return m->classified ? classify(m, e) : 0;
}

int envmod_expect_map(struct envmod *m, struct strmap *map)
{
	if (m->classified || m->own_known.n)
		return ctx_fail(m->ctx, SPOKE_E_USAGE, 0, NULL, "internal: "
				"envmod_expect_map after other paths");
	for (size_t i = 0; i < map->cap; i++) {
		struct strmap_ent *e = &map->slots[i];

		if (!e->key)
			continue;
		/* As envmod_expect: the last line before the journal. */
		if (scheme_reserved(m->s, e->key))
			return ctx_fail(m->ctx, SPOKE_E_UNSAFE_PATH, 0, e->key,
					"refusing to write '%s': names "
					"beginning with '.spoke' are reserved "
					"for spoke's own files", e->key);
		e->kind &= K_FILE | K_DIR;
	}
	m->known = map;
	return 0;
}

/* A path about to be created that may not have been announced (a
 * caller's extra file, a linker root's missing parents): announce it and
 * every ancestor below the deepest one that is announced or exists. */
static int expect_created(struct envmod *m, const char *path, int is_dir)
{
	const struct strmap_ent *e;
	char p[PATH_MAX];
	struct stat st;
	size_t base;
	int err;

	snprintf(p, sizeof(p), "%s", path);
	do {
		path_dirname(p);
		e = strmap_get(m->known, p);
	} while (strcmp(p, "/") != 0 && !(e && (e->kind & (K_FILE | K_DIR))) &&
		 !(stat(p, &st) == 0 && S_ISDIR(st.st_mode)));
	/* Top down, so every parent is known before its child. */
	base = strlen(p);
	for (size_t i = base + 1; path[i]; i++) {
		if (path[i] != '/')
			continue;
		memcpy(p, path, i);
		p[i] = '\0';
		if ((err = envmod_expect(m, p, 1)))
			return err;
	}
	return envmod_expect(m, path, is_dir);
}

/* ---- executing the queue ----------------------------------------------- */

/* 1 if the directory name below pfd is empty, 0 if not, or -errno. */
static int dir_empty(int pfd, const char *name)
{
	int fd = io_open_dir_at(pfd, name), empty = 1;
	struct dirent *d;
	DIR *dir;

	if (fd < 0)
		return fd;
	if (!(dir = fdopendir(fd))) {
		int err = -errno;

		close(fd);
		return err;
	}
	while (empty && (d = readdir(dir)))
		empty = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
	closedir(dir);
	return empty;
}

static int run_op(struct envmod *m, const struct envop *op)
{
	const char *rel = op->path + strlen(op->root), *name, *slash, *bname;
	char dir[PATH_MAX];
	struct stat st;
	int fd, bfd, err;

	rel += *rel == '/';
	slash = strrchr(rel, '/');
	name = slash ? slash + 1 : rel;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - rel) : 0, rel);
	if (op->rmdir)
		dirfd_forget(&m->dc); /* the cache may be this directory or below */
	fd = dirfd_get(&m->dc, op->root, dir, strlen(dir));
	if (fd == -ENOMEM)
		return nomem(m);
	if (fd == -ENOENT)
		return 0;
	if (fd == -ENOTDIR || fd == -ELOOP) {
		/* A component is a file or a symlink: what RECORD names is
		 * not there (and must not be reached through a link). */
		ctx_log(m->ctx, SPOKE_LOG_DEBUG, "not moving '%s': a parent "
			"directory is not a directory", op->path);
		return 0;
	}
	if (fd < 0)
		return ctx_fail(m->ctx, fd, -fd, op->path, "cannot open the "
				"directory of '%s': %s", op->path,
				strerror(-fd));
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return ctx_fail(m->ctx, -errno, errno, op->path, "cannot check "
				"'%s': %s", op->path, strerror(errno));
	}
	if (op->rmdir) {
		if (!S_ISDIR(st.st_mode))
			return 0;
		err = op->tree ? 1 : dir_empty(fd, name);
		if (err < 0)
			return ctx_fail(m->ctx, err, -err, op->path, "cannot "
					"read directory '%s': %s", op->path,
					strerror(-err));
		if (!err)
			return 0;
	} else if (S_ISDIR(st.st_mode)) {
		ctx_log(m->ctx, SPOKE_LOG_WARN, "not removing '%s': RECORD "
			"lists it as a file but it is a directory", op->path);
		return 0;
	}
	err = txn_backup_at(m->txn, op->idx, &bfd, &bname);
	if (err)
		return err;
	err = io_rename_at(fd, name, bfd, bname);
	if (err == -EBUSY && op->rmdir)
		return 0; /* a mount point: it stays, as rmdir would leave it */
	if (err)
		return ctx_fail(m->ctx, err, -err, op->path, "cannot move '%s' "
				"aside: %s", op->path, strerror(-err));
	if (op->tree)
		m->rep->count[SPOKE_COUNT_REMOVED] += (uint64_t)op->tree - 1;
	else if (op->removal && !op->rmdir)
		m->rep->count[SPOKE_COUNT_REMOVED]++;
	else if (!op->rmdir)
		m->rep->count[SPOKE_COUNT_REPLACED]++;
	return 0;
}

/* ---- whole directories ------------------------------------------------- */

/* Is the directory of rmdir op `op` left empty by the queued removals:
 * every file in it queued (and not something this run puts there), every
 * subdirectory whole? 1 yes, 0 no, or an error. */
static int dir_whole(struct envmod *m, const struct envop *op,
		     const struct strmap *whole)
{
	const char *rel = op->path + strlen(op->root);
	struct dirent *d;
	int fd, yes = 1;
	DIR *dir;

	rel += *rel == '/';
	fd = path_open_below(op->root, rel);
	if (fd < 0)
		return fd == -ENOMEM ? nomem(m) : 0;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return 0;
	}
	while (yes && (d = readdir(dir))) {
		const struct strmap_ent *e;
		char child[PATH_MAX];
		struct stat st;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", op->path,
				     d->d_name) >= sizeof(child) ||
		    fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			yes = 0;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			yes = strmap_get(whole, child) != NULL;
			continue;
		}
		e = strmap_get(m->known, child);
		yes = e && (e->kind & K_QUEUED) && !(e->kind & (K_FILE | K_DIR));
	}
	closedir(dir);
	return yes;
}

static int cmp_deeper(const void *a, const void *b)
{
	const struct envop *x = *(const struct envop *const *)a;
	const struct envop *y = *(const struct envop *const *)b;
	int dx = 0, dy = 0;

	for (const char *c = x->path; *c; c++)
		dx += *c == '/';
	for (const char *c = y->path; *c; c++)
		dy += *c == '/';
	return dy - dx;
}

/* An uninstall moves thousands of files aside one rename each, where one
 * rename of their directory would do: find the directories the queued ops
 * leave empty (deepest first, so a parent sees its children decided) and
 * move each topmost one aside whole instead. A best effort: anything in
 * the way (a file nobody removes, an error reading) keeps the per-file
 * moves, which are always correct. */
static int collapse(struct envmod *m)
{
	struct strmap whole = { 0 };
	struct envop **dirs;
	size_t nd = 0;
	int err = 0;

	for (size_t i = m->recorded; i < m->nops; i++)
		nd += m->ops[i].rmdir;
	if (!nd)
		return 0;
	if (!(dirs = xmalloc(nd * sizeof(*dirs))))
		return nomem(m);
	nd = 0;
	for (size_t i = m->recorded; i < m->nops; i++)
		if (m->ops[i].rmdir)
			dirs[nd++] = &m->ops[i];
	qsort(dirs, nd, sizeof(*dirs), cmp_deeper);
	for (size_t i = 0; i < nd && !err; i++) {
		struct strmap_ent *e;
		int r = dir_whole(m, dirs[i], &whole);

		if (r < 0)
			err = r;
		else if (r && strmap_put(&whole, dirs[i]->path, &e) < 0)
			err = nomem(m);
		else if (r)
			e->owner = (int)(dirs[i] - m->ops);
	}
	/* Each op below a whole directory is covered by the topmost one. */
	for (size_t i = m->recorded; i < m->nops && !err && whole.n; i++) {
		struct envop *op = &m->ops[i];
		char p[PATH_MAX];
		long top = -1;

		snprintf(p, sizeof(p), "%s", op->path);
		if (!op->rmdir || !strmap_get(&whole, p))
			path_dirname(p);
		while (path_under(op->root, p) && strcmp(p, op->root)) {
			const struct strmap_ent *e = strmap_get(&whole, p);

			if (e)
				top = e->owner;
			path_dirname(p);
		}
		if (top < 0)
			continue;
		if (&m->ops[top] == op) {
			op->tree += 1;
			continue;
		}
		op->covered = 1;
		m->ops[top].tree += !op->rmdir && op->removal;
	}
	free(dirs);
	strmap_free(&whole);
	return err;
}

/* Make what is recorded durable, then carry out the queue. Every change
 * calls this first. */
static int flush(struct envmod *m)
{
	int err = m->classified ? 0 : classify_all(m);

	if (!err)
		err = collapse(m);
	for (; !err && m->recorded < m->nops; m->recorded++) {
		struct envop *op = &m->ops[m->recorded];

		if (op->covered)
			continue;
		op->idx = txn_move(m->txn, op->path, op->root);
		if (op->idx < 0)
			err = op->idx;
	}
	if (!err)
		err = txn_sync(m->txn);
	for (; !err && m->done < m->nops; m->done++) {
		if (ctx_canceled(m->ctx))
			return ctx_fail(m->ctx, SPOKE_E_CANCELED, 0, NULL,
					"canceled");
		if (!m->ops[m->done].covered)
			err = run_op(m, &m->ops[m->done]);
	}
	return err;
}

/* ---- the changes ------------------------------------------------------- */

/* The linker gives directories it makes the source directory's mode;
 * existing destination roots (site-packages, bin) keep theirs, and get it
 * back after the run should anything have changed it. */
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
		    (st.st_mode & 07777) != m->modes[i].mode &&
		    chmod(m->modes[i].path, m->modes[i].mode) < 0)
			ctx_log(m->ctx, SPOKE_LOG_WARN, "cannot restore the mode "
				"of '%s': %s", m->modes[i].path,
				strerror(errno));
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

	if (err)
		return nomem(m);
	err = expect_created(m, dst, 1);
	if (!err && linker_add_tree(m->linker, src, dst, skip, label))
		err = nomem(m);
	if (!err) {
		char **v = xrealloc(m->dsts, (m->ndsts + 1) * sizeof(*v));

		if (!v)
			return nomem(m);
		m->dsts = v;
		if (!(v[m->ndsts] = xstrdup(dst)))
			return nomem(m);
		m->ndsts++;
	}
	return err;
}

static void free_dsts(struct envmod *m)
{
	for (size_t i = 0; i < m->ndsts; i++)
		free(m->dsts[i]);
	free(m->dsts);
	m->dsts = NULL;
	m->ndsts = 0;
}

void envmod_link_totals(struct envmod *m, uint64_t files, uint64_t bytes)
{
	linker_set_totals(m->linker, files, bytes);
}

/* mkdir -p of path (self) or of its parents (journaled by
 * expect_created), reporting each directory made to the journal; inside a
 * creating phase of its own unless the caller has one (phase 0). */
static int make_dirs(struct envmod *m, const char *path, int self, int phase)
{
	char p[PATH_MAX];
	struct stat st;
	int opened = 0;

	snprintf(p, sizeof(p), "%s", path);
	if (!self)
		path_dirname(p);
	/* Most often the directory is there already (a generated file in a
	 * dist-info directory the linker made): one stat instead of an
	 * access and a mkdir for every component from the root. */
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	for (char *s = p + 1;; s++) {
		struct objid id;
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (phase && !opened && access(p, F_OK) < 0) {
			txn_creating(m->txn);
			opened = 1;
		}
		if (mkdir(p, 0777) == 0) {
			if (objid_at(AT_FDCWD, p, &id) == 0)
				txn_made(m->txn, &id, 1);
		} else if (errno != EEXIST) {
			return ctx_fail(m->ctx, -errno, errno, p, "cannot create "
					"directory '%s': %s", p, strerror(errno));
		}
		*s = c;
		if (!c) {
			if (opened)
				txn_creating_done(m->txn);
			return 0;
		}
	}
}

/* The destinations are made here rather than by the linker, so that the
 * journal learns the identity of each directory made. */
int envmod_link_run(struct envmod *m)
{
	int err = flush(m);

	if (!err)
		txn_creating(m->txn);
	for (size_t i = 0; i < m->ndsts && !err; i++)
		err = make_dirs(m, m->dsts[i], 1, 0);
	free_dsts(m);
	if (!err)
		err = linker_run(m->linker);
	if (!err)
		txn_creating_done(m->txn);
	restore_modes(m);
	return err;
}

/* A generated file is recorded before it is renamed into place, so no
 * kill leaves it at its path unrecorded. */
static void written(void *txn, int fd)
{
	struct objid id;

	if (objid_at(fd, "", &id) == 0)
		txn_made(txn, &id, 1);
}

int envmod_write_file(struct envmod *m, const char *path, const void *data,
		      size_t len, mode_t mode)
{
	char dir[PATH_MAX];
	int dfd, err = expect_created(m, path, 0);

	if (!err)
		err = flush(m);
	if (err)
		return err;
	if ((err = make_dirs(m, path, 0, 1)))
		return err;
	snprintf(dir, sizeof(dir), "%s", path);
	path_dirname(dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ctx_fail(m->ctx, -errno, errno, dir, "cannot open "
				"directory '%s': %s", dir, strerror(errno));
	err = io_write_file_seen_at(dfd, path_basename(path), data, len, mode,
				    written, m->txn);
	close(dfd);
	if (err)
		return ctx_fail(m->ctx, err, -err, path, "cannot write '%s': %s",
				path, strerror(-err));
	m->rep->count[SPOKE_COUNT_WRITTEN]++;
	return 0;
}

static int queue_path(struct envmod *m, const char *root, const char *rel,
		      int rmdir)
{
	struct strmap_ent *e;
	char *path;

	if (!(path = path_join(root, rel)))
		return nomem(m);
	/* The journal, lock and backups are never a removal's to touch. */
	if (scheme_reserved(m->s, path)) {
		ctx_log(m->ctx, SPOKE_LOG_WARN, "not removing '%s': names "
			"beginning with '.spoke' are spoke's own", path);
		free(path);
		return 0;
	}
	e = know(m, path);
	free(path);
	if (!e)
		return nomem(m);
	/* Moved once is enough; an announced directory stays (the install
	 * puts files into it again) unless the caller knows better (2). */
	if ((e->kind & K_QUEUED) || (rmdir == 1 && (e->kind & K_DIR)))
		return 0;
	return queue(m, e, root, rmdir != 0, 1);
}

int envmod_remove(struct envmod *m, const char *root, const char *rel)
{
	return queue_path(m, root, rel, 0);
}

int envmod_rmdir(struct envmod *m, const char *root, const char *rel)
{
	return *rel ? queue_path(m, root, rel, 1) : 0; /* never a root */
}

int envmod_rmdir_unused(struct envmod *m, const char *root, const char *rel)
{
	return *rel ? queue_path(m, root, rel, 2) : 0;
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
	dirfd_forget(&m->dc);
	free_dsts(m);
	linker_free(m->linker);
	restore_modes(m);
	for (size_t i = 0; i < m->nops; i++)
		free(m->ops[i].path);
	free(m->ops);
	strmap_free(&m->own_known);
	free(m);
}

int envmod_commit(struct envmod *m)
{
	int err = flush(m);

	if (err) {
		envmod_abort(m);
		return err;
	}
	dirfd_forget(&m->dc);
	err = txn_commit(m->txn);
	m->txn = NULL;
	envmod_free(m);
	return err;
}

void envmod_abort(struct envmod *m)
{
	if (!m)
		return;
	dirfd_forget(&m->dc);
	txn_rollback(m->txn);
	envmod_free(m);
}
