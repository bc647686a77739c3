/* SPDX-License-Identifier: MIT */
/*
 * bytecode - see bytecode.h. Per wheel: list the regular .py files its
 * link roots put in purelib or platlib (what pip compiles), from the
 * entry's manifest, find or make bytecode-v1/<entry>.<tag>.opt-<N>/ (its
 * stamp says which sources compiled; bytecode_cache.c decides whether it
 * can be used), then claim the .pyc destinations and their __pycache__
 * directories, add their RECORD rows (path,, as pip writes them) and one
 * link root per root of the wheel (bytecode_layout.c). Cold wheels of a
 * run are compiled together by one pool, so the workers stay busy across
 * wheels.
 */
#include "engine/bytecode_int.h"
#include "engine/envmod.h"
#include "cache/manifest.h"
#include "cache/store_pyc_stamp.h"
#include "base/alloc.h"
#include "base/path.h"
#include "base/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define nomem bc_nomem
#define bc_run bytecode

static int skipped(char *const *skip, const char *name)
{
	for (; skip && *skip; skip++)
		if (!strcmp(*skip, name))
			return 1;
	return 0;
}

static int add_src(struct bc_run *b, struct bc_wheel *bw, const char *rel,
		   const char *dest, long long size)
{
	struct bc_src *v = xrealloc(bw->src, (bw->n + 1) * sizeof(*v));

	if (!v)
		return nomem(b->ctx);
	bw->src = v;
	v += bw->n;
	memset(v, 0, sizeof(*v));
	v->rel = xstrdup(rel);
	v->dest = xstrdup(dest);
	v->status = -1;
	v->mf_size = size;
	bw->n++;
	return v->rel && v->dest ? 0 : nomem(b->ctx);
}

/* The regular .py files of one link root, from the entry's manifest m:
 * the entries [from, to) below the directory at rel (a path of the entry,
 * "" for its root) whose names in that directory are at depth base; the
 * names of skip there are left out with everything below them. */
static int collect_root(struct bc_run *b, struct bc_wheel *bw,
			const struct manifest *m, const struct link_root *r,
			const char *rel)
{
	size_t from = 0, to = m->n, rl = strlen(rel), dl = strlen(r->dst);
	size_t at[MANIFEST_DEPTH_MAX + 1];
	char path[PATH_MAX], dest[PATH_MAX];
	unsigned base = 0;
	int err = 0;

	if (rl) {
		long i = manifest_find(m, rel, rl);

		if (i < 0 || m->ents[i].type != MF_DIR)
			return 0; /* the layout met it; nothing to compile */
		from = (size_t)i + 1;
		to = m->ents[i].end;
		base = m->ents[i].depth + 1u;
	}
	if (rl + 1 >= sizeof(path) || dl + 1 >= sizeof(dest))
		return 0;
	memcpy(path, rel, rl + 1);
	memcpy(dest, r->dst, dl + 1);
	for (size_t d = 0; d <= MANIFEST_DEPTH_MAX; d++)
		at[d] = rl;
	for (size_t i = from; i < to && !err; i++) {
		const struct mf_ent *e = &m->ents[i];
		size_t n = strlen(e->name), pl = at[e->depth];

		if (e->depth < base || e->depth > MANIFEST_DEPTH_MAX - 1)
			continue;
		if ((e->depth == base && skipped(r->skip, e->name)) ||
		    pl + n + 2 >= sizeof(path) ||
		    dl + (pl - rl) + n + 2 >= sizeof(dest)) {
			if (e->type == MF_DIR && e->end > i + 1)
				i = e->end - 1; /* and all below it */
			continue;
		}
		sprintf(path + pl, "%s%s", pl ? "/" : "", e->name);
		at[e->depth + 1] = strlen(path);
		if (e->type == MF_FILE && n > 3 &&
		    !strcmp(e->name + n - 3, ".py")) {
			/* dest: the root's destination, then the path below
			 * the root's directory */
			snprintf(dest + dl, sizeof(dest) - dl, "/%s",
				 path + rl + (rl ? 1 : 0));
			err = add_src(b, bw, path, dest, (long long)e->size);
		}
	}
	return err;
}

static int collect_wheel(struct bc_run *b, struct bc_wheel *bw)
{
	const struct manifest *m = bw->wp->src;
	const char *entry = bw->wp->w.dir;
	size_t el = strlen(entry);
	int err = 0;

	for (size_t k = 0; k < bw->wp->nroots && !err; k++) {
		const struct link_root *r = &bw->wp->roots[k];

		if (!bc_in_lib(b->s, r->dst) || strncmp(r->src, entry, el) ||
		    (r->src[el] && r->src[el] != '/'))
			continue;
		err = collect_root(b, bw, m, r, r->src + el +
				   (r->src[el] ? 1 : 0));
	}
	return err;
}

static void compiled(void *user, const struct pyc_request *req,
		     const struct pyc_result *res)
{
	struct bc_run *b = user;
	struct bc_src *src = req->user;

	src->status = (int)res->status;
	src->mtime = res->mtime;
	src->size = res->size;
	src->pyc_size = res->pyc_size;
	if (res->status == PYC_NOCOMPILE)
		ctx_log(b->ctx, SPOKE_LOG_WARN, "not compiling '%s': %s",
			req->dfile, res->msg);
	else if (res->status == PYC_ERROR)
		ctx_log(b->ctx, SPOKE_LOG_WARN, "cannot compile '%s': %s",
			req->dfile, res->msg);
}

static int start_pool(struct bc_run *b, const char *python)
{
	struct pyc_pool_opts o = { 0 };
	char err[512];
	int ret;

	if (b->pool)
		return 0;
	o.python = python;
	o.workers = b->ctx->jobs ? b->ctx->jobs : pool_default_threads();
	o.done = compiled;
	o.done_user = b;
	o.cancel = &b->ctx->cancel;
	o.test_die_dir = getenv("SPOKE_TEST_PYC_DIE_DIR");
	ret = pyc_pool_create(&b->pool, &o, err, sizeof(err));
	if (ret)
		return ctx_fail(b->ctx, ret, ret < 0 ? -ret : 0, python,
				"cannot compile bytecode: %s", err);
	if (strcmp(pyc_pool_cache_tag(b->pool), b->tag)) {
		/* A damaged pytag-v1 file, or python replaced in place. */
		bytecode_tag_forget(b->ctx, python);
		return ctx_fail(b->ctx, SPOKE_E_USAGE, 0, python, "cannot "
				"compile bytecode: '%s' has cache tag '%s', not "
				"'%s' as recorded (record removed; run again)",
				python, pyc_pool_cache_tag(b->pool), b->tag);
	}
	return 0;
}

/* Queue every source of a cold wheel into a fresh tmp/ directory. */
static int submit_cold(struct bc_run *b, struct bc_wheel *bw,
		       const char *cache, const char *python)
{
	char src[PATH_MAX], out[PATH_MAX];
	const char *key = path_basename(bw->wp->w.dir);
	int err;

	if (asprintf(&bw->stage, "%s/tmp/%.64s.%ld.%08lx%08lx", cache, key,
		     (long)getpid(), (unsigned long)random(),
		     (unsigned long)random()) < 0) {
		bw->stage = NULL;
		return nomem(b->ctx);
	}
	if (mkdir(bw->stage, 0755) < 0) {
		ctx_log(b->ctx, SPOKE_LOG_WARN, "no bytecode for '%s': cannot "
			"create '%s': %s", bw->wp->w.label, bw->stage,
			strerror(errno));
		free(bw->stage);
		bw->stage = NULL;
		return 0;
	}
	err = start_pool(b, python);
	for (size_t i = 0; i < bw->n && !err; i++) {
		struct pyc_request rq = { 0 };
		const char *lib = bc_lib_of(b->s, bw->src[i].dest);

		snprintf(src, sizeof(src), "%s/%s", bw->wp->w.dir,
			 bw->src[i].rel);
		if (bc_pyc_path(b, out, sizeof(out), bw->stage, bw->src[i].rel)) {
			bw->src[i].status = PYC_ERROR;
			continue;
		}
		rq.src = src;
		rq.out = out;
		/* The path below site-packages: the same in every venv, and
		 * the import system puts the real one in co_filename. */
		rq.dfile = bw->src[i].dest + strlen(lib) + 1;
		rq.optimize = b->p->compile_optimize;
		rq.mode = PYC_TIMESTAMP;
		rq.user = &bw->src[i];
		err = pyc_pool_submit(b->pool, &rq);
		b->submitted += !err;
		if (err == SPOKE_E_CANCELED)
			err = ctx_fail(b->ctx, err, 0, NULL, "canceled");
		else if (err)
			err = nomem(b->ctx);
	}
	return err;
}

/* The counts so far into the report (files compiled, from the cache,
 * failed), for the report and for whoever shows progress. */
static void report_bytecode(struct bc_run *b)
{
	b->rep->count[SPOKE_COUNT_PYC_COMPILED] += b->compiled;
	b->rep->count[SPOKE_COUNT_PYC_CACHED] += b->cached;
	b->rep->count[SPOKE_COUNT_PYC_FAILED] += b->failed;
	b->compiled = b->cached = b->failed = 0;
}

/* Count a finished wheel's sources into the run's totals. */
static void tally(struct bc_run *b, const struct bc_wheel *bw)
{
	for (size_t k = 0; k < bw->n; k++) {
		int st = bw->src[k].status;

		if (st == PYC_OK && bw->stage)
			b->compiled++;
		else if (st == PYC_OK && bw->usable)
			b->cached++;
		else if (st == PYC_NOCOMPILE || st == PYC_ERROR)
			b->failed++;
	}
}

static void wheel_free(struct bc_wheel *bw)
{
	for (size_t k = 0; k < bw->n; k++) {
		free(bw->src[k].rel);
		free(bw->src[k].dest);
	}
	free(bw->src);
	free(bw->dir);
	free(bw->stage);
}

void bytecode_free(struct bytecode *b)
{
	if (!b)
		return;
	if (b->pool) {
		/* execute failed before bytecode_finish: stop compiling */
		pyc_pool_cancel(b->pool);
		pyc_pool_wait(b->pool);
		pyc_pool_free(b->pool);
	}
	for (size_t i = 0; i < b->n; i++) {
		if (b->bw[i].stage && !b->bw[i].published)
			bc_drop_dir(b->bw[i].stage);
		wheel_free(&b->bw[i]);
	}
	free(b->bw);
	free(b);
}

/* One wheel of prepare: its directory name, its sources, and either its
 * cached bytecode (added to the layout now) or its compile (queued). */
static int prepare_wheel(struct bc_run *b, struct bc_wheel *bw,
			 const char *path, const char *python,
			 struct strmap *dests)
{
	struct wplan *wp = bw->wp;
	char *entries, msg[PATH_MAX + 256];
	struct stat st;
	size_t first;
	int err = 0, w;

	/* A tree given as a directory is not the cache's: it may change
	 * under us and there is no place to keep its .pyc. */
	if (stat(path, &st) < 0 || S_ISDIR(st.st_mode)) {
		ctx_log(b->ctx, SPOKE_LOG_WARN, "not compiling bytecode for "
			"'%s': only wheels installed from a .whl are "
			"compiled", wp->w.label);
		return 0;
	}
	if (!(entries = xstrdup(wp->w.dir)))
		return nomem(b->ctx);
	path_dirname(entries); /* archive-v2 */
	path_dirname(entries); /* the cache */
	if (asprintf(&bw->dir, "%s/bytecode-v1/%s.%s.opt-%d", entries,
		     path_basename(wp->w.dir), b->tag,
		     b->p->compile_optimize) < 0) {
		bw->dir = NULL;
		err = nomem(b->ctx);
	}
	if (!err && !wp->src && (err = plan_wheel_source(wp, msg,
							    sizeof(msg)))) {
		ctx_log(b->ctx, SPOKE_LOG_WARN, "not compiling bytecode for "
			"'%s': %s", wp->w.label, msg);
		err = err == -ENOMEM ? nomem(b->ctx) : 0;
		free(entries);
		return err;
	}
	if (!err && pyc_stamp_manifest_id(wp->src, bw->mf_id))
		err = nomem(b->ctx);
	if (!err)
		err = collect_wheel(b, bw);
	/* Listed: the manifest is not needed again (plan_layout kept it). */
	manifest_free(wp->src);
	free(wp->src);
	wp->src = NULL;
	if (!err && bw->n) {
		w = bc_load_warm(b, bw);
		if (w < 0) {
			err = w;
		} else if (w) {
			bw->usable = 1;
			err = bc_claim_all(b, bw, dests, 0);
			/* Overwriting wheels link their .pyc in wheel order,
			 * after the compile (bytecode_finish). */
			bw->deferred = b->ordered;
			if (!err && !bw->deferred)
				err = bc_add_to_layout(b, bw, &first);
			tally(b, bw);
		} else {
			err = submit_cold(b, bw, entries, python);
			if (!err && bw->stage)
				err = bc_claim_all(b, bw, dests, 1);
		}
	}
	free(entries);
	return err;
}

int bytecode_prepare(spoke_ctx *ctx, const struct spoke_plan *p,
		     struct scheme *s, struct wplan *wp, size_t n,
		     struct strmap *dests, struct spoke_report *rep,
		     struct bytecode **out)
{
	struct bc_run *b;
	const char *python = NULL;
	int err = 0, any = 0, ordered = 0;

	*out = NULL;
	if (!p->compile_bytecode || p->dry_run)
		return 0;
	for (size_t i = 0; i < n; i++)
		any |= !wp[i].skip;
	if (!any)
		return 0;
	for (size_t i = 0; i < n; i++)
		ordered |= !wp[i].skip && wp[i].barrier;
	if (!(b = xcalloc(1, sizeof(*b))))
		return nomem(ctx);
	*b = (struct bc_run){ .ctx = ctx, .p = p, .s = s, .rep = rep, .n = n,
			      .ordered = ordered };
	*out = b;
	err = scheme_python(ctx, s, "compiling bytecode", &python);
	if (!err)
		err = bytecode_tag(ctx, python, b->tag);
	if (!err && !(b->bw = xcalloc(n, sizeof(*b->bw)))) {
		b->n = 0;
		err = nomem(ctx);
	}
	for (size_t i = 0; i < n && !err; i++) {
		b->bw[i].wp = &wp[i];
		if (!wp[i].skip)
			err = prepare_wheel(b, &b->bw[i], p->wheels[i].path,
					    python, dests);
	}
	report_bytecode(b);
	return err;
}

/* The compile phase's progress while finish waits for the workers: the
 * linker is done by then, so these calls cannot overlap its own. */
static void compile_progress(struct bc_run *b, unsigned long left)
{
	struct spoke_progress pr = { 0 };

	if (!b->ctx->progress_fn)
		return;
	pr.phase = SPOKE_PHASE_COMPILE;
	pr.files_total = b->submitted;
	pr.files_done = b->submitted - (left < b->submitted ? left :
					b->submitted);
	b->ctx->progress_fn(b->ctx->progress_user, &pr);
}

/* Link what finish queued, in one pool run. */
static int link_queued(struct bc_run *b, struct envmod *m)
{
	/* Every destination was announced and what was there moved aside;
	 * one taken now is this run's own (a .pyc the wheel shipped, or an
	 * earlier wheel's under --allow-overwrite). */
	envmod_allow_replace(m);
	envmod_link_totals(m, b->link_files, b->link_bytes);
	b->link_files = b->link_bytes = 0;
	return envmod_link_run(m);
}

int bytecode_finish(struct bytecode *b, struct envmod *m)
{
	unsigned long left;
	int err = 0, queued = 0, syncfd = -1, synced = 0;

	if (!b)
		return 0;
	if (b->pool) {
		/* At most ten reports a second, and one at the end. */
		while ((left = pyc_pool_wait_ms(b->pool, 100)) != 0)
			compile_progress(b, left);
		compile_progress(b, 0);
		pyc_pool_magic(b->pool, b->magic);
		pyc_pool_free(b->pool);
		b->pool = NULL;
		if (ctx_canceled(b->ctx))
			return ctx_fail(b->ctx, SPOKE_E_CANCELED, 0, NULL,
					"canceled");
	}
	/* Stamp every compiled directory, one syncfs for all, then each is
	 * published (renamed) in its turn below. */
	for (size_t i = 0; i < b->n && !err; i++) {
		struct bc_wheel *bw = &b->bw[i];

		for (size_t k = 0; bw->stage && k < bw->n && !err; k++)
			if (bw->src[k].status == PYC_CANCELED)
				err = ctx_fail(b->ctx, SPOKE_E_CANCELED, 0,
					       NULL, "canceled");
		if (!err && bw->stage)
			err = bc_seal(b, bw, &syncfd);
	}
	if (syncfd >= 0) {
		synced = syncfs(syncfd) < 0 ? -errno : 0;
		close(syncfd);
	}
	b->link_files = b->link_bytes = 0;
	for (size_t i = 0; i < b->n && !err; i++) {
		struct bc_wheel *bw = &b->bw[i];
		size_t first;

		if (!bw->stage && !bw->deferred)
			continue;
		/* --allow-overwrite: a later wheel's .pyc win as its .py did */
		if (bw->wp->barrier && queued) {
			err = link_queued(b, m);
			queued = 0;
		}
		if (!err && bw->stage) {
			err = bc_publish(b, bw, synced);
			tally(b, bw);
		}
		if (err || !bw->usable)
			continue;
		err = bc_add_to_layout(b, bw, &first);
		for (size_t k = first; k < bw->wp->nroots && !err; k++)
			err = envmod_link_tree(m, bw->wp->roots[k].src,
					       bw->wp->roots[k].dst,
					       (const char *const *)
					       bw->wp->roots[k].skip,
					       bw->wp->w.label);
		queued |= bw->wp->nroots > first;
	}
	report_bytecode(b);
	if (!err && queued)
		err = link_queued(b, m);
	/* After the links, so the removal never takes a directory they
	 * fill again. */
	for (size_t i = 0; i < b->n && !err; i++)
		if (b->bw[i].stage)
			err = bc_unclaim_dirs(b, &b->bw[i], m);
	return err;
}
