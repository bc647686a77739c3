/* SPDX-License-Identifier: MIT */
/*
 * linker - the linker's lifecycle (see walk.h): queued trees, the worker
 * pool and each worker's io backend and arenas, progress reports, and the
 * run that spawns a task per tree root. The traversal itself is walk.c.
 */
#include "engine/walk_int.h"
#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_NS 100000000 /* at most ten progress calls a second */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void linker_progress(struct wworker *w, int final, const char *label)
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
	/* The wheel a worker just linked a batch of, not the last queued. */
	if (label)
		l->current = label;
	p.current = l->current;
	p.phase = SPOKE_PHASE_LINK;
	l->ctx->progress_fn(l->ctx->progress_user, &p);
	pthread_mutex_unlock(&l->progress_lock);
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

void linker_allow_replace(struct linker *l)
{
	l->replace_ok = 1;
}

void linker_carry_times(struct linker *l)
{
	l->carry_times = 1;
}

void linker_set_disown(struct linker *l, void (*fn)(void *, const char *),
		       void *arg)
{
	l->disown = fn;
	l->disown_arg = arg;
}

void linker_set_made(struct linker *l,
		     void (*fn)(void *, const struct objid *, size_t),
		     void *arg)
{
	l->made = fn;
	l->made_arg = arg;
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
		d->task.fn = walk_dir_task;
		d->root = r;
		d->relpath = "";
		d->sfd = d->dfd = -1;
		atomic_init(&d->refs, 1);
		if (!l->current)
			l->current = r->label;
		ret = pool_spawn(l->pool, NULL, &d->task);
	}
	if (!ret) {
		pool_run(l->pool);
		if (ctx_failed(l->ctx))
			ret = l->ctx->err_code ? l->ctx->err_code : -EIO;
	}
	for (unsigned i = 0; l->workers && i < l->nworkers; i++)
		walk_report_made(&l->workers[i]);
	if (l->workers)
		linker_progress(&l->workers[0], 1, NULL);
	workers_stop(l);
	roots_free(l);
	pool_free(l->pool);
	l->pool = NULL;
	return ret;
}
