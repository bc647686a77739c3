/* SPDX-License-Identifier: MIT */
/*
 * walk - see walk.h. Memory: directory nodes, chunk blocks and names live in
 * per-worker arenas that are dropped at the end of the run, so the hot path
 * (one file) allocates nothing; getdents buffers and op batches are
 * per-worker and reused, which is safe because a worker runs one task at a
 * time and a task never yields with a batch half-filled.
 */
#include "engine/walk.h"
#include "base/arena.h"
#include "engine/attempt.h"
#include "base/pool.h"
#include "base/alloc.h"
#include "io/backend.h"
#include "base/errname.h"
#include "base/fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64              /* ops per backend submission */
#define CHUNK 256             /* files per chunk task of a large directory */
#define BIG_FILE (8u << 20)   /* files this large get a task of their own */
#define DENTS_BUF (32 * 1024)
#define PROGRESS_NS 100000000 /* at most ten progress calls a second */

struct wroot {
	struct wroot *next;
	struct linker *l;
	char *src, *dst, *label;
	char **skip;
	int sfd, dfd;
};

/* A directory being walked. refs: the task itself, plus every child and
 * chunk that still needs sfd/dfd; the fds close when refs reaches zero. */
struct wdir {
	struct pool_task task;
	struct wdir *parent; /* NULL: open from root->sfd by relpath */
	struct wroot *root;
	atomic_int refs;
	int sfd, dfd;
	struct attempt_pair *pair;
	const char *name;    /* within parent */
	const char *relpath; /* from the root, "" for the root */
};

struct wchunk {
	struct pool_task task;
	struct wdir *dir;
	unsigned n;
	const char **names;
};

struct wworker {
	struct linker *l;
	struct io_backend *io;
	struct arena arena;
	uint64_t count[SPOKE_COUNT__MAX];
	struct io_op ops[BATCH];
	unsigned nops;
	struct arena scratch; /* symlink targets of the current batch */
	char dents[DENTS_BUF];
} __attribute__((aligned(64)));

struct linker {
	spoke_ctx *ctx;
	struct spoke_report *rep;
	struct pool *pool;
	unsigned nworkers;
	struct wworker *workers;
	struct attempt_table att;
	struct wroot *roots, **roots_tail;
	atomic_int abort;
	atomic_int open_dirs;
	int dir_budget;
	uint64_t files_total, bytes_total;
	atomic_llong next_progress;
	pthread_mutex_t progress_lock;
	const char *current;
};

static void dir_task(struct pool_worker *pw, struct pool_task *t);
static void chunk_task(struct pool_worker *pw, struct pool_task *t);

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "root/relpath/name" of the source or destination, for messages only. */
static const char *dir_path(const struct wdir *d, int dst, const char *name,
			    char *buf, size_t len)
{
	const char *base = dst ? d->root->dst : d->root->src;

	snprintf(buf, len, "%s%s%s%s%s", base, *d->relpath ? "/" : "",
		 d->relpath, name ? "/" : "", name ? name : "");
	return buf;
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
	if (atomic_load_explicit(&w->l->abort, memory_order_relaxed))
		return 1;
	if (ctx_canceled(w->l->ctx)) {
		atomic_store(&w->l->abort, 1);
		ctx_fail(w->l->ctx, SPOKE_E_CANCELED, 0, NULL, "canceled");
		return 1;
	}
	return 0;
}

static void maybe_progress(struct wworker *w, int final)
{
	struct linker *l = w->l;
	struct spoke_progress p = { 0 };
	int64_t now, due;

	if (!l->ctx->progress_fn)
		return;
	now = now_ns();
	due = atomic_load_explicit(&l->next_progress, memory_order_relaxed);
	if (!final && now < due)
		return;
	if (pthread_mutex_trylock(&l->progress_lock) != 0) {
		if (!final)
			return;
		pthread_mutex_lock(&l->progress_lock);
	}
	atomic_store(&l->next_progress, now + PROGRESS_NS);
	/* Racy reads of other workers' counters: each is a naturally aligned
	 * u64 written by one thread, and progress only needs a recent value.
	 * Monotonicity is kept by never reporting less than last time. */
	for (unsigned i = 0; i < l->nworkers; i++) {
		p.files_done += __atomic_load_n(
			&l->workers[i].count[SPOKE_COUNT_FILES], __ATOMIC_RELAXED);
		p.bytes_done += __atomic_load_n(
			&l->workers[i].count[SPOKE_COUNT_BYTES], __ATOMIC_RELAXED);
	}
	p.files_total = l->files_total;
	p.bytes_total = l->bytes_total;
	if (final && l->files_total && !atomic_load(&l->abort)) {
		p.files_done = l->files_total;
		p.bytes_done = l->bytes_total;
	}
	p.current = l->current;
	l->ctx->progress_fn(l->ctx->progress_user, &p);
	pthread_mutex_unlock(&l->progress_lock);
}

static void count_add(struct wworker *w, int c, uint64_t n)
{
	__atomic_store_n(&w->count[c], w->count[c] + n, __ATOMIC_RELAXED);
}

static void count_done(struct wworker *w, const struct io_op *op)
{
	static const int by_kind[IOK__MAX] = {
		[IOK_CLONE] = SPOKE_COUNT_CLONED,
		[IOK_HARDLINK] = SPOKE_COUNT_HARDLINKED,
		[IOK_COPY] = SPOKE_COUNT_COPIED,
		[IOK_SYMLINK] = SPOKE_COUNT_SYMLINKED,
	};

	count_add(w, by_kind[op->kind], 1);
	if (op->replace)
		count_add(w, SPOKE_COUNT_REPLACED, 1);
	if (op->target && op->sname == NULL)
		return; /* a symlink recreated from the source tree */
	count_add(w, SPOKE_COUNT_FILES, 1);
	count_add(w, SPOKE_COUNT_BYTES, op->size);
}

/* The probe failed "unsupported": switch (or refuse, with --no-fallback). */
static int on_unsupported(struct wworker *w, struct wdir *d,
			  struct io_op *op, int probe)
{
	struct linker *l = w->l;
	enum io_kind next = attempt_next(l->ctx->link_mode, op->kind);
	char path[PATH_MAX], ebuf[16];
	const char *from = attempt_kind_name(op->kind);

	count_add(w, SPOKE_COUNT_FAILED_ATTEMPTS, 1);
	dir_path(d, 1, op->dname, path, sizeof(path));
	if (l->ctx->no_fallback) {
		if (probe)
			attempt_resolve(d->pair, op->kind, 0);
		atomic_store(&l->abort, 1);
		return ctx_fail(l->ctx, SPOKE_E_UNSUPPORTED, op->res, path,
				"%s not supported for '%s' (%s: %s) and "
				"fallback is disabled", from, path,
				errname(op->res, ebuf), strerror(-op->res));
	}
	if (probe) {
		attempt_resolve(d->pair, op->kind, 0);
		report_add_fallback(l->rep, from, attempt_kind_name(next),
				    op->res, path);
		/* Falling back is what auto means: news, not a warning.
		 * A mode the caller chose that does not work here is. */
		ctx_log(l->ctx, l->ctx->link_mode == SPOKE_LINK_AUTO ?
			SPOKE_LOG_INFO : SPOKE_LOG_WARN,
			"%s failed for '%s' (%s: %s); using %s for the rest of "
			"this run on this filesystem pair", from, path,
			errname(op->res, ebuf), strerror(-op->res),
			attempt_kind_name(next));
	} else {
		ctx_log(l->ctx, SPOKE_LOG_DEBUG, "%s failed for '%s' (%s); "
			"using %s for this file", from, path,
			errname(op->res, ebuf), attempt_kind_name(next));
	}
	op->kind = next;
	return 0;
}

/* Settle one op whose result is in op->res: 0 when done, 1 to resubmit
 * (op rewritten: replace, or another kind), <0 fatal. */
static int settle(struct wworker *w, struct wdir *d, struct io_op *op,
		  int probe)
{
	int cls = err_classify(op->res, op->kind == IOK_HARDLINK);
	int from_tree = op->target && !op->sname;

	if (cls == ERR_OK) {
		if (probe)
			attempt_resolve(d->pair, op->kind, 1);
		count_done(w, op);
		return 0;
	}
	if (cls == ERR_EXISTS && !op->replace) {
		/* Says nothing about whether the method works: keep any
		 * probe and retry the same method over the old file. */
		op->replace = 1;
		op->pinned = 1;
		return 1;
	}
	if (cls == ERR_UNSUPPORTED && op->kind != IOK_COPY && !from_tree) {
		int err = on_unsupported(w, d, op, probe);

		/* After a probe the method is settled for everyone, so the
		 * op chooses again (auto may now probe hardlink); after a
		 * per-file failure it keeps the next method. */
		op->pinned = !probe;
		return err ? err : 1;
	}
	if (probe)
		attempt_release(d->pair, op->kind);
	return fail(w, d, 1, op->dname, op->res,
		    op->replace ? "cannot replace" : "cannot create");
}

static void swap_ops(struct io_op *a, struct io_op *b)
{
	struct io_op tmp = *a;

	*a = *b;
	*b = tmp;
}

/* Choose each op's method, run the batch, settle the results; repeat for
 * ops that need another try. A probe runs alone so the rest of the batch
 * sees its outcome instead of repeating its failure; while an op holds the
 * probe it stays at ops[start] until it settles. */
static int flush(struct wworker *w, struct wdir *d)
{
	struct linker *l = w->l;
	struct io_op *ops = w->ops;
	unsigned n = w->nops, start = 0;
	int ret = 0, holding = 0;

	w->nops = 0;
	while (start < n && !stopped(w)) {
		unsigned m, end, i = start;
		int probe = holding;

		for (; !probe && i < n; i++) {
			if (ops[i].pinned)
				continue;
			ops[i].kind = attempt_choose(d->pair,
						     l->ctx->link_mode, &probe);
			if (probe)
				break;
		}
		if (probe)
			swap_ops(&ops[start], &ops[i]);
		m = probe ? 1 : n - start;
		ret = io_backend_submit(w->io, ops + start, m);
		if (ret) {
			if (probe)
				attempt_release(d->pair, ops[start].kind);
			ret = fail(w, d, 1, NULL, ret, "io backend failed in");
			break;
		}
		holding = 0;
		end = start + m;
		/* Settled ops move behind start; retries stay ahead of it. */
		for (i = start; i < end; i++) {
			int r = settle(w, d, &ops[i], probe);

			if (r < 0) {
				ret = r;
				goto out;
			}
			if (r == 0) {
				swap_ops(&ops[i], &ops[start++]);
			} else {
				ops[i].res = 0;
				holding = probe && ops[i].replace &&
					  ops[i].kind != IOK_COPY &&
					  ops[i].pinned && i == start;
			}
		}
	}
out:
	arena_reset(&w->scratch);
	maybe_progress(w, 0);
	return ret;
}

static int add_op(struct wworker *w, struct wdir *d, const char *name,
		  const struct stat *st, const char *target)
{
	struct io_op *op = &w->ops[w->nops++];

	memset(op, 0, sizeof(*op));
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
	return w->nops == BATCH ? flush(w, d) : 0;
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
	struct stat st;

	/* The source's mode and size are needed for every method but
	 * hardlink, and the size for the report; one fstatat also tells
	 * DT_UNKNOWN apart. */
	if (fstatat(d->sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(w, d, 0, name, -errno, "cannot stat");
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
	if (fstat(d->sfd, &ss) < 0 || fstat(d->dfd, &ds) < 0) {
		err = -errno;
		return fail(w, d, 0, NULL, err, "cannot stat directory");
	}
	/* A directory we made gets the source's permissions; one that was
	 * there (site-packages, a merged tree) keeps its own. */
	if (made > 0 && (ss.st_mode & 07777) != (ds.st_mode & 07777) &&
	    fchmod(d->dfd, ss.st_mode & 07777) < 0)
		return fail(w, d, 1, NULL, -errno, "cannot set mode of");
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
	c->task.fn = dir_task;
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
	int ret = 0;

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
			if (e->d_type == DT_DIR) {
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

static void dir_task(struct pool_worker *pw, struct pool_task *t)
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

int linker_create(struct linker **out, spoke_ctx *ctx, struct spoke_report *rep)
{
	struct linker *l = xcalloc(1, sizeof(*l));
	struct rlimit rl;
	int err;

	if (!l)
		return SPOKE_E_NOMEM;
	l->ctx = ctx;
	l->rep = rep;
	l->roots_tail = &l->roots;
	err = attempt_table_init(&l->att);
	if (err) {
		free(l);
		return err;
	}
	if (pthread_mutex_init(&l->progress_lock, NULL) != 0) {
		attempt_table_destroy(&l->att);
		free(l);
		return -ENOMEM;
	}
	/* Two fds per open directory, plus each worker's file ops (two per
	 * op in flight) and headroom for the host program. */
	l->dir_budget = 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		l->dir_budget = (int)(rl.rlim_cur / 4);
	if (l->dir_budget > 4096)
		l->dir_budget = 4096;
	*out = l;
	return 0;
}

static void roots_free(struct linker *l)
{
	struct wroot *r, *next;

	for (r = l->roots; r; r = next) {
		next = r->next;
		if (r->sfd >= 0)
			close(r->sfd);
		if (r->dfd >= 0)
			close(r->dfd);
		for (char **s = r->skip; s && *s; s++)
			free(*s);
		free(r->skip);
		free(r->src);
		free(r->dst);
		free(r->label);
		free(r);
	}
	l->roots = NULL;
	l->roots_tail = &l->roots;
}

void linker_free(struct linker *l)
{
	if (!l)
		return;
	roots_free(l);
	pool_free(l->pool);
	attempt_table_destroy(&l->att);
	pthread_mutex_destroy(&l->progress_lock);
	free(l);
}

int linker_add_tree(struct linker *l, const char *src, const char *dst,
		    const char *const *skip, const char *label)
{
	struct wroot *r = xcalloc(1, sizeof(*r));
	size_t n = 0;

	if (!r)
		return SPOKE_E_NOMEM;
	r->l = l;
	r->sfd = r->dfd = -1;
	while (skip && skip[n])
		n++;
	r->src = xstrdup(src);
	r->dst = xstrdup(dst);
	r->label = xstrdup(label ? label : src);
	r->skip = n ? xcalloc(n + 1, sizeof(char *)) : NULL;
	*l->roots_tail = r;
	l->roots_tail = &r->next;
	if (!r->src || !r->dst || !r->label || (n && !r->skip))
		return SPOKE_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(r->skip[i] = xstrdup(skip[i])))
			return SPOKE_E_NOMEM;
	return 0;
}

void linker_set_totals(struct linker *l, uint64_t files, uint64_t bytes)
{
	l->files_total = files;
	l->bytes_total = bytes;
}

/* mkdir -p for a root's destination. */
static int make_dirs(char *path)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_root(struct linker *l, struct wroot *r)
{
	int err;

	r->sfd = open(r->src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->sfd < 0)
		return ctx_fail(l->ctx, -errno, errno, r->src,
				"cannot open source directory '%s': %s", r->src,
				strerror(errno));
	err = make_dirs(r->dst);
	if (err)
		return ctx_fail(l->ctx, err, err, r->dst,
				"cannot create directory '%s': %s", r->dst,
				strerror(-err));
	r->dfd = open(r->dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dfd < 0)
		return ctx_fail(l->ctx, -errno, errno, r->dst,
				"cannot open directory '%s': %s", r->dst,
				strerror(errno));
	return 0;
}

static int workers_start(struct linker *l)
{
	unsigned n = l->ctx->jobs ? l->ctx->jobs : pool_default_threads();
	int err;

	err = pool_create(&l->pool, n);
	if (err)
		return ctx_fail(l->ctx, err, err, NULL,
				"cannot start %u worker threads: %s", n,
				strerror(-err));
	l->nworkers = pool_nthreads(l->pool);
	if (posix_memalign((void **)&l->workers, 64,
			   l->nworkers * sizeof(*l->workers)))
		return ctx_fail(l->ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	memset(l->workers, 0, l->nworkers * sizeof(*l->workers));
	for (unsigned i = 0; i < l->nworkers; i++) {
		struct wworker *w = &l->workers[i];

		w->l = l;
		arena_init(&w->arena);
		arena_init(&w->scratch);
		err = io_backend_open((enum io_choice)l->ctx->io, &w->io);
		if (err)
			return ctx_fail(l->ctx, err, err, NULL,
					"cannot set up the io backend: %s",
					strerror(-err));
	}
	return 0;
}

static void workers_stop(struct linker *l)
{
	for (unsigned i = 0; l->workers && i < l->nworkers; i++) {
		struct wworker *w = &l->workers[i];

		for (int c = 0; c < SPOKE_COUNT__MAX; c++)
			l->rep->count[c] += w->count[c];
		io_backend_destroy(w->io);
		arena_free(&w->arena);
		arena_free(&w->scratch);
	}
	free(l->workers);
	l->workers = NULL;
}

int linker_run(struct linker *l)
{
	int ret = 0;

	atomic_store(&l->abort, 0);
	atomic_store(&l->open_dirs, 0);
	ret = workers_start(l);
	for (struct wroot *r = l->roots; r && !ret; r = r->next) {
		struct wdir *d = arena_alloc(&l->workers[0].arena, sizeof(*d));

		if (!d) {
			ret = ctx_fail(l->ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				       "out of memory");
			break;
		}
		ret = open_root(l, r);
		if (ret)
			break;
		memset(d, 0, sizeof(*d));
		d->task.fn = dir_task;
		d->root = r;
		d->relpath = "";
		d->sfd = d->dfd = -1;
		atomic_init(&d->refs, 1);
		l->current = r->label;
		ret = pool_spawn(l->pool, NULL, &d->task);
	}
	if (!ret) {
		pool_run(l->pool);
		if (ctx_failed(l->ctx))
			ret = l->ctx->err_code ? l->ctx->err_code : -EIO;
	}
	if (l->workers)
		maybe_progress(&l->workers[0], 1);
	workers_stop(l);
	roots_free(l);
	pool_free(l->pool);
	l->pool = NULL;
	return ret;
}
