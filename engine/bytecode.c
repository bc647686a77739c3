/* SPDX-License-Identifier: MIT */
/*
 * bytecode - see bytecode.h. Per wheel: list the regular .py files its
 * link roots put in purelib or platlib (what pip compiles), find or make
 * bytecode-v1/<entry>.<tag>.opt-<N>/ (a manifest, BYTECODE, says which
 * sources compiled; each .pyc's header is checked against its source before
 * use), then claim the .pyc destinations and their __pycache__ directories,
 * add their RECORD rows (path,, as pip writes them) and one link root per
 * root of the wheel. Cold wheels of a run are compiled together by one
 * pool, so the workers stay busy across wheels.
 *
 * Longer than 600 lines: listing, the cache directory (check, compile,
 * publish), the layout additions and the two halves of the run (prepare
 * in validation, finish in the transaction) are one flow per wheel, each
 * step short; the next split would be the cache half (load_warm, publish)
 * beside cache/store_pyc.c.
 */
#include "engine/bytecode.h"
#include "engine/envmod.h"
#include "engine/pycompile.h"
#include "base/alloc.h"
#include "base/pool.h"
#include "base/rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define MANIFEST "BYTECODE"
#define MANIFEST_HEAD "spoke-bytecode-v1\n"

struct bc_src {
	char *rel;   /* path in the entry */
	char *dest;  /* where the .py is installed */
	int status;  /* PYC_*, or -1 not known yet */
};

struct bc_wheel {
	struct wplan *wp;
	struct bc_src *src;
	size_t n;
	char *dir;   /* bytecode-v1/<entry>.<tag>.opt-<N> */
	char *stage; /* tmp/... while compiling */
	int usable;
	int published; /* publish() ran: stage is gone either way */
};

/* struct bytecode of bytecode.h: one install's bytecode, from prepare
 * (validation) to finish (inside the transaction). */
#define bc_run bytecode
struct bc_run {
	spoke_ctx *ctx;
	const struct spoke_plan *p;
	struct scheme *s;
	struct spoke_report *rep;
	char tag[64];
	struct pyc_pool *pool;
	struct bc_wheel *bw;
	size_t n;
	unsigned long compiled, failed, cached; /* not yet reported */
	unsigned long submitted;                /* to the compile pool */
	uint64_t link_files, link_bytes;        /* of the finish pass */
};

static int nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

static int in_lib(const struct scheme *s, const char *dest)
{
	const char *pure = s->path[SPOKE_SCHEME_PURELIB];
	const char *plat = s->path[SPOKE_SCHEME_PLATLIB];

	return (pure && path_under(pure, dest)) ||
	       (plat && path_under(plat, dest));
}

/* The scheme directory dest lies in (in_lib is true). */
static const char *lib_of(const struct scheme *s, const char *dest)
{
	const char *pure = s->path[SPOKE_SCHEME_PURELIB];

	return pure && path_under(pure, dest) ? pure :
	       s->path[SPOKE_SCHEME_PLATLIB];
}

static int skipped(char *const *skip, const char *name)
{
	for (; skip && *skip; skip++)
		if (!strcmp(*skip, name))
			return 1;
	return 0;
}

static int add_src(struct bc_run *b, struct bc_wheel *bw, const char *rel,
		   const char *dest)
{
	struct bc_src *v = xrealloc(bw->src, (bw->n + 1) * sizeof(*v));

	if (!v)
		return nomem(b->ctx);
	bw->src = v;
	v += bw->n;
	v->rel = xstrdup(rel);
	v->dest = xstrdup(dest);
	v->status = -1;
	bw->n++;
	return v->rel && v->dest ? 0 : nomem(b->ctx);
}

/* The regular .py files below dfd (rel in the entry, dest installed). */
static int collect(struct bc_run *b, struct bc_wheel *bw, int dfd,
		   char *rel, char *dest, char *const *skip, int depth)
{
	size_t rl = strlen(rel), dl = strlen(dest);
	DIR *d = depth < 256 ? fdopendir(dfd) : NULL;
	struct dirent *e;
	int err = 0;

	if (!d) {
		close(dfd);
		return 0; /* the layout walked it; nothing to compile here */
	}
	while (!err && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    skipped(skip, e->d_name) ||
		    rl + n + 2 >= PATH_MAX || dl + n + 2 >= PATH_MAX ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		sprintf(rel + rl, "%s%s", rl ? "/" : "", e->d_name);
		sprintf(dest + dl, "/%s", e->d_name);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY |
					 O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				err = collect(b, bw, sub, rel, dest, NULL,
					      depth + 1);
		} else if (S_ISREG(st.st_mode) && n > 3 &&
			   !strcmp(e->d_name + n - 3, ".py")) {
			err = add_src(b, bw, rel, dest);
		}
		rel[rl] = '\0';
		dest[dl] = '\0';
	}
	closedir(d);
	return err;
}

static int collect_wheel(struct bc_run *b, struct bc_wheel *bw)
{
	const char *entry = bw->wp->w.dir;
	size_t el = strlen(entry);
	int err = 0;

	for (size_t k = 0; k < bw->wp->nroots && !err; k++) {
		const struct link_root *r = &bw->wp->roots[k];
		char rel[PATH_MAX], dest[PATH_MAX];
		int fd;

		if (!in_lib(b->s, r->dst) || strncmp(r->src, entry, el) ||
		    (r->src[el] && r->src[el] != '/'))
			continue;
		snprintf(rel, sizeof(rel), "%s", r->src + el +
			 (r->src[el] ? 1 : 0));
		snprintf(dest, sizeof(dest), "%s", r->dst);
		fd = open(r->src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			  O_CLOEXEC);
		if (fd >= 0)
			err = collect(b, bw, fd, rel, dest, r->skip, 0);
	}
	return err;
}

/* "<reldir>/__pycache__/<stem>.<tag>[.opt-N].pyc" below base. */
static int pyc_path(const struct bc_run *b, char *buf, size_t len,
		    const char *base, const char *rel)
{
	const char *slash = strrchr(rel, '/'), *name = slash ? slash + 1 : rel;
	int dirlen = slash ? (int)(slash - rel) : 0;
	char pyc[NAME_MAX + 1];
	int n = pyc_cache_name(pyc, sizeof(pyc), name, b->tag,
			       b->p->compile_optimize);

	if (n < 0 || (size_t)n >= sizeof(pyc))
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s%s%.*s%s__pycache__/%s", base ? base : "",
		     base ? "/" : "", dirlen, rel, dirlen ? "/" : "", pyc);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The header of a cached .pyc matches its entry source: flags 0
 * (timestamp), the source's mtime and size (mod 2^32, as Python keeps). */
static int header_ok(const struct bc_run *b, const struct bc_wheel *bw,
		     const char *rel)
{
	char src[PATH_MAX], pyc[PATH_MAX];
	unsigned char h[16];
	struct stat st;
	int fd, ok;

	if ((size_t)snprintf(src, sizeof(src), "%s/%s", bw->wp->w.dir, rel) >=
	    sizeof(src) || pyc_path(b, pyc, sizeof(pyc), bw->dir, rel) ||
	    lstat(src, &st) < 0)
		return 0;
	fd = open(pyc, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ok = pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	     le32(h + 4) == 0 && le32(h + 8) == (uint32_t)st.st_mtime &&
	     le32(h + 12) == (uint32_t)st.st_size;
	close(fd);
	return ok;
}

static void drop_dir(const char *path)
{
	struct rmtree o = { 0 };

	rmtree_at(&o, AT_FDCWD, path);
}

/* Use a published bytecode directory: 1 usable, 0 absent or stale (then
 * removed, to be compiled again), or an error. */
static int load_warm(struct bc_run *b, struct bc_wheel *bw)
{
	struct strmap seen = { 0 };
	char path[PATH_MAX], *buf = NULL, *line, *save = NULL;
	struct stat st;
	int fd, ok = 1;

	snprintf(path, sizeof(path), "%s/" MANIFEST, bw->dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || st.st_size > (64 << 20) ||
	    !(buf = xmalloc((size_t)st.st_size + 1)) ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		close(fd);
		free(buf);
		return buf || st.st_size > (64 << 20) ? 0 : nomem(b->ctx);
	}
	close(fd);
	buf[st.st_size] = '\0';
	ok = !strncmp(buf, MANIFEST_HEAD, strlen(MANIFEST_HEAD));
	for (line = strtok_r(buf + (ok ? strlen(MANIFEST_HEAD) : 0), "\n",
			     &save);
	     ok && line; line = strtok_r(NULL, "\n", &save)) {
		struct strmap_ent *e;
		int kind = !strncmp(line, "ok ", 3) ? 1 :
			   !strncmp(line, "nocompile ", 10) ? 2 : 0;

		if (!kind || strmap_put(&seen, line + (kind == 1 ? 3 : 10),
					&e) < 0)
			ok = 0;
		else
			e->kind = kind;
	}
	for (size_t i = 0; i < bw->n && ok; i++) {
		const struct strmap_ent *e = strmap_get(&seen, bw->src[i].rel);

		ok = e && (e->kind == 2 || header_ok(b, bw, bw->src[i].rel));
		if (ok)
			bw->src[i].status = e->kind == 1 ? PYC_OK :
					    PYC_NOCOMPILE;
	}
	strmap_free(&seen);
	free(buf);
	if (!ok) {
		ctx_log(b->ctx, SPOKE_LOG_WARN, "bytecode in the cache for "
			"'%s' is stale or damaged; compiling it again",
			bw->wp->w.label);
		drop_dir(bw->dir);
	}
	return ok;
}

static void compiled(void *user, const struct pyc_request *req,
		     const struct pyc_result *res)
{
	struct bc_run *b = user;
	struct bc_src *src = req->user;

	src->status = (int)res->status;
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
		const char *lib = lib_of(b->s, bw->src[i].dest);

		snprintf(src, sizeof(src), "%s/%s", bw->wp->w.dir,
			 bw->src[i].rel);
		if (pyc_path(b, out, sizeof(out), bw->stage, bw->src[i].rel)) {
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

/* Write the manifest, sync, and publish the staging directory with one
 * rename; another process publishing first is success (theirs is used). */
static int publish(struct bc_run *b, struct bc_wheel *bw)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = strlen(MANIFEST_HEAD), cap = len + 1;
	int fd, err = 0, sync_ok, lost = 0, why = 0;

	for (size_t i = 0; i < bw->n; i++)
		cap += strlen(bw->src[i].rel) + 12;
	if (!(text = xmalloc(cap)))
		return nomem(b->ctx);
	memcpy(text, MANIFEST_HEAD, len);
	for (size_t i = 0; i < bw->n; i++) {
		if (bw->src[i].status == PYC_ERROR)
			err = 1;
		len += (size_t)sprintf(text + len, "%s %s\n",
				       bw->src[i].status == PYC_OK ? "ok" :
				       "nocompile", bw->src[i].rel);
	}
	snprintf(path, sizeof(path), "%s/" MANIFEST, bw->stage);
	fd = err ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			     0644);
	sync_ok = fd >= 0 && write(fd, text, len) == (ssize_t)len &&
		  syncfs(fd) == 0;
	if (fd >= 0)
		close(fd);
	free(text);
	snprintf(path, sizeof(path), "%s", bw->dir);
	path_dirname(path);
	if (!sync_ok)
		why = errno;
	else if (mkdir(path, 0755) < 0 && errno != EEXIST)
		why = errno;
	else if (renameat2(AT_FDCWD, bw->stage, AT_FDCWD, bw->dir,
			   RENAME_NOREPLACE) < 0) {
		lost = errno == EEXIST || errno == ENOTEMPTY;
		why = lost ? 0 : errno;
	}
	if (err || why) {
		ctx_log(b->ctx, SPOKE_LOG_WARN, "no bytecode for '%s': %s",
			bw->wp->w.label, err ? "a file could not be compiled" :
			strerror(why));
		drop_dir(bw->stage);
		return 0;
	}
	if (!lost) {
		bw->usable = 1;
		return 0;
	}
	drop_dir(bw->stage); /* another process published first */
	err = load_warm(b, bw);
	bw->usable = err == 1;
	return err < 0 ? err : 0;
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct record_row *)a)->path,
		      ((const struct record_row *)b)->path);
}

static int claim(struct bc_run *b, struct strmap *dests, const char *path,
		 int kind)
{
	struct strmap_ent *e;
	int r = strmap_put(dests, path, &e);

	if (r < 0)
		return nomem(b->ctx);
	if (r == 1) {
		e->kind = kind;
		e->owner = -1;
	}
	return e->kind == kind ? 0 : 1;
}

/* Claim the .pyc destinations of bw's sources and their __pycache__
 * directories in the run's map, so the journal names them before the first
 * change (and an old .pyc there is moved aside): every source of a cold
 * wheel (its compile is not over yet; a destination that stays unused
 * costs nothing), the cached .pyc of a warm one. */
static int claim_all(struct bc_run *b, struct bc_wheel *bw,
		     struct strmap *dests, int cold)
{
	char pyc[PATH_MAX], cached[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < bw->n && !err; i++) {
		struct stat st;
		char *dir;

		if (!cold && (bw->src[i].status != PYC_OK ||
			      pyc_path(b, cached, sizeof(cached), bw->dir,
				       bw->src[i].rel) ||
			      lstat(cached, &st) < 0))
			continue;
		if (pyc_path(b, pyc, sizeof(pyc), NULL, bw->src[i].dest))
			continue;
		if (!(dir = xstrdup(pyc)))
			return nomem(b->ctx);
		path_dirname(dir);
		err = claim(b, dests, dir, DEST_DIR);
		if (!err)
			err = claim(b, dests, pyc, DEST_FILE);
		if (err > 0)
			err = ctx_fail(b->ctx, SPOKE_E_CONFLICT, 0, pyc,
				       "'%s' is both a file and a directory "
				       "of this install", pyc);
		free(dir);
	}
	return err;
}

/* The RECORD rows (path,, as pip writes them) and the link roots of a
 * usable wheel's cached .pyc: one root per root of the wheel, the same
 * subpath below bw->dir, skipping what the root skips plus the manifest.
 * The roots are appended to wp->roots from index *first on. */
static int add_to_layout(struct bc_run *b, struct bc_wheel *bw,
			 size_t *first)
{
	struct wplan *wp = bw->wp;
	size_t el = strlen(wp->w.dir), nroots = wp->nroots;
	char pyc[PATH_MAX], cached[PATH_MAX];
	int err = 0;

	*first = nroots;
	for (size_t i = 0; i < bw->n && !err; i++) {
		struct stat st;
		char *rel;

		if (bw->src[i].status != PYC_OK) {
			if (!bw->stage)
				ctx_log(b->ctx, SPOKE_LOG_WARN, "not compiling "
					"'%s' of '%s': it did not compile when "
					"its bytecode was cached",
					bw->src[i].rel, wp->w.label);
			continue;
		}
		if (pyc_path(b, cached, sizeof(cached), bw->dir,
			     bw->src[i].rel) || lstat(cached, &st) < 0 ||
		    pyc_path(b, pyc, sizeof(pyc), NULL, bw->src[i].dest))
			continue;
		if (!(rel = path_relative(wp->lib, pyc)))
			return nomem(b->ctx);
		if (record_add(&wp->out, rel, NULL, NULL, 0, -1))
			err = nomem(b->ctx);
		free(rel);
		wp->files++;
		wp->bytes += (uint64_t)st.st_size;
		b->link_files++;
		b->link_bytes += (uint64_t)st.st_size;
	}
	for (size_t k = 0; k < nroots && !err; k++) {
		const struct link_root *r = &wp->roots[k];
		struct link_root *grown;
		char *src = NULL, **skip;
		size_t ns = 0;
		struct stat st;

		if (!in_lib(b->s, r->dst) || strncmp(r->src, wp->w.dir, el) ||
		    (r->src[el] && r->src[el] != '/'))
			continue;
		if (asprintf(&src, "%s%s", bw->dir, r->src + el) < 0)
			return nomem(b->ctx);
		if (lstat(src, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(src);
			continue;
		}
		while (r->skip && r->skip[ns])
			ns++;
		skip = xcalloc(ns + 2, sizeof(*skip));
		grown = skip ? xrealloc(wp->roots, (wp->nroots + 1) *
					sizeof(*grown)) : NULL;
		if (!grown) {
			free(skip);
			free(src);
			return nomem(b->ctx);
		}
		wp->roots = grown;
		r = &wp->roots[k];
		grown += wp->nroots++;
		grown->src = src;
		grown->dst = xstrdup(r->dst);
		grown->skip = skip;
		for (size_t j = 0; j < ns && !err; j++)
			if (!(skip[j] = xstrdup(r->skip[j])))
				err = nomem(b->ctx);
		if (!err && !(skip[ns] = xstrdup(MANIFEST)))
			err = nomem(b->ctx);
		if (!err && !grown->dst)
			err = nomem(b->ctx);
	}
	qsort(wp->out.rows, wp->out.n, sizeof(*wp->out.rows), cmp_row);
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
			drop_dir(b->bw[i].stage);
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
	struct stat st;
	char *entries;
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
	if (!err)
		err = collect_wheel(b, bw);
	if (!err && bw->n) {
		w = load_warm(b, bw);
		if (w < 0) {
			err = w;
		} else if (w) {
			bw->usable = 1;
			err = claim_all(b, bw, dests, 0);
			if (!err)
				err = add_to_layout(b, bw, &first);
			tally(b, bw);
		} else {
			err = submit_cold(b, bw, entries, python);
			if (!err && bw->stage)
				err = claim_all(b, bw, dests, 1);
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
	int err = 0, any = 0;

	*out = NULL;
	if (!p->compile_bytecode || p->dry_run)
		return 0;
	for (size_t i = 0; i < n; i++)
		any |= !wp[i].skip;
	if (!any)
		return 0;
	if (!(b = xcalloc(1, sizeof(*b))))
		return nomem(ctx);
	*b = (struct bc_run){ .ctx = ctx, .p = p, .s = s, .rep = rep, .n = n };
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

int bytecode_finish(struct bytecode *b, struct envmod *m)
{
	unsigned long left;
	int err = 0, any = 0;

	if (!b || !b->pool)
		return 0;
	/* At most ten reports a second, and one at the end. */
	while ((left = pyc_pool_wait_ms(b->pool, 100)) != 0)
		compile_progress(b, left);
	compile_progress(b, 0);
	pyc_pool_free(b->pool);
	b->pool = NULL;
	if (ctx_canceled(b->ctx))
		return ctx_fail(b->ctx, SPOKE_E_CANCELED, 0, NULL, "canceled");
	b->link_files = b->link_bytes = 0;
	for (size_t i = 0; i < b->n && !err; i++) {
		struct bc_wheel *bw = &b->bw[i];
		size_t first;

		if (!bw->stage)
			continue;
		for (size_t k = 0; k < bw->n && !err; k++)
			if (bw->src[k].status == PYC_CANCELED)
				err = ctx_fail(b->ctx, SPOKE_E_CANCELED, 0,
					       NULL, "canceled");
		if (!err)
			err = publish(b, bw);
		bw->published = 1;
		tally(b, bw);
		if (err || !bw->usable)
			continue;
		err = add_to_layout(b, bw, &first);
		for (size_t k = first; k < bw->wp->nroots && !err; k++)
			err = envmod_link_tree(m, bw->wp->roots[k].src,
					       bw->wp->roots[k].dst,
					       (const char *const *)
					       bw->wp->roots[k].skip,
					       bw->wp->w.label);
		any |= bw->wp->nroots > first;
	}
	report_bytecode(b);
	if (err || !any)
		return err;
	/* Every destination was announced and what was there moved aside;
	 * one taken now is this run's own (a .pyc the wheel shipped). */
	envmod_allow_replace(m);
	envmod_link_totals(m, b->link_files, b->link_bytes);
	return envmod_link_run(m);
}

