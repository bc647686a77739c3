/* SPDX-License-Identifier: MIT */
/*
 * wheelfetch - the cold half of an install: every .whl of the plan that the
 * cache does not hold yet is unpacked at once, as tasks of one pool, so the
 * total work, not the order of the wheels, sets the time (see
 * wheelcache.h). One task per wheel, long wheels first, hashes it and
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
 * The pool runs on a thread of its own (wheelfetch_start), so the install
 * can open and lay out each wheel as soon as its entry is published while
 * the others are still being inflated: wheelfetch_replay() waits for the
 * one wheel it is asked about, and wheelfetch_finish() for the rest.
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

struct fwheel;

/* ctx->fetch: the fetch of one run, running or done, until forgotten. */
struct wheelfetch {
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
	long long start_ns, end_ns;
	/* dlock guards each wheel's final flag and running: a wheel's
	 * outcome is read only after it is final or the pool is done. */
	pthread_mutex_t dlock;
	pthread_cond_t dcond;
	pthread_t runner;
	int running, has_runner, finished;
	unsigned long settled; /* wheels final so far (wheelfetch_wait) */
};

enum { FW_IDLE, FW_OK, FW_FAILED, FW_STOPPED };

struct fwheel {
	struct pool_task t;
	struct wheelfetch *f;
	const struct plan_wheel *pw;
	spoke_ctx *sctx;
	struct wheelcache_req rq;
	struct store_pending *pd;
	uint64_t files, bytes, wlen;
	int state;
	int final;  /* under f->dlock: state will not change again */
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
static void progress(struct wheelfetch *f, const char *label, int final)
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

/* fw's outcome is settled: wake an install waiting for it. */
static void mark_final(struct fwheel *fw)
{
	pthread_mutex_lock(&fw->f->dlock);
	fw->final = 1;
	fw->f->settled++;
	pthread_cond_broadcast(&fw->f->dcond);
	pthread_mutex_unlock(&fw->f->dlock);
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
	mark_final(fw);
}

static void wheel_task(struct pool_worker *w, struct pool_task *pt)
{
	struct fwheel *fw = container_of(pt, struct fwheel, t);
	struct wheelfetch *f = fw->f;
	struct unpack_job *j;
	char err[1024] = "";
	int ret;

	if (atomic_load(&f->stop) || ctx_canceled(f->ctx)) {
		fw->state = FW_STOPPED;
		mark_final(fw);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &fw->t0);
	ret = store_add_begin(f->s, fw->pw->path, &fw->rq.o, &fw->rq.res,
			      &fw->pd, err, sizeof(err));
	if (ret) {
		wheel_failed(fw, ret, err);
		mark_final(fw);
		return;
	}
	if (!fw->pd) {
		/* Published meanwhile (another process, or an equal wheel
		 * of this plan): nothing of it is written here. */
		atomic_fetch_add(&f->files_done, fw->files);
		atomic_fetch_add(&f->bytes_done, fw->bytes);
		wheel_ok(fw);
		mark_final(fw);
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

static void fetch_free(struct wheelfetch *f)
{
	for (size_t i = 0; i < f->n; i++) {
		wheelcache_req_free(&f->w[i].rq);
		spoke_ctx_free(f->w[i].sctx);
	}
	free(f->w);
	pool_free(f->pool);
	store_close(f->s);
	pthread_mutex_destroy(&f->plock);
	pthread_mutex_destroy(&f->dlock);
	pthread_cond_destroy(&f->dcond);
	free(f);
}

/* Keep err (taken over) as pw's failure, to be replayed; no pool runs. */
static int keep_failure(struct wheelfetch *f, const struct plan_wheel *pw,
			spoke_ctx *err)
{
	err->cache_dir = NULL; /* borrowed from ctx */
	if (!(f->w = xcalloc(1, sizeof(*f->w)))) {
		spoke_ctx_free(err);
		return -ENOMEM;
	}
	f->w[0].f = f;
	f->w[0].pw = pw;
	f->w[0].sctx = err;
	f->w[0].state = FW_FAILED;
	f->w[0].final = 1;
	f->n = 1;
	return 0;
}

/* The wheels to fetch, each with its private context and request; 0 and
 * f->n == 0 when there is nothing to do (or the setup failed: the install
 * then meets the same failure one wheel at a time). */
static int setup(struct wheelfetch *f, const struct spoke_plan *p)
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
				ret = keep_failure(f, &p->wheels[i], probe);
				probe = NULL;
				return ret;
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

static void *runner(void *arg)
{
	struct wheelfetch *f = arg;

	pool_run(f->pool);
	pthread_mutex_lock(&f->dlock);
	f->running = 0;
	f->end_ns = ctx_now_ns();
	pthread_cond_broadcast(&f->dcond);
	pthread_mutex_unlock(&f->dlock);
	return NULL;
}

int wheelfetch_start(spoke_ctx *ctx, const struct spoke_plan *p)
{
	struct wheelfetch *f;
	size_t big = 0;
	uint64_t total = 0;
	int ret;

	wheelfetch_forget(ctx);
	if (!(f = xcalloc(1, sizeof(*f))))
		return 0; /* the install adds the wheels one by one */
	f->ctx = ctx;
	f->start_ns = f->end_ns = ctx_now_ns();
	pthread_mutex_init(&f->plock, NULL);
	pthread_mutex_init(&f->dlock, NULL);
	pthread_cond_init(&f->dcond, NULL);
	ctx->fetch = f;
	ret = setup(f, p);
	if (ret || f->n == 0 || f->w[0].final) {
		/* Nothing to do (the probes were the lookup), or only a
		 * failure to replay. */
		atomic_fetch_add(&ctx->lookup_ns, ctx_now_ns() - f->start_ns);
		f->finished = 1;
		if (ret || f->n == 0)
			wheelfetch_forget(ctx);
		return 0;
	}
	/* The long wheels first, largest first (by the .whl's size, in 4 KiB
	 * steps), so the longest unpack starts at once; then the others in
	 * plan order, which fill the gaps as well in any order and so are
	 * published in the order the install opens and lays them out while
	 * the unpack runs. Long: a sixteenth of all the .whl bytes or more.
	 * The tasks stay where they are: requests point into them. */
	for (size_t i = 0; i < f->n; i++)
		total += f->w[i].wlen;
	for (size_t i = 0; i < f->n; i++) {
		uint64_t units = f->w[i].wlen >> 12;

		if (f->w[i].wlen >= total / 16 && f->w[i].wlen)
			f->w[i].t.prio = units > INT_MAX - (uint64_t)f->n ?
					 INT_MAX : (int)(units + f->n);
		else
			f->w[i].t.prio = (int)(f->n - i);
		if (f->w[i].wlen > f->w[big].wlen)
			big = i;
	}
	if (pool_create(&f->pool, ctx->jobs)) {
		wheelfetch_forget(ctx);
		return 0;
	}
	progress(f, f->w[big].rq.shown, 1);
	for (size_t i = 0; i < f->n && !ret; i++)
		ret = pool_spawn(f->pool, NULL, &f->w[i].t);
	f->running = 1;
	if (pthread_create(&f->runner, NULL, runner, f) == 0)
		f->has_runner = 1;
	else
		runner(f); /* no thread: the unpack before the install */
	return 0;
}

int wheelfetch_busy(spoke_ctx *ctx)
{
	struct wheelfetch *f = ctx->fetch;
	int busy;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->dlock);
	busy = f->running;
	pthread_mutex_unlock(&f->dlock);
	return busy;
}

static struct fwheel *find(struct wheelfetch *f, const char *whl)
{
	for (size_t i = 0; f && i < f->n; i++)
		if (f->w[i].pw->path == whl || !strcmp(f->w[i].pw->path, whl))
			return &f->w[i];
	return NULL;
}

int wheelfetch_settled(spoke_ctx *ctx, const char *whl, int *published)
{
	struct wheelfetch *f = ctx->fetch;
	struct fwheel *fw = find(f, whl);
	int settled = 1;

	*published = 0;
	if (!fw)
		return 1;
	pthread_mutex_lock(&f->dlock);
	settled = fw->final || !f->running;
	pthread_mutex_unlock(&f->dlock);
	*published = settled && fw->state == FW_OK;
	return settled;
}

void wheelfetch_wait(spoke_ctx *ctx, unsigned long *seen)
{
	struct wheelfetch *f = ctx->fetch;

	if (!f)
		return;
	pthread_mutex_lock(&f->dlock);
	while (f->settled == *seen && f->running)
		pthread_cond_wait(&f->dcond, &f->dlock);
	*seen = f->settled;
	pthread_mutex_unlock(&f->dlock);
}

/* Wait for the pool, once: then every wheel's outcome is settled. */
static void join(struct wheelfetch *f)
{
	if (f->has_runner) {
		pthread_join(f->runner, NULL);
		f->has_runner = 0;
	}
}

/* The -v lines once the pool is done, as before: a host's log and
 * progress callbacks are not called at once by the fetch. */
static void log_wheel(struct wheelfetch *f, struct fwheel *fw)
{
	if (fw->state == FW_OK)
		wheelcache_log(&fw->rq, f->ctx, fw->secs);
}

void wheelfetch_finish(spoke_ctx *ctx)
{
	struct wheelfetch *f = ctx->fetch;

	if (!f || f->finished)
		return;
	f->finished = 1;
	join(f);
	if (f->pool)
		progress(f, NULL, 1);
	for (size_t i = 0; i < f->n; i++)
		log_wheel(f, &f->w[i]);
	atomic_fetch_add(&ctx->lookup_ns, f->end_ns - f->start_ns);
}

int wheelfetch_replay(spoke_ctx *ctx, const char *whl, const char *sha256,
		      char **entry_dir, char key_out[65])
{
	struct wheelfetch *f = ctx->fetch;
	struct fwheel *fw = find(f, whl);

	if (fw) {
		char *dir = NULL;

		if ((fw->pw->sha256 == NULL) != (sha256 == NULL) ||
		    (sha256 && strcmp(fw->pw->sha256, sha256)))
			return 0;
		/* Its entry may still be being written: wait for it alone. */
		pthread_mutex_lock(&f->dlock);
		while (!fw->final && f->running)
			pthread_cond_wait(&f->dcond, &f->dlock);
		pthread_mutex_unlock(&f->dlock);
		if (fw->state == FW_FAILED) {
			ctx_copy_error(ctx, fw->sctx);
			return spoke_ctx_error_code(ctx);
		}
		if (fw->state != FW_OK ||
		    store_entry_path_state(f->s, fw->rq.res.key,
					   fw->rq.res.verified, &dir))
			return 0;
		if (key_out)
			memcpy(key_out, fw->rq.res.key, 65);
		if (entry_dir)
			*entry_dir = dir;
		else
			free(dir);
		return 1;
	}
	return 0;
}

void wheelfetch_forget(spoke_ctx *ctx)
{
	struct wheelfetch *f = ctx->fetch;

	if (!f)
		return;
	/* A run that stopped early: the pool ends its wheels (each cleans
	 * its temporaries) before anything of it is freed. */
	join(f);
	ctx->fetch = NULL;
	fetch_free(f);
}
