/* SPDX-License-Identifier: MIT */
/*
 * wheelfetch - the cold half of an install: every .whl of the plan that the
 * cache does not hold yet is unpacked at once, as tasks of one pool, so the
 * total work, not the order of the wheels, sets the time (see
 * wheelcache.h). One task per wheel, largest wheel first, hashes it and
 * begins its unpack (store_add_begin), then queues one task per file on its
 * own worker; the task that writes a wheel's last file publishes the entry
 * (store_add_end), so entries appear as they complete while others are
 * still being inflated.
 *
 * Each wheel runs against a private context of its own, so that its error is
 * recorded exactly as a lone wheelcache_add would record it (checks call
 * wheel_open with a context) and is replayed when the install reaches that
 * wheel in plan order: an install fails on the same wheel, with the same
 * code and message, as when the wheels were unpacked one after another.
 * After a failure the other wheels stop (their temporaries are removed,
 * nothing of them is published); those the install reaches before the
 * failing one are then added one by one as before.
 *
 * Progress: the unpack phase, totals from the central directories read
 * before any task starts (the first report comes right after, well within
 * a tenth of a second for a hundred wheels), then at most ten reports a
 * second from the workers, naming the wheel the reporting worker writes.
 */
#include "engine/wheelcache.h"
#include "engine/plan.h"
#include "base/alloc.h"
#include "base/pool.h"
#include "cache/zip.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_NS 100000000 /* at most ten progress calls a second */

/* One wheel's outcome, kept in the context until the run ends. */
struct fetched {
	const char *path, *sha256; /* the plan's strings */
	spoke_ctx *err;             /* its failure, or NULL */
	char *entry_dir;            /* success: the entry */
	char key[65];
};

struct wheelfetch {
	struct fetched *v;
	size_t n;
};

struct fwheel;

struct fetch {
	spoke_ctx *ctx;
	struct store *s;
	struct pool *pool;
	struct fwheel *w;
	size_t n;
	atomic_int stop;
	atomic_uint_least64_t files_done, bytes_done, wheels_done;
	uint64_t files_total, bytes_total;
	atomic_llong next_progress;
	pthread_mutex_t plock;
	const char *current;
};

enum { FW_IDLE, FW_OK, FW_FAILED, FW_STOPPED };

struct fwheel {
	struct pool_task t;
	struct fetch *f;
	const struct plan_wheel *pw;
	spoke_ctx *sctx;
	struct wheelcache_req rq;
	struct store_pending *pd;
	uint64_t files, bytes, wlen;
	int state;
	struct timespec t0;
	double secs;
};

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Serialised by the context's progress contract: never two calls at once.
 * Done counters are read after the totals were fixed and only grow. */
static void progress(struct fetch *f, const char *label, int final)
{
	struct spoke_progress p = { 0 };
	int64_t now;

	if (!f->ctx->progress_fn)
		return;
	now = now_ns();
	if (!final && now < atomic_load_explicit(&f->next_progress,
						 memory_order_relaxed))
		return;
	if (pthread_mutex_trylock(&f->plock) != 0) {
		if (!final)
			return;
		pthread_mutex_lock(&f->plock);
	}
	atomic_store(&f->next_progress, now + PROGRESS_NS);
	if (label)
		f->current = label;
	p.phase = SPOKE_PHASE_UNPACK;
	p.files_total = f->files_total;
	p.bytes_total = f->bytes_total;
	p.wheels_total = f->n;
	p.files_done = atomic_load(&f->files_done);
	p.bytes_done = atomic_load(&f->bytes_done);
	p.wheels_done = atomic_load(&f->wheels_done);
	/* A wheel whose entry another process published first counted
	 * fewer files than its central directory: the phase still ends at
	 * its totals. Never above them either (a lying size). */
	if (final && p.wheels_done == p.wheels_total) {
		p.files_done = p.files_total;
		p.bytes_done = p.bytes_total;
	}
	if (p.files_done > p.files_total)
		p.files_done = p.files_total;
	if (p.bytes_done > p.bytes_total)
		p.bytes_done = p.bytes_total;
	p.current = f->current;
	f->ctx->progress_fn(f->ctx->progress_user, &p);
	pthread_mutex_unlock(&f->plock);
}

static void tick(void *user, uint64_t bytes)
{
	struct fwheel *fw = user;

	atomic_fetch_add_explicit(&fw->f->files_done, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&fw->f->bytes_done, bytes,
				  memory_order_relaxed);
	progress(fw->f, fw->rq.shown, 0);
}

/* A failure in the wheel's own context, as wheelcache_add records it;
 * one caused by a sibling's failure or a cancel is only a stop. */
static void wheel_failed(struct fwheel *fw, int ret, const char *err)
{
	if (ctx_canceled(fw->f->ctx) ||
	    (ret == SPOKE_E_CANCELED && atomic_load(&fw->f->stop))) {
		fw->state = FW_STOPPED;
		return;
	}
	wheelcache_fail(&fw->rq, ret, err);
	fw->state = FW_FAILED;
	atomic_store(&fw->f->stop, 1);
}

static void wheel_ok(struct fwheel *fw)
{
	fw->secs = (double)(now_ns() - ((int64_t)fw->t0.tv_sec * 1000000000 +
					fw->t0.tv_nsec)) / 1e9;
	fw->state = FW_OK;
	atomic_fetch_add(&fw->f->wheels_done, 1);
	progress(fw->f, fw->rq.shown, 0);
}

/* The job's last task: publish (or clean up) the entry. */
static void job_done(void *user)
{
	struct fwheel *fw = user;
	char err[1024] = "";
	int ret = store_add_end(fw->pd, err, sizeof(err));

	fw->pd = NULL;
	if (ret)
		wheel_failed(fw, ret, err);
	else
		wheel_ok(fw);
}

static void wheel_task(struct pool_worker *w, struct pool_task *pt)
{
	struct fwheel *fw = container_of(pt, struct fwheel, t);
	struct fetch *f = fw->f;
	struct unpack_job *j;
	char err[1024] = "";
	int ret;

	if (atomic_load(&f->stop) || ctx_canceled(f->ctx)) {
		fw->state = FW_STOPPED;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &fw->t0);
	ret = store_add_begin(f->s, fw->pw->path, &fw->rq.o, &fw->rq.res,
			      &fw->pd, err, sizeof(err));
	if (ret) {
		wheel_failed(fw, ret, err);
		return;
	}
	if (!fw->pd) {
		/* Published meanwhile (another process, or an equal wheel
		 * of this plan): nothing of it is written here. */
		atomic_fetch_add(&f->files_done, fw->files);
		atomic_fetch_add(&f->bytes_done, fw->bytes);
		wheel_ok(fw);
		return;
	}
	j = store_pending_job(fw->pd);
	if (unpack_ntasks(j) == 0)
		job_done(fw);
	else
		unpack_spawn(j, f->pool, w);
}

/* The files and bytes the central directory of path declares; 0 and
 * nothing counted when it cannot be read (the task reports why). */
static void count_wheel(struct fwheel *fw)
{
	const void *map = NULL;
	size_t len = 0;
	char err[256];
	/* Not zip_open_file: an injected fault (SPOKE_FAULT) must hit the
	 * wheel's real open, not this estimate. */
	int fd = open(fw->pw->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	/* The central directory's pages only: the first report must come
	 * soon, and the task checks everything anyway. */
	if (zip_map_fd(fd, fw->pw->path, &map, &len, err, sizeof(err)) == 0 &&
	    zip_totals(map, len, &fw->files, &fw->bytes) != 0)
		fw->files = fw->bytes = 0;
	fw->wlen = len;
	zip_unmap(map, len);
	close(fd);
}

/* A .whl of the plan worth fetching: a regular file named *.whl. Anything
 * else is left to the install, which reports it in order. */
static int candidate(const struct plan_wheel *pw)
{
	size_t n = strlen(pw->path);
	struct stat st;

	return !pw->is_key && n > 4 && !strcmp(pw->path + n - 4, ".whl") &&
	       stat(pw->path, &st) == 0 && S_ISREG(st.st_mode);
}

static int keep_results(struct fetch *f)
{
	struct wheelfetch *wf = xcalloc(1, sizeof(*wf));

	if (!wf || !(wf->v = xcalloc(f->n ? f->n : 1, sizeof(*wf->v)))) {
		free(wf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < f->n; i++) {
		struct fwheel *fw = &f->w[i];
		struct fetched *r = &wf->v[wf->n];

		if (fw->state == FW_FAILED) {
			r->err = fw->sctx;
			fw->sctx = NULL;
		} else if (fw->state != FW_OK ||
			   store_entry_path_state(f->s, fw->rq.res.key,
						  fw->rq.res.verified,
						  &r->entry_dir)) {
			continue;
		}
		r->path = fw->pw->path;
		r->sha256 = fw->pw->sha256;
		memcpy(r->key, fw->rq.res.key, sizeof(r->key));
		wf->n++;
	}
	f->ctx->fetch = wf;
	return 0;
}

static void fetch_free(struct fetch *f)
{
	for (size_t i = 0; i < f->n; i++) {
		wheelcache_req_free(&f->w[i].rq);
		spoke_ctx_free(f->w[i].sctx);
	}
	free(f->w);
	pool_free(f->pool);
	store_close(f->s);
	pthread_mutex_destroy(&f->plock);
}

/* Keep err (taken over) as pw's failure, to be replayed. */
static void keep_failure(spoke_ctx *ctx, const struct plan_wheel *pw,
			 spoke_ctx *err)
{
	struct wheelfetch *wf = xcalloc(1, sizeof(*wf));

	err->cache_dir = NULL; /* borrowed from ctx */
	if (!wf || !(wf->v = xcalloc(1, sizeof(*wf->v)))) {
		free(wf);
		spoke_ctx_free(err);
		return;
	}
	wf->v[0].path = pw->path;
	wf->v[0].sha256 = pw->sha256;
	wf->v[0].err = err;
	wf->n = 1;
	ctx->fetch = wf;
}

/* The wheels to fetch, each with its private context and request; 0 and
 * f->n == 0 when there is nothing to do (or the setup failed: the install
 * then meets the same failure one wheel at a time). */
static int setup(struct fetch *f, const struct spoke_plan *p)
{
	spoke_ctx *probe;
	struct wheelcache_req rq;
	size_t any = 0;
	int ret;

	/* Trees only (or wheels by cache key): the cache is not even
	 * opened, as before. */
	for (size_t i = 0; i < p->nwheels && !any; i++)
		any = candidate(&p->wheels[i]);
	if (!any || !(probe = spoke_ctx_create()))
		return 0;
	/* A bad size budget variable is the install's error, recorded at
	 * its first wheel as before: not the fetch's. */
	probe->cache_dir = f->ctx->cache_dir;
	ret = wheelcache_req_init(probe, &rq, "x-1-py3-none-any.whl", NULL);
	wheelcache_req_free(&rq);
	if (!ret && wheelcache_open_store(probe, &f->s)) {
		/* An unusable cache is the first .whl's failure, as when
		 * that wheel opened the cache itself (an injected fault
		 * fires once: it must not be lost here). */
		for (size_t i = 0; i < p->nwheels; i++) {
			struct wheelcache_req one;
			int bad;

			if (!candidate(&p->wheels[i]))
				continue;
			bad = wheelcache_req_init(probe, &one,
						  p->wheels[i].path,
						  p->wheels[i].sha256);
			wheelcache_req_free(&one);
			if (!bad) {
				keep_failure(f->ctx, &p->wheels[i], probe);
				probe = NULL;
			}
			break;
		}
		ret = -1;
	}
	if (probe)
		probe->cache_dir = NULL;
	spoke_ctx_free(probe);
	if (ret || !(f->w = xcalloc(p->nwheels ? p->nwheels : 1,
				    sizeof(*f->w))))
		return 0;
	for (size_t i = 0; i < p->nwheels; i++) {
		const struct plan_wheel *pw = &p->wheels[i];
		struct fwheel *fw = &f->w[f->n];
		int dup = 0;

		for (size_t k = 0; k < i && !dup; k++)
			dup = !strcmp(p->wheels[k].path, pw->path);
		if (dup || !candidate(pw) ||
		    store_probe(f->s, pw->path, f->ctx->verify))
			continue;
		fw->sctx = spoke_ctx_create();
		if (!fw->sctx)
			return -ENOMEM;
		fw->sctx->verify = f->ctx->verify;
		fw->sctx->io = f->ctx->io;
		fw->f = f;
		fw->pw = pw;
		f->n++;
		if (wheelcache_req_init(fw->sctx, &fw->rq, pw->path,
					pw->sha256)) {
			/* A bad name or sha256: reported in order by the
			 * install, as before. */
			wheelcache_req_free(&fw->rq);
			spoke_ctx_free(fw->sctx);
			memset(fw, 0, sizeof(*fw));
			f->n--;
			continue;
		}
		fw->rq.o.cancel = &f->ctx->cancel;
		fw->rq.o.stop = &f->stop;
		fw->rq.o.tick = tick;
		fw->rq.o.done = job_done;
		fw->rq.o.user = fw;
		fw->t.fn = wheel_task;
		count_wheel(fw);
		f->files_total += fw->files;
		f->bytes_total += fw->bytes;
	}
	return 0;
}

int wheelfetch_all(spoke_ctx *ctx, const struct spoke_plan *p)
{
	struct fetch f = { .ctx = ctx };
	long long start = ctx_now_ns();
	size_t big = 0;
	int ret;

	wheelfetch_forget(ctx);
	pthread_mutex_init(&f.plock, NULL);
	ret = setup(&f, p);
	if (ret || f.n == 0)
		goto out;
	/* Largest first (by the .whl's size, in 4 KiB steps): the long
	 * wheel starts at once, the small ones fill the gaps. The tasks stay
	 * where they are: requests point into them. */
	for (size_t i = 0; i < f.n; i++) {
		uint64_t units = f.w[i].wlen >> 12;

		f.w[i].t.prio = units > INT_MAX ? INT_MAX : (int)units;
		if (f.w[i].t.prio > f.w[big].t.prio)
			big = i;
	}
	ret = pool_create(&f.pool, ctx->jobs);
	if (ret)
		goto out;
	progress(&f, f.w[big].rq.shown, 1);
	for (size_t i = 0; i < f.n && !ret; i++)
		ret = pool_spawn(f.pool, NULL, &f.w[i].t);
	pool_run(f.pool);
	progress(&f, NULL, 1);
	for (size_t i = 0; i < f.n; i++)
		if (f.w[i].state == FW_OK)
			wheelcache_log(&f.w[i].rq, ctx, f.w[i].secs);
	if (!ret)
		ret = keep_results(&f);
out:
	fetch_free(&f);
	atomic_fetch_add(&ctx->lookup_ns, ctx_now_ns() - start);
	/* A cancel is reported by the install at its first wheel, as
	 * before; anything else (out of memory, no threads) only costs the
	 * parallelism: the install adds the wheels one by one. */
	return 0;
}

int wheelfetch_replay(spoke_ctx *ctx, const char *whl, const char *sha256,
		      char **entry_dir, char key_out[65])
{
	struct wheelfetch *wf = ctx->fetch;

	for (size_t i = 0; wf && i < wf->n; i++) {
		struct fetched *r = &wf->v[i];

		if (r->path != whl && strcmp(r->path, whl))
			continue;
		if ((r->sha256 == NULL) != (sha256 == NULL) ||
		    (sha256 && strcmp(r->sha256, sha256)))
			return 0;
		if (r->err) {
			ctx_copy_error(ctx, r->err);
			return spoke_ctx_error_code(ctx);
		}
		if (key_out)
			memcpy(key_out, r->key, 65);
		if (entry_dir && !(*entry_dir = xstrdup(r->entry_dir)))
			return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
					"out of memory");
		return 1;
	}
	return 0;
}

void wheelfetch_forget(spoke_ctx *ctx)
{
	struct wheelfetch *wf = ctx->fetch;

	ctx->fetch = NULL;
	for (size_t i = 0; wf && i < wf->n; i++) {
		spoke_ctx_free(wf->v[i].err);
		free(wf->v[i].entry_dir);
	}
	if (wf)
		free(wf->v);
	free(wf);
}
