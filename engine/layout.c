/* SPDX-License-Identifier: MIT */
/*
 * layout - plan_layout() (plan.h): the validation walk of one wheel. It
 * goes through the wheel's tree as its manifest lists it (layout_src.c,
 * cache/manifest.h), the root and each .data subtree, checks
 * every file against the wheel's RECORD (listed, same size) and every
 * symlink against its subtree, and decides what the linker materialises:
 * link roots, each with the names it skips (files spoke generates instead,
 * directories that would be empty). Destinations are claimed and checked
 * in layout_dest.c, generated files made in layout_gen.c. Nothing here
 * writes: a failure leaves the environment as it was.
 */
#include "engine/layout.h"
#include "engine/scripts.h"
#include "engine/treelink.h"
#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int layout_nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

const char *layout_label(const struct walker *wk, int i)
{
	return wk->all[i].w.label;
}

const char *layout_srel(const struct walker *wk)
{
	return strlen(wk->wrel) >= wk->sub_off ? wk->wrel + wk->sub_off : "";
}

int layout_exclude(struct walker *wk)
{
	char **v = xrealloc(wk->excl, (wk->nexcl + 1) * sizeof(*v));

	if (!v)
		return layout_nomem(wk->ctx);
	wk->excl = v;
	if (!(v[wk->nexcl] = xstrdup(layout_srel(wk))))
		return layout_nomem(wk->ctx);
	wk->nexcl++;
	return 0;
}

const char *layout_esc(struct walker *wk, int slot, const char *s)
{
	return name_escape(wk->esc[slot], sizeof(wk->esc[slot]), s);
}

/* The tree as the manifest has it, for treelink_inside(): rel is below
 * the subtree being walked. */
static int look(void *user, const char *rel, char *link, size_t linklen)
{
	struct walker *wk = user;
	char full[PATH_MAX];
	const struct mf_ent *e;
	long i;

	if (wk->is_root)
		snprintf(full, sizeof(full), "%s", rel);
	else if ((size_t)snprintf(full, sizeof(full), "%.*s/%s",
				  (int)(wk->sub_off - 1), wk->wrel, rel) >=
		 sizeof(full))
		return TREELINK_NONE;
	i = manifest_find(wk->mf, full, strlen(full));
	if (i < 0)
		return TREELINK_NONE;
	e = &wk->mf->ents[i];
	if (e->type == MF_LINK) {
		snprintf(link, linklen, "%s", e->target);
		return TREELINK_LINK;
	}
	return e->type == MF_DIR ? TREELINK_DIR : TREELINK_OTHER;
}

/* A .data/scripts file is read to see its "#!python" line: from the
 * directory the wheel tree has it in. */
static int fix_script(struct walker *wk, const struct mf_ent *e,
		      const char *dest)
{
	char dir[PATH_MAX];
	struct stat st;
	const char *slash = strrchr(wk->wrel, '/');
	int fd, err;

	memset(&st, 0, sizeof(st));
	st.st_mode = (mode_t)e->mode;
	st.st_size = (off_t)e->size;
	snprintf(dir, sizeof(dir), "%s/%.*s", wk->wp->w.dir,
		 (int)(slash ? slash - wk->wrel : 0), wk->wrel);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ctx_fail(wk->ctx, -errno, errno, wk->wrel, "wheel '%s': "
				"cannot open the directory of '%s': %s",
				wk->wp->w.label, layout_esc(wk, 0, wk->wrel),
				strerror(errno));
	err = layout_fix_script(wk, fd, e->name, dest, &st);
	close(fd);
	return err;
}

/* One file or symlink: 1 installed, 0 not, or an error. */
static int walk_file(struct walker *wk, const struct mf_ent *e, int efd,
		     const char *dest)
{
	const struct record_row *row = NULL;
	long r = record_index_find(&wk->wp->w.idx, wk->wrel,
				   strlen(wk->wrel));
	const char *why;
	int err;

	if (r >= 0) {
		wk->seen[r] = 1;
		row = &wk->wp->w.rec.rows[r];
	}
	if (layout_generated_here(wk))
		return (err = layout_exclude(wk)) ? err : 0;
	if (!row && !layout_is_distinfo_file(wk, "RECORD.jws") &&
	    !layout_is_distinfo_file(wk, "RECORD.p7s"))
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				"wheel '%s': '%s' is not listed in its RECORD",
				wk->wp->w.label, layout_esc(wk, 0, wk->wrel));
	if (e->type == MF_FILE && row && row->size >= 0 && wk->ctx->verify &&
	    row->size != e->size)
		return ctx_fail(wk->ctx, SPOKE_E_HASH, 0, wk->wrel,
				"wheel '%s': '%s' has %lld bytes, RECORD says "
				"%lld", wk->wp->w.label,
				layout_esc(wk, 0, wk->wrel),
				(long long)e->size, (long long)row->size);
	if (e->type == MF_LINK) {
		err = treelink_inside(look, wk, layout_srel(wk), e->target,
				      wk->is_root ? wk->wp->w.data : NULL,
				      &why);
		if (err < 0)
			return ctx_fail(wk->ctx, err, -err, wk->wrel,
					"wheel '%s': cannot follow link '%s': "
					"%s", wk->wp->w.label,
					layout_esc(wk, 0, wk->wrel),
					strerror(-err));
		if (!err)
			return ctx_fail(wk->ctx, SPOKE_E_UNSAFE_PATH, 0,
					wk->wrel, "wheel '%s': symlink '%s' -> "
					"'%s' %s (followed through the "
					"wheel's own links, a link must stay "
					"inside its install directory)",
					wk->wp->w.label,
					layout_esc(wk, 0, wk->wrel),
					layout_esc(wk, 1, e->target), why);
	}
	if (wk->scripts && (scripts_is_ep_wrapper(e->name, wk->wp->w.eps,
						  wk->wp->w.neps) ||
			    scripts_is_ep_wrapper(e->name, wk->launchers,
						  wk->nlaunchers)))
		return (err = layout_exclude(wk)) ? err : 0; /* as pip does */
	if (scheme_protected(wk->s, dest))
		return ctx_fail(wk->ctx, SPOKE_E_PROTECTED, 0, dest,
				"wheel '%s' would replace '%s', which belongs to "
				"the environment", wk->wp->w.label,
				layout_esc(wk, 1, dest));
	if (wk->scripts && e->type == MF_FILE) {
		err = fix_script(wk, e, dest);
		if (err < 0)
			return err;
		if (err > 0)
			return (err = layout_exclude(wk)) ? err : 1;
	}
	err = layout_claim(wk, dest, DEST_FILE);
	if (!err)
		err = layout_env_check(wk, efd, e->name, dest, DEST_FILE, NULL);
	if (!err)
		err = row ? layout_record_row(wk, dest, row->algo,
					      row->digest, row->digest_len,
					      row->size) :
			    layout_record_row(wk, dest, NULL, NULL, 0, -1);
	if (err)
		return err;
	wk->wp->files++;
	if (e->type == MF_FILE)
		wk->wp->bytes += (uint64_t)e->size;
	return 1;
}

static int walk_dir(struct walker *wk, size_t first, size_t end, int efd,
		    int depth, long *installed);

/* Entry i of the manifest; depth: how deep it is in its subtree. */
static int walk_entry(struct walker *wk, size_t i, int efd, int depth,
		      long *installed)
{
	const struct mf_ent *e = &wk->mf->ents[i];
	char dest[PATH_MAX];
	const char *sr = layout_srel(wk);
	int ce, err;
	long sub = 0;

	if ((size_t)snprintf(dest, sizeof(dest), "%s/%s", wk->dst, sr) >=
	    sizeof(dest))
		return ctx_fail(wk->ctx, -ENAMETOOLONG, ENAMETOOLONG, wk->wrel,
				"wheel '%s': '%s' is too long a path once "
				"installed", wk->wp->w.label,
				layout_esc(wk, 0, wk->wrel));
	if (e->type == MF_FILE || e->type == MF_LINK) {
		err = walk_file(wk, e, efd, dest);
		if (err > 0)
			(*installed)++;
		return err < 0 ? err : 0;
	}
	if (e->type != MF_DIR)
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				"wheel '%s': '%s' is not a regular file, "
				"directory or symlink", wk->wp->w.label,
				layout_esc(wk, 0, wk->wrel));
	if (depth >= WALK_DEPTH_MAX)
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				"wheel '%s': '%s' is nested more than %d "
				"levels deep", wk->wp->w.label,
				layout_esc(wk, 0, wk->wrel),
				WALK_DEPTH_MAX);
	err = layout_claim(wk, dest, DEST_DIR);
	if (!err)
		err = layout_env_check(wk, efd, e->name, dest, DEST_DIR, &ce);
	if (err)
		return err;
	/* Below a directory the environment does not have, nothing can
	 * collide: ce is -1 and no name below is looked at there. */
	err = walk_dir(wk, i + 1, e->end, ce, depth + 1, &sub);
	if (ce >= 0)
		close(ce);
	if (err)
		return err;
	/* pip creates directories only for the files it writes: a directory
	 * with nothing to install is not made (nor left to uninstall). */
	if (sub == 0)
		return layout_exclude(wk);
	*installed += sub;
	return 0;
}

/* The names in [first, end) one level below where the walk is (the
 * manifest lists a directory's subtree right after it). */
static int walk_dir(struct walker *wk, size_t first, size_t end, int efd,
		    int depth, long *installed)
{
	const struct mf_ent *ents = wk->mf->ents;
	size_t len = strlen(wk->wrel);
	int err = 0;

	for (size_t i = first; i < end && !err;
	     i = ents[i].type == MF_DIR ? ents[i].end : i + 1) {
		const char *name = ents[i].name;

		if (ctx_canceled(wk->ctx))
			return ctx_fail(wk->ctx, SPOKE_E_CANCELED, 0, NULL,
					"canceled");
		if (len + strlen(name) + 2 >= sizeof(wk->wrel))
			return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
					"wheel '%s': a path below '%s' is too "
					"long", wk->wp->w.label,
					layout_esc(wk, 0, wk->wrel));
		sprintf(wk->wrel + len, "%s%s", len ? "/" : "", name);
		/* pip refuses such names in a .whl; the cache does for its
		 * entries, and a tree gets the same rule. */
		if (name_has_control(name))
			err = ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				       "wheel '%s': '%s' has a control "
				       "character in its name",
				       wk->wp->w.label,
				       layout_esc(wk, 0, wk->wrel));
		/* The .data directory is not installed as such. */
		else if (wk->is_root && depth == 0 && wk->wp->w.data &&
			 !strcmp(name, wk->wp->w.data))
			err = layout_exclude(wk);
		else
			err = walk_entry(wk, i, efd, depth, installed);
		wk->wrel[len] = '\0';
	}
	return err;
}

/* Component-wise order ('/' below every other byte), so the paths below a
 * directory follow the directory itself, contiguously. */
static int cmp_path(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a;
	const unsigned char *y = *(const unsigned char *const *)b;

	for (;; x++, y++) {
		unsigned cx = *x == '/' ? 1 : *x ? *x + 1u : 0;
		unsigned cy = *y == '/' ? 1 : *y ? *y + 1u : 0;

		if (cx != cy || !cx)
			return (int)cx - (int)cy;
	}
}

/* Linker roots for src -> dst minus the excluded paths ex (sorted by
 * cmp_path, relative to src): a directory holding an excluded path is
 * skipped by its parent's root and becomes a root of its own. */
static int add_roots(struct walker *wk, const char *src, const char *dst,
		     char **ex, size_t n)
{
	struct link_root *r;
	char **skip = xcalloc(n + 1, sizeof(*skip));
	size_t nskip = 0, i = 0;
	int err = 0;

	if (!skip)
		return layout_nomem(wk->ctx);
	r = xrealloc(wk->wp->roots, (wk->wp->nroots + 1) * sizeof(*r));
	if (!r) {
		free(skip);
		return layout_nomem(wk->ctx);
	}
	wk->wp->roots = r;
	r += wk->wp->nroots++;
	r->src = xstrdup(src);
	r->dst = xstrdup(dst);
	r->skip = skip;
	if (!r->src || !r->dst)
		return layout_nomem(wk->ctx);
	while (i < n && !err) {
		size_t len = strcspn(ex[i], "/"), j = i;
		int whole = 0;

		while (j < n && !strncmp(ex[j], ex[i], len) &&
		       (ex[j][len] == '/' || ex[j][len] == '\0'))
			whole |= ex[j++][len] == '\0';
		if (!(skip[nskip++] = xstrndup(ex[i], len)))
			return layout_nomem(wk->ctx);
		if (!whole) {
			char *s2 = path_join(src, skip[nskip - 1]);
			char *d2 = path_join(dst, skip[nskip - 1]);

			for (size_t k = i; k < j; k++)
				ex[k] += len + 1;
			err = s2 && d2 ? add_roots(wk, s2, d2, ex + i, j - i) :
					 layout_nomem(wk->ctx);
			for (size_t k = i; k < j; k++)
				ex[k] -= len + 1;
			free(s2);
			free(d2);
		}
		i = j;
	}
	return err;
}

static void free_excl(struct walker *wk)
{
	for (size_t i = 0; i < wk->nexcl; i++)
		free(wk->excl[i]);
	free(wk->excl);
	wk->excl = NULL;
	wk->nexcl = 0;
}

/* Walk the wheel subtree sub ("" for the root; else a directory of the
 * manifest at index at) installed at dst. */
static int walk_subtree(struct walker *wk, const char *sub, long at,
			const char *dst)
{
	char *src = path_join(wk->wp->w.dir, sub);
	struct stat st;
	long installed = 0;
	int efd = -1, err;

	free_excl(wk);
	wk->dst = dst;
	wk->is_root = !*sub;
	wk->scripts = !wk->is_root && !strcmp(path_basename(sub), "scripts");
	wk->sub_off = *sub ? strlen(sub) + 1 : 0;
	snprintf(wk->wrel, sizeof(wk->wrel), "%s", sub);
	if (!src)
		return layout_nomem(wk->ctx);
	err = layout_claim_chain(wk, dst);
	if (err)
		goto out;
	/* The scheme directory itself may be a symlink (lib64 -> lib). */
	if (stat(dst, &st) == 0 && !S_ISDIR(st.st_mode)) {
		err = ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dst, "'%s' is not "
			       "a directory", dst);
		goto out;
	}
	efd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = walk_dir(wk, at < 0 ? 0 : (size_t)at + 1,
		       at < 0 ? wk->mf->n : wk->mf->ents[at].end, efd, 0,
		       &installed);
	if (!err && installed > 0) {
		if (wk->nexcl)
			qsort(wk->excl, wk->nexcl, sizeof(*wk->excl), cmp_path);
		err = add_roots(wk, src, dst, wk->excl, wk->nexcl);
	}
out:
	if (efd >= 0)
		close(efd);
	free(src);
	free_excl(wk);
	return err;
}

/* pip's headers directory is named after the requirement: the wheel's
 * name with '_' shown as '-'. */
static char *headers_dir(const char *base, const char *name)
{
	char *n = xstrdup(name), *out;

	if (!n)
		return NULL;
	for (char *c = n; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.'))
			*c = '-';
	if (!strcmp(n, ".") || !strcmp(n, ".."))
		n[0] = '-';
	out = path_join(base, n);
	free(n);
	return out;
}

static int walk_data(struct walker *wk)
{
	static const char *const keys[SPOKE_SCHEME__MAX] = {
		"purelib", "platlib", "scripts", "headers", "data" };
	const struct wheel *w = &wk->wp->w;
	const struct mf_ent *ents = wk->mf->ents;
	char sub[PATH_MAX], why[PATH_MAX + 64];
	long at = manifest_find(wk->mf, w->data, strlen(w->data));
	int err = 0, k;

	if (at < 0 || ents[at].type != MF_DIR)
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, w->label,
				"wheel '%s': cannot open %s: %s", w->label,
				w->data, strerror(at < 0 ? ENOENT : ENOTDIR));
	for (size_t i = (size_t)at + 1; i < ents[at].end && !err;
	     i = ents[i].type == MF_DIR ? ents[i].end : i + 1) {
		const char *root;
		char *hdr = NULL;

		for (k = 0; k < SPOKE_SCHEME__MAX; k++)
			if (!strcmp(ents[i].name, keys[k]))
				break;
		snprintf(sub, sizeof(sub), "%s/%s", w->data, ents[i].name);
		if (k == SPOKE_SCHEME__MAX || ents[i].type != MF_DIR)
			err = ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, sub,
				       "wheel '%s': unexpected '%s' (a .data "
				       "directory holds only the directories "
				       "purelib, platlib, scripts, headers and "
				       "data)", w->label,
				       layout_esc(wk, 0, sub));
		snprintf(why, sizeof(why), "wheel '%s' (%s)", w->label, sub);
		if (!err)
			err = scheme_dir(wk->ctx, wk->s, k, why, &root);
		if (!err && k == SPOKE_SCHEME_HEADERS &&
		    !(root = hdr = headers_dir(root, w->name)))
			err = layout_nomem(wk->ctx);
		if (!err)
			err = walk_subtree(wk, sub, (long)i, root);
		free(hdr);
	}
	return err;
}

static int check_unseen(struct walker *wk)
{
	const struct record *rec = &wk->wp->w.rec;

	for (size_t i = 0; i < rec->n; i++)
		if (!wk->seen[i])
			return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0,
					rec->rows[i].path, "wheel '%s': RECORD "
					"lists '%s', which is not a file of the "
					"wheel", wk->wp->w.label,
					layout_esc(wk, 0, rec->rows[i].path));
	return 0;
}

static int layout(struct walker *wk)
{
	struct wheel *w = &wk->wp->w;
	const char *pyver = NULL;
	char why[PATH_MAX + 32];
	int err;

	snprintf(why, sizeof(why), "wheel '%s'", w->label);
	err = scheme_dir(wk->ctx, wk->s, w->root_purelib ?
			 SPOKE_SCHEME_PURELIB : SPOKE_SCHEME_PLATLIB, why,
			 &wk->wp->lib);
	if (!err && scripts_needs_pyver(w->eps, w->neps))
		err = scheme_pyver(wk->ctx, wk->s, "the pip and easy_install "
				   "entry points", &pyver);
	if (!err && scripts_expand(w->eps, w->neps, pyver, &wk->launchers,
				   &wk->nlaunchers))
		err = layout_nomem(wk->ctx);
	if (!err)
		err = walk_subtree(wk, "", -1, wk->wp->lib);
	if (!err && w->data)
		err = walk_data(wk);
	if (!err)
		err = check_unseen(wk);
	if (!err)
		err = layout_gen_files(wk);
	return err;
}

int plan_layout(spoke_ctx *ctx, const struct spoke_plan *p, struct scheme *s,
		struct wplan *wp, size_t i, struct strmap *dests,
		const struct strmap *removing)
{
	struct walker *wk;
	char msg[PATH_MAX + 256];
	int err = plan_wheel_source(&wp[i], msg, sizeof(msg));

	if (err)
		return ctx_fail(ctx, err == -ENOMEM ? SPOKE_E_NOMEM : err,
				err < 0 ? -err : 0, wp[i].w.dir, "wheel '%s': %s",
				wp[i].w.label, msg);
	if (!(wk = xcalloc(1, sizeof(*wk))))
		return layout_nomem(ctx);
	wk->mf = wp[i].src;
	wk->ctx = ctx;
	wk->p = p;
	wk->s = s;
	wk->all = wp;
	wk->wp = &wp[i];
	wk->index = (int)i;
	wk->dests = dests;
	wk->removing = removing;
	wk->seen = xcalloc(wp[i].w.rec.n + 1, 1);
	err = wk->seen ? layout(wk) : layout_nomem(ctx);
	scripts_free_eps(wk->launchers, wk->nlaunchers);
	free(wk->seen);
	free(wk);
	/* Laid out: the names are in the map and the roots now, the rows
	 * in wp->out; the wheel's RECORD is not needed again. */
	record_index_free(&wp[i].w.idx);
	record_free(&wp[i].w.rec);
	/* bytecode_prepare() lists the sources to compile from it. */
	if (p->compile_bytecode && !p->dry_run && !err)
		return 0;
	manifest_free(wp[i].src);
	free(wp[i].src);
	wp[i].src = NULL;
	return err;
}
