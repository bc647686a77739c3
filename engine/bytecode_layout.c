/* SPDX-License-Identifier: MIT */
/*
 * bytecode_layout - the .pyc in an install's layout (bytecode.c's third
 * part): their destinations and __pycache__ directories claimed in the
 * run's map (so the journal names them before the first change), their
 * RECORD rows, the link roots into the cache's bytecode directory, and the
 * removal of claimed __pycache__ directories that got no .pyc.
 */
#include "engine/bytecode_int.h"
#include "engine/envmod.h"
#include "base/alloc.h"
#include "base/path.h"
#include "cache/store_pyc_stamp.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define nomem bc_nomem
#define bc_run bytecode

int bc_in_lib(const struct scheme *s, const char *dest)
{
	const char *pure = s->path[SPOKE_SCHEME_PURELIB];
	const char *plat = s->path[SPOKE_SCHEME_PLATLIB];

	return (pure && path_under(pure, dest)) ||
	       (plat && path_under(plat, dest));
}

/* The scheme directory dest lies in (in_lib is true). */
const char *bc_lib_of(const struct scheme *s, const char *dest)
{
	const char *pure = s->path[SPOKE_SCHEME_PURELIB];

	return pure && path_under(pure, dest) ? pure :
	       s->path[SPOKE_SCHEME_PLATLIB];
}

/* "<reldir>/__pycache__/<stem>.<tag>[.opt-N].pyc" below base. */
int bc_pyc_path(const struct bc_run *b, char *buf, size_t len,
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
int bc_claim_all(struct bc_run *b, struct bc_wheel *bw,
		     struct strmap *dests, int cold)
{
	char pyc[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < bw->n && !err; i++) {
		char *dir;

		if (!cold && bw->src[i].status != PYC_OK)
			continue;
		if (bc_pyc_path(b, pyc, sizeof(pyc), NULL, bw->src[i].dest))
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
int bc_add_to_layout(struct bc_run *b, struct bc_wheel *bw,
			 size_t *first)
{
	struct wplan *wp = bw->wp;
	size_t el = strlen(wp->w.dir), nroots = wp->nroots;
	char pyc[PATH_MAX];
	int err = 0;

	*first = nroots;
	for (size_t i = 0; i < bw->n && !err; i++) {
		uint64_t size = (uint64_t)bw->src[i].pyc_size;
		char *rel;

		if (bw->src[i].status != PYC_OK) {
			if (!bw->stage)
				ctx_log(b->ctx, SPOKE_LOG_WARN, "not compiling "
					"'%s' of '%s': it did not compile when "
					"its bytecode was cached",
					bw->src[i].rel, wp->w.label);
			continue;
		}
		if (bc_pyc_path(b, pyc, sizeof(pyc), NULL, bw->src[i].dest))
			continue;
		if (!(rel = path_relative(wp->lib, pyc)))
			return nomem(b->ctx);
		if (record_add(&wp->out, rel, NULL, NULL, 0, -1))
			err = nomem(b->ctx);
		free(rel);
		wp->files++;
		wp->bytes += size;
		b->link_files++;
		b->link_bytes += size;
	}
	for (size_t k = 0; k < nroots && !err; k++) {
		const struct link_root *r = &wp->roots[k];
		struct link_root *grown;
		char *src = NULL, **skip;
		size_t ns = 0;
		struct stat st;

		if (!bc_in_lib(b->s, r->dst) || strncmp(r->src, wp->w.dir, el) ||
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
		if (!err && !(skip[ns] = xstrdup(PYC_STAMP_FILE)))
			err = nomem(b->ctx);
		if (!err && !grown->dst)
			err = nomem(b->ctx);
	}
	qsort(wp->out.rows, wp->out.n, sizeof(*wp->out.rows), cmp_row);
	return err;
}

/* The __pycache__ directories claimed for cold wheel bw's sources that
 * got no .pyc: one that was there (an upgrade moved its old .pyc aside)
 * would otherwise stay behind empty; the removal takes it only if it is
 * empty when the run commits. */
int bc_unclaim_dirs(struct bc_run *b, const struct bc_wheel *bw,
			struct envmod *m)
{
	char pyc[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < bw->n && !err; i++) {
		const char *lib = bc_lib_of(b->s, bw->src[i].dest);

		if ((bw->usable && bw->src[i].status == PYC_OK) ||
		    bc_pyc_path(b, pyc, sizeof(pyc), NULL, bw->src[i].dest))
			continue;
		path_dirname(pyc);
		err = envmod_rmdir_unused(m, lib, pyc + strlen(lib) + 1);
	}
	return err;
}
