/* SPDX-License-Identifier: MIT */
/*
 * walk - the traversal of the linker (see walk.h): directory tasks, chunk
 * tasks of large directories, and the files each adds to its worker's
 * batch; batch.c runs the batches. Memory: directory nodes, chunk blocks
 * and names live in per-worker arenas that are dropped at the end of the
 * run, so the hot path (one file) allocates nothing; getdents buffers and
 * op batches are per-worker and reused, which is safe because a worker runs
 * one task at a time and a task never yields with a batch half-filled.
 */
#include "engine/walk_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHUNK 256             /* files per chunk task of a large directory */
#define BIG_FILE (8u << 20)   /* files this large get a task of their own */

struct wchunk {
	struct pool_task task;
	struct wdir *dir;
	unsigned n;
	const char **names;
};

static void chunk_task(struct pool_worker *pw, struct pool_task *t);

/* "root/relpath/name" of the source or destination, for messages only. */
static const char *dir_path(const struct wdir *d, int dst, const char *name,
			    char *buf, size_t len)
{
	const char *base = dst ? d->root->dst : d->root->src;

	snprintf(buf, len, "%s%s%s%s%s", base, *d->relpath ? "/" : "",
		 d->relpath, name ? "/" : "", name ? name : "");
	return buf;
}

static void dst_path(const void *where, const char *dname, char *buf,
		     size_t len)
{
	dir_path(where, 1, dname, buf, len);
}

static int fail(struct wworker *w, const struct wdir *d, int dst,
		const char *name, int err, const char *what)
{
	char path[PATH_MAX];

	dir_path(d, dst, name, path, sizeof(path));
	atomic_store(&w->l->abort, 1);
	return ctx_fail(w->l->ctx, err, err, path, "%s '%s': %s", what, path,
			strerror(-err));
}

static int stopped(struct wworker *w)
{
	return batch_stopped(w->l->ctx, &w->l->abort);
}

static void count_add(struct wworker *w, int c, uint64_t n)
{
	batch_count(w->count, c, n);
}

void walk_report_made(struct wworker *w)
{
	if (w->nmade && w->l->made)
		w->l->made(w->l->made_arg, w->made, w->nmade);
	w->nmade = 0;
}

/* The identities of what a batch makes, for a transaction
 * (linker_set_made). A hardlink is its source's inode, known before it is
 * made: those are reported before the batch runs, so a kill never leaves
 * a hardlink the journal does not know (before: the sources of every op
 * that may become a hardlink). Clones, copies, symlinks and directories
 * are new inodes, taken after they are made (one statx each) and reported
 * with the worker's next report: before its next batch that may link, or
 * once BATCH_MAX are waiting. So a run costs one journal write per batch
 * in hardlink mode and one per BATCH_MAX objects otherwise. An object
 * that cannot be asked is not reported: recovery then leaves it, or
 * judges it by time while the phase is open (docs/RELIABILITY.md). */
static void note_made(struct wworker *w, const struct io_op *ops,
		      unsigned n, int after)
{
	const unsigned cap = sizeof(w->made) / sizeof(w->made[0]);
	int links = w->l->ctx->link_mode == SPOKE_LINK_AUTO ||
		    w->l->ctx->link_mode == SPOKE_LINK_HARDLINK;

	if (!w->l->made || (!after && !links))
		return;
	for (unsigned i = 0; i < n; i++) {
		int from_src = !ops[i].target && ops[i].sname;

		if (w->nmade == cap)
			walk_report_made(w);
		if (!after) {
			if (from_src)
				w->made[w->nmade++] = w->src[ops[i].user];
		} else if ((ops[i].kind != IOK_HARDLINK || !links ||
			    !from_src) &&
			   objid_at(ops[i].dfd, ops[i].dname,
				    &w->made[w->nmade]) == 0) {
			w->nmade++;
		}
	}
	if (!after || w->nmade >= BATCH_MAX)
		walk_report_made(w);
}

/* Run the worker's batch of d's files. */
static int flush(struct wworker *w, struct wdir *d)
{
	struct batch_env e = {
		.ctx = w->l->ctx,
		.rep = w->l->rep,
		.io = w->io,
		.abort = &w->l->abort,
		.count = w->count,
		.dst_path = dst_path,
		.where = d,
		.taken = w->l->replace_ok ? NULL : w->l->disown,
		.taken_arg = w->l->disown_arg,
		.times = w->l->carry_times,
	};
	unsigned n = w->nops;
	int ret;

	w->nops = 0;
	note_made(w, w->ops, n, 0);
	ret = batch_run(&e, d->pair, w->ops, n);
	if (!ret)
		note_made(w, w->ops, n, 1);
	arena_reset(&w->scratch);
	linker_progress(w, 0, d->root->label);
	return ret;
}

static int add_op(struct wworker *w, struct wdir *d, const char *name,
		  const struct stat *st, const char *target)
{
	struct io_op *op = &w->ops[w->nops];

	memset(op, 0, sizeof(*op));
	op->user = w->nops++;
	op->sfd = d->sfd;
	op->dfd = d->dfd;
	op->sname = target ? NULL : name;
	op->dname = name;
	op->target = target;
	op->mode = st->st_mode & 07777;
	op->size = (uint64_t)st->st_size;
	if (target) {
		op->kind = IOK_SYMLINK; /* recreated as it is, never switched */
		op->pinned = 1;
	}
	if (w->l->ctx->link_mode == SPOKE_LINK_SYMLINK && !target) {
		char path[PATH_MAX];

		dir_path(d, 0, name, path, sizeof(path));
		op->target = arena_strdup(&w->scratch, path);
		if (!op->target)
			return fail(w, d, 0, name, -ENOMEM, "cannot link");
	}
	return w->nops == BATCH_MAX ? flush(w, d) : 0;
}

static int add_symlink(struct wworker *w, struct wdir *d, const char *name,
		       const struct stat *st)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(d->sfd, name, buf, sizeof(buf) - 1);
	const char *target;

	if (n < 0)
		return fail(w, d, 0, name, -errno, "cannot read link");
	buf[n] = '\0';
	target = arena_strdup(&w->scratch, buf);
	if (!target)
		return fail(w, d, 0, name, -ENOMEM, "cannot read link");
	return add_op(w, d, name, st, target);
}

static int spawn_chunk(struct wworker *w, struct pool_worker *pw,
		       struct wdir *d, const char **names, unsigned n);

/* One regular file or symlink of d. pw is NULL inside a chunk task; else a
 * big file goes to a task of its own, so a thief can start it while this
 * worker goes on, and the largest file is not the tail of the run. */
static int add_entry(struct wworker *w, struct pool_worker *pw,
		     struct wdir *d, const char *name)
{
	struct statx sx;
	struct stat st;

	/* The source's mode and size are needed for every method but
	 * hardlink, and the size for the report; one statx also tells
	 * DT_UNKNOWN apart, and gives the identity a hardlink of it has. */
	if (statx(d->sfd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE |
		  STATX_SIZE | STATX_INO | STATX_BTIME, &sx) < 0)
		return fail(w, d, 0, name, -errno, "cannot stat");
	memset(&st, 0, sizeof(st));
	st.st_mode = sx.stx_mode;
	st.st_size = (off_t)sx.stx_size;
	if (w->nops < BATCH_MAX)
		objid_of(&sx, &w->src[w->nops]);
	if (S_ISREG(st.st_mode) && pw && (uint64_t)st.st_size >= BIG_FILE) {
		const char **one = arena_alloc(&w->arena, sizeof(*one));

		if (!one || !(*one = arena_strdup(&w->arena, name)))
			return fail(w, d, 0, name, -ENOMEM, "cannot walk");
		return spawn_chunk(w, pw, d, one, 1);
	}
	if (S_ISREG(st.st_mode))
		return add_op(w, d, name, &st, NULL);
	if (S_ISLNK(st.st_mode))
		return add_symlink(w, d, name, &st);
	return fail(w, d, 0, name, -EINVAL,
		    "not a regular file, directory or symlink:");
}

static int open_dir(struct wworker *w, struct wdir *d)
{
	struct wdir *p = d->parent;
	int pfd_s = p ? p->sfd : d->root->sfd, pfd_d = p ? p->dfd : d->root->dfd;
	const char *name = p ? d->name : d->relpath;
	struct stat ss, ds;
	struct statx dsx;
	int err, made;

	if (!*name)
		name = ".";
	d->sfd = io_open_dir_at(pfd_s, name);
	if (d->sfd < 0)
		return fail(w, d, 0, NULL, d->sfd, "cannot open directory");
	made = io_mkdir_new_at(pfd_d, name, 0755);
	err = made < 0 ? made : 0;
	if (err == 0)
		d->dfd = io_open_dir_at(pfd_d, name);
	if (err || d->dfd < 0) {
		err = err ? err : d->dfd;
		close(d->sfd);
		d->sfd = -1;
		return fail(w, d, 1, NULL, err, "cannot create directory");
	}
	atomic_fetch_add(&w->l->open_dirs, 1);
	/* statx for the destination: the same call gives the identity of a
	 * directory the run made (linker_set_made) */
	if (fstat(d->sfd, &ss) < 0 ||
	    statx(d->dfd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE |
		  STATX_INO | STATX_BTIME, &dsx) < 0) {
		err = -errno;
		return fail(w, d, 0, NULL, err, "cannot stat directory");
	}
	ds.st_mode = dsx.stx_mode;
	ds.st_dev = makedev(dsx.stx_dev_major, dsx.stx_dev_minor);
	/* A directory we made gets the source's permissions; one that was
	 * there (site-packages, a merged tree) keeps its own. */
	if (made > 0 && (ss.st_mode & 07777) != (ds.st_mode & 07777) &&
	    fchmod(d->dfd, ss.st_mode & 07777) < 0)
		return fail(w, d, 1, NULL, -errno, "cannot set mode of");
	if (made > 0 && w->l->made) {
		if (w->nmade >= BATCH_MAX)
			walk_report_made(w);
		objid_of(&dsx, &w->made[w->nmade++]);
	}
	d->pair = attempt_pair_get(&w->l->att, ss.st_dev, ds.st_dev);
	count_add(w, SPOKE_COUNT_DIRS, 1);
	return 0;
}

static void dir_close(struct linker *l, struct wdir *d)
{
	if (d->sfd >= 0) {
		close(d->sfd);
		close(d->dfd);
		d->sfd = d->dfd = -1;
		atomic_fetch_sub(&l->open_dirs, 1);
	}
}

static void dir_unref(struct linker *l, struct wdir *d)
{
	if (d && atomic_fetch_sub(&d->refs, 1) == 1)
		dir_close(l, d);
}

static int is_skipped(const struct wdir *d, const char *name)
{
	if (d->parent || *d->relpath || !d->root->skip)
		return 0;
	for (char **s = d->root->skip; *s; s++)
		if (strcmp(*s, name) == 0)
			return 1;
	return 0;
}

static struct wdir *new_child(struct wworker *w, struct wdir *d,
			      const char *name, int pressure)
{
	struct wdir *c = arena_alloc(&w->arena, sizeof(*c));
	size_t rl = strlen(d->relpath), nl = strlen(name);
	char *rel = arena_alloc(&w->arena, rl + nl + 2);

	if (!c || !rel)
		return NULL;
	memcpy(rel, d->relpath, rl);
	rel[rl] = rl ? '/' : '\0';
	memcpy(rel + rl + !!rl, name, nl + 1);
	memset(c, 0, sizeof(*c));
	c->task.fn = walk_dir_task;
	c->root = d->root;
	c->relpath = rel;
	c->name = rel + rl + !!rl;
	c->sfd = c->dfd = -1;
	atomic_init(&c->refs, 1);
	/* Under fd pressure the child opens from the root by path, so this
	 * directory can close its fds as soon as its own files are done. */
	if (!pressure) {
		c->parent = d;
		atomic_fetch_add(&d->refs, 1);
	}
	return c;
}

static int spawn_chunk(struct wworker *w, struct pool_worker *pw,
		       struct wdir *d, const char **names, unsigned n)
{
	struct wchunk *c = arena_alloc(&w->arena, sizeof(*c));

	if (!c)
		return fail(w, d, 0, NULL, -ENOMEM, "cannot walk");
	c->task.fn = chunk_task;
	c->task.prio = 0;
	c->dir = d;
	c->n = n;
	c->names = names;
	atomic_fetch_add(&d->refs, 1);
	if (pool_spawn(w->l->pool, pw, &c->task)) {
		atomic_fetch_sub(&d->refs, 1);
		return fail(w, d, 0, NULL, -ENOMEM, "cannot walk");
	}
	return 0;
}

/* Files past the first CHUNK of a directory are collected into chunk tasks
 * so idle workers can steal them: a flat directory of 20,000 files spreads
 * over every worker. */
struct pending {
	const char **names;
	unsigned n;
	unsigned seen;
};

static int defer_file(struct wworker *w, struct pool_worker *pw,
		      struct wdir *d, struct pending *pend, const char *name)
{
	const char *copy = arena_strdup(&w->arena, name);
	const char **names;

	if (!copy)
		return fail(w, d, 0, name, -ENOMEM, "cannot walk");
	if (!pend->names) {
		pend->names = arena_alloc(&w->arena, CHUNK * sizeof(char *));
		if (!pend->names)
			return fail(w, d, 0, name, -ENOMEM, "cannot walk");
	}
	pend->names[pend->n++] = copy;
	if (pend->n < CHUNK)
		return 0;
	pend->n = 0;
	names = pend->names;
	pend->names = NULL;
	return spawn_chunk(w, pw, d, names, CHUNK);
}

static int walk_entries(struct wworker *w, struct pool_worker *pw,
			struct wdir *d, int pressure)
{
	struct pending pend = { 0 };
	int ret = 0, is_dir;

	for (;;) {
		long n = syscall(SYS_getdents64, d->sfd, w->dents, DENTS_BUF);

		if (n < 0)
			return fail(w, d, 0, NULL, -errno, "cannot read directory");
		if (n == 0)
			break;
		for (long off = 0; off < n && !ret;) {
			struct linux_dirent64 {
				uint64_t d_ino;
				int64_t d_off;
				unsigned short d_reclen;
				unsigned char d_type;
				char d_name[];
			} *e = (void *)(w->dents + off);

			off += e->d_reclen;
			if (e->d_name[0] == '.' && (!e->d_name[1] ||
			    (e->d_name[1] == '.' && !e->d_name[2])))
				continue;
			if (is_skipped(d, e->d_name))
				continue;
			is_dir = e->d_type == DT_DIR;
			if (e->d_type == DT_UNKNOWN) {
				/* No type from getdents (XFS ftype=0, ext2
				 * without filetype, some FUSE and NFS): ask
				 * the inode, without following a symlink. */
				struct stat st;

				if (fstatat(d->sfd, e->d_name, &st,
					    AT_SYMLINK_NOFOLLOW) < 0) {
					ret = fail(w, d, 0, e->d_name, -errno,
						   "cannot stat");
					break;
				}
				is_dir = S_ISDIR(st.st_mode);
			}
			if (is_dir) {
				struct wdir *c = new_child(w, d, e->d_name,
							   pressure);

				if (!c)
					ret = fail(w, d, 0, e->d_name, -ENOMEM,
						   "cannot walk");
				else if (pool_spawn(w->l->pool, pw, &c->task))
					ret = fail(w, d, 0, e->d_name, -ENOMEM,
						   "cannot walk");
			} else if (!pressure && ++pend.seen > CHUNK) {
				ret = defer_file(w, pw, d, &pend, e->d_name);
			} else {
				ret = add_entry(w, pw, d, e->d_name);
			}
		}
		/* Names point into w->dents: flush before the next read. */
		if (!ret && w->nops)
			ret = flush(w, d);
		if (ret || stopped(w))
			return ret;
	}
	if (pend.n)
		ret = spawn_chunk(w, pw, d, pend.names, pend.n);
	return ret;
}

void walk_dir_task(struct pool_worker *pw, struct pool_task *t)
{
	struct wdir *d = (struct wdir *)t;
	struct linker *l = d->root->l;
	struct wworker *w = &l->workers[pool_worker_index(pw)];
	struct wdir *parent = d->parent;
	int pressure;

	if (stopped(w) || open_dir(w, d)) {
		dir_unref(l, parent);
		dir_close(l, d);
		return;
	}
	/* Our fds are open: the parent's are no longer needed for us. */
	dir_unref(l, parent);
	d->parent = NULL;
	pressure = atomic_load_explicit(&l->open_dirs, memory_order_relaxed) >
		   l->dir_budget;
	walk_entries(w, pw, d, pressure);
	dir_unref(l, d);
}

static void chunk_task(struct pool_worker *pw, struct pool_task *t)
{
	struct wchunk *c = (struct wchunk *)t;
	struct wdir *d = c->dir;
	struct linker *l = d->root->l;
	struct wworker *w = &l->workers[pool_worker_index(pw)];
	int ret = 0;

	for (unsigned i = 0; i < c->n && !ret && !stopped(w); i++)
		ret = add_entry(w, NULL, d, c->names[i]);
	if (!ret && w->nops)
		flush(w, d);
	w->nops = 0;
	dir_unref(l, d);
}

