/* SPDX-License-Identifier: MIT */
/*
 * install - the install and uninstall runs behind spoke_install() and
 * spoke_uninstall() (engine/api_install.c). A run has two halves.
 * The first only reads: resolve the scheme, open every wheel, find the
 * installed versions it replaces, check every RECORD path they would remove,
 * and lay out every wheel (plan.c), which validates trees, RECORDs and
 * destinations. Any failure there leaves the environment untouched. The
 * second half changes the environment, only through envmod: remove what the
 * old versions have and the new ones do not, prune the directories that
 * leaves empty, link all wheels in one pool run, write the generated files,
 * and write each RECORD last, so a RECORD is present only for a complete
 * install.
 *
 * The prepare phase (opening the wheels, also while the cold ones unpack,
 * and laying them out ahead) is install_open.c; both share struct run
 * (install_int.h).
 *
 * About 800 lines: install and uninstall share the removal half (RECORD
 * checks, removals, bytecode, pruning), which is most of the file, and
 * an install plan may carry removals too; the per-wheel report entries
 * are built here because only the run knows every wheel's outcome.
 */
#include "engine/install.h"
#include "engine/install_int.h"
#include "engine/bytecode.h"
#include "engine/envmod.h"
#include "engine/compat.h"
#include "engine/pep440.h"
#include "engine/plan.h"
#include "engine/report.h"
#include "engine/scripts.h"
#include "engine/wheelcache.h"
#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

static void run_free(struct run *r)
{
	spoke_ctx_free(r->ahead);
	free(r->pre);
	bytecode_free(r->bc);
	for (size_t i = 0; i < r->n; i++)
		wplan_free(&r->wp[i]);
	free(r->wp);
	installed_free_all(r->rm, r->nrm);
	strmap_free(&r->dests);
	strmap_free(&r->removing);
	strmap_free(&r->prune);
	strmap_free(&r->pydirs);
	scheme_free(&r->s);
}

static int run_begin(struct run *r, spoke_ctx *ctx, const struct spoke_plan *p)
{
	struct scheme_opts o;

	memset(r, 0, sizeof(*r));
	r->cur = -1;
	r->ctx = ctx;
	r->p = p;
	plan_scheme_opts(p, &o);
	return scheme_resolve(ctx, &o, &r->s);
}

/* Installed distributions named norm, in purelib then platlib. */
static int find_installed(struct run *r, const char *norm,
			  struct installed **out, size_t *n)
{
	const char *pure = r->s.path[SPOKE_SCHEME_PURELIB];
	const char *plat = r->s.path[SPOKE_SCHEME_PLATLIB];
	int err = 0;

	*out = NULL;
	*n = 0;
	if (pure)
		err = installed_find(r->ctx, pure, norm, out, n);
	if (!err && plat && (!pure || strcmp(pure, plat) != 0))
		err = installed_find(r->ctx, plat, norm, out, n);
	return err;
}

/* The installed dist-infos of the distributions named, each once however
 * often it is named; SPOKE_E_NOT_INSTALLED for a name with none. */
static int collect_installed(struct run *r, char *const *names, size_t n,
			     struct installed **out, size_t *nout)
{
	struct installed *d = NULL;
	size_t nd = 0;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		char *norm = name_normalize(names[i]);
		struct installed *found = NULL, *grown;
		size_t nf = 0;

		if (!norm) {
			ret = nomem(r->ctx);
			break;
		}
		ret = find_installed(r, norm, &found, &nf);
		for (size_t k = 0; k < nf && !ret; k++) {
			int dup = 0;

			for (size_t j = 0; j < nd; j++)
				dup |= !strcmp(d[j].site, found[k].site) &&
				       !strcmp(d[j].distinfo, found[k].distinfo);
			if (dup)
				continue;
			grown = xrealloc(d, (nd + 1) * sizeof(*d));
			if (!grown) {
				ret = nomem(r->ctx);
				break;
			}
			d = grown;
			d[nd++] = found[k];
			memset(&found[k], 0, sizeof(found[k]));
		}
		if (!ret && nf == 0)
			ret = ctx_fail(r->ctx, SPOKE_E_NOT_INSTALLED, 0,
				       names[i], "'%s' is not installed "
				       "in '%s'", names[i],
				       r->s.path[SPOKE_SCHEME_PURELIB] ?
				       r->s.path[SPOKE_SCHEME_PURELIB] :
				       r->s.path[SPOKE_SCHEME_PLATLIB] ?
				       r->s.path[SPOKE_SCHEME_PLATLIB] : "?");
		installed_free_all(found, nf);
		free(norm);
	}
	*out = d;
	*nout = nd;
	return ret;
}

/* Report entries for removed dist-infos (index -1). */
static void report_removals(struct run *r, const struct installed *d,
			    size_t n, int failed, const char *done,
			    const char *dry)
{
	for (size_t i = 0; i < n; i++) {
		char *di = path_join(d[i].site, d[i].distinfo);

		if (!report_add_dist(r->rep, d[i].name, d[i].version,
				     failed ? "failed" : r->p->dry_run ? dry :
				     done))
			report_dist_detail(r->rep, -1, NULL, di, d[i].version,
					   failed || r->p->dry_run ?
					   SPOKE_ACTION_NONE :
					   SPOKE_ACTION_REMOVED,
					   SPOKE_ACTION_REMOVED, 0);
		free(di);
	}
}

/* Load d's RECORD and check every path before anything is removed: each
 * must resolve inside the environment and spare its interpreter. A path
 * with a name reserved for spoke's own files (scheme_reserved) is never
 * removed: a RECORD that lists one (a hostile wheel installed by another
 * tool) must not reach the journal, the lock or the backups. */
static int check_removal(struct run *r, struct installed *d)
{
	int err = installed_load_record(r->ctx, d);

	for (size_t i = 0; i < d->rec.n && !err; i++) {
		char *abs = path_join(d->site, d->rec.rows[i].path);
		struct strmap_ent *e;

		if (!abs)
			return nomem(r->ctx);
		if (!scheme_root_of(&r->s, abs))
			err = ctx_fail(r->ctx, SPOKE_E_UNSAFE_PATH, 0, abs,
				       "refusing to uninstall %s %s: its RECORD "
				       "lists '%s', which is outside the "
				       "environment (nothing was removed)",
				       d->name, d->version, d->rec.rows[i].path);
		else if (scheme_protected(&r->s, abs))
			err = ctx_fail(r->ctx, SPOKE_E_PROTECTED, 0, abs,
				       "refusing to uninstall %s %s: its RECORD "
				       "lists '%s', which belongs to the "
				       "environment (nothing was removed)",
				       d->name, d->version, abs);
		else if (scheme_reserved(&r->s, abs))
			ctx_log(r->ctx, SPOKE_LOG_WARN, "not removing '%s' "
				"listed by the RECORD of %s %s: names beginning "
				"with '.spoke' are spoke's own", abs, d->name,
				d->version);
		else if (strmap_put(&r->removing, abs, &e) < 0)
			err = nomem(r->ctx);
		free(abs);
	}
	return err;
}

static int add_prune(struct run *r, const char *dir)
{
	struct strmap_ent *e;

	return strmap_put(&r->prune, dir, &e) < 0 ? nomem(r->ctx) : 0;
}

static int remove_abs(struct run *r, struct envmod *m, const char *abs)
{
	const char *root = scheme_root_of(&r->s, abs);
	char *dir;
	int err;

	if (!root || !strcmp(root, abs))
		return 0; /* checked before; a root itself is never a file */
	err = envmod_remove(m, root, abs + strlen(root) + 1);
	if (err)
		return err;
	if (!(dir = xstrdup(abs)))
		return nomem(r->ctx);
	path_dirname(dir);
	err = add_prune(r, dir);
	free(dir);
	return err;
}

/* Remember the directory of an old x.py, replaced or removed: its
 * bytecode goes either way. A replacing link may carry the same mtime and
 * size as the old source (a cache entry's mtime), and CPython would then
 * trust the old .pyc. */
static int note_py(struct run *r, const char *abs)
{
	struct strmap_ent *e;
	size_t n = strlen(abs);
	char *dir;
	int err = 0;

	if (n <= 3 || strcmp(abs + n - 3, ".py") != 0)
		return 0;
	if (!(dir = xstrdup(abs)))
		return nomem(r->ctx);
	path_dirname(dir);
	if (strmap_put(&r->pydirs, dir, &e) < 0)
		err = nomem(r->ctx);
	free(dir);
	return err;
}

static int is_kept(const struct run *r, const char *abs)
{
	const struct strmap_ent *e = strmap_get(&r->dests, abs);

	return e && (e->kind & DEST_FILE);
}

/* Remove an installed version: its RECORD files that this run does not
 * install again (those are replaced in place), and whatever else sits
 * directly in its dist-info directory. */
static int remove_dist(struct run *r, struct envmod *m, struct installed *d)
{
	char *di = path_join(d->site, d->distinfo);
	int err = di ? 0 : nomem(r->ctx), fd;
	struct dirent *e;
	DIR *dir;

	for (size_t i = 0; i < d->rec.n && !err; i++) {
		char *abs = path_join(d->site, d->rec.rows[i].path);

		if (!abs)
			err = nomem(r->ctx);
		else
			err = note_py(r, abs);
		if (!err && !is_kept(r, abs))
			err = remove_abs(r, m, abs);
		free(abs);
	}
	if (err)
		goto out;
	fd = path_open_below(d->site, d->distinfo);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (fd >= 0 && !dir)
		close(fd);
	while (dir && !err && (e = readdir(dir))) {
		struct stat st;
		char *abs;

		if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    S_ISDIR(st.st_mode))
			continue;
		abs = path_join(di, e->d_name);
		if (!abs)
			err = nomem(r->ctx);
		else if (!is_kept(r, abs))
			err = remove_abs(r, m, abs);
		free(abs);
	}
	if (dir)
		closedir(dir);
	if (!err)
		err = add_prune(r, di);
out:
	free(di);
	return err;
}

/* The __pycache__ entries of old .py files: x.<tag>[.opt-N].pyc goes
 * with the old x.py (whatever interpreter compiled it). */
static int remove_pycache(struct run *r, struct envmod *m)
{
	int err = 0;

	for (size_t i = 0; i < r->pydirs.cap && !err; i++) {
		const char *dir = r->pydirs.slots[i].key, *root;
		char *cache, src[PATH_MAX], abs[PATH_MAX];
		struct dirent *e;
		DIR *d;
		int fd;

		if (!dir || !(root = scheme_root_of(&r->s, dir)))
			continue;
		if (!(cache = path_join(dir, "__pycache__")))
			return nomem(r->ctx);
		fd = path_open_below(root, cache + strlen(root) + 1);
		d = fd >= 0 ? fdopendir(fd) : NULL;
		if (fd >= 0 && !d)
			close(fd);
		while (d && !err && (e = readdir(d))) {
			size_t stem = pyc_source_stem(e->d_name);

			if (!stem)
				continue;
			snprintf(src, sizeof(src), "%s/%.*s.py", dir, (int)stem,
				 e->d_name);
			snprintf(abs, sizeof(abs), "%s/%s", cache, e->d_name);
			/* A .pyc this run links is replaced by the linker. */
			if (strmap_get(&r->removing, src) && !is_kept(r, abs))
				err = envmod_remove(m, root, abs +
						    strlen(root) + 1);
		}
		if (d)
			closedir(d);
		if (!err)
			err = add_prune(r, cache);
		free(cache);
	}
	return err;
}

static int cmp_depth(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t dx = 0, dy = 0;

	for (; *x; x++)
		dx += *x == '/';
	for (; *y; y++)
		dy += *y == '/';
	return dx != dy ? (dx < dy ? 1 : -1) : strcmp(*(const char *const *)a,
						      *(const char *const *)b);
}

/* Remove the directories the removals left empty, deepest first, up to
 * (never including) a scheme root or any directory above one. */
static int prune_dirs(struct run *r, struct envmod *m)
{
	struct strmap all = { 0 };
	struct strmap_ent *e;
	const char **v = NULL;
	size_t n = 0;
	int err = 0;

	for (size_t i = 0; i < r->prune.cap && !err; i++) {
		char *p = r->prune.slots[i].key ? xstrdup(r->prune.slots[i].key) :
			  NULL;

		if (r->prune.slots[i].key && !p)
			err = nomem(r->ctx);
		while (p && !err && scheme_root_of(&r->s, p) &&
		       !scheme_is_boundary(&r->s, p)) {
			if (strmap_put(&all, p, &e) < 0)
				err = nomem(r->ctx);
			path_dirname(p);
		}
		free(p);
	}
	if (!err && all.n && !(v = xmalloc(all.n * sizeof(*v))))
		err = nomem(r->ctx);
	for (size_t i = 0; i < all.cap && !err; i++)
		if (all.slots[i].key)
			v[n++] = all.slots[i].key;
	if (!err && n)
		qsort(v, n, sizeof(*v), cmp_depth);
	for (size_t i = 0; i < n && !err; i++) {
		const char *root = scheme_root_of(&r->s, v[i]);
		int rm = envmod_rmdir(m, root, v[i] + strlen(root) + 1);

		err = rm < 0 ? rm : 0;
	}
	free(v);
	strmap_free(&all);
	return err;
}

/* ---- install ---------------------------------------------------------- */

static int has_record(const struct installed *d)
{
	char path[2 * PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s/RECORD", d->site, d->distinfo);
	return faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* What to do with a wheel, and the installed versions it replaces. A
 * dist-info of the same version without RECORD is what an interrupted
 * pip (or a spoke older than the journal) leaves: install over it. */
static int decide(struct run *r, struct wplan *wp)
{
	int dry = r->p->dry_run, same = 0, err;

	err = find_installed(r, wp->w.norm, &wp->old, &wp->nold);
	for (size_t k = 0; k < wp->nold; k++)
		same |= !strcmp(wp->old[k].version, wp->w.version);
	if (err)
		return err;
	if (wp->nold == 0) {
		wp->action = dry ? "would install" : "installed";
		wp->act = SPOKE_ACTION_INSTALLED;
	} else if (same && wp->nold == 1 && !r->p->reinstall &&
		   has_record(&wp->old[0]) &&
		   !bytecode_missing(r->p, &wp->old[0])) {
		wp->action = "unchanged";
		wp->act = SPOKE_ACTION_UNCHANGED;
		wp->skip = 1;
	} else if (same) {
		wp->action = dry ? "would reinstall" : "reinstalled";
		wp->act = SPOKE_ACTION_REINSTALLED;
	} else if (pep440_cmp(wp->w.version, wp->old[0].version) < 0) {
		wp->action = dry ? "would downgrade" : "downgraded";
		wp->act = SPOKE_ACTION_DOWNGRADED;
	} else {
		wp->action = dry ? "would upgrade" : "upgraded";
		wp->act = SPOKE_ACTION_UPGRADED;
	}
	for (size_t k = 0; k < wp->nold && !wp->skip && !err; k++) {
		struct installed *d = &wp->old[k];

		if (!strcmp(d->version, wp->w.version) && !has_record(d))
			ctx_log(r->ctx, SPOKE_LOG_WARN, "%s/%s has no RECORD "
				"(an interrupted install?); installing %s %s "
				"over it", d->site, d->distinfo, wp->w.name,
				wp->w.version);
		else
			err = check_removal(r, d);
	}
	return err;
}

/* The removals of an install plan: installed, and not a distribution
 * the same plan installs (which would make the order matter). */
static int plan_removals(struct run *r)
{
	int err = collect_installed(r, r->p->removes, r->p->nremoves, &r->rm,
				    &r->nrm);

	for (size_t i = 0; i < r->nrm && !err; i++) {
		char *norm = name_normalize(r->rm[i].name);

		if (!norm)
			return nomem(r->ctx);
		for (size_t k = 0; k < r->n && !err; k++)
			if (!strcmp(r->wp[k].w.norm, norm))
				err = ctx_fail(r->ctx, SPOKE_E_USAGE, 0,
					       r->rm[i].name, "the plan both "
					       "installs '%s' and removes %s",
					       r->wp[k].w.label, r->rm[i].name);
		free(norm);
		if (!err)
			err = check_removal(r, &r->rm[i]);
	}
	return err;
}

static int validate(struct run *r)
{
	/* Cold wheels: all unpacked at once while they are opened in order. */
	int err = wheelfetch_start(r->ctx, r->p);

	r->fetching = r->ctx->fetch != NULL;
	if (!err)
		err = open_wheels(r);
	if (!err && r->p->compat_check)
		err = compat_check(r->ctx, r->p, r->wp, r->n, r->s.python);

	for (size_t i = 0; i < r->n && !err; i++) {
		r->cur = (long)i;
		err = decide(r, &r->wp[i]);
	}
	if (!err) {
		r->cur = -1;
		err = plan_removals(r);
	}
	if (!err)
		err = layout_rest(r);
	else
		/* Failed before the layout: what layout_ahead() did is not
		 * in the report, as no wheel was laid out in this order. */
		for (size_t i = 0; i < r->n; i++)
			r->wp[i].lib = NULL;
	if (!err)
		r->cur = -1;
	if (!err)
		err = check_cancel(r);
	if (!err)
		prepare_progress(r, NULL, 1);
	/* Starts the compile; execute() links its result. */
	if (!err)
		err = bytecode_prepare(r->ctx, r->p, &r->s, r->wp, r->n,
				       &r->dests, r->rep, &r->bc);
	/* The RECORDs as the text to write: 60% of the memory of their
	 * rows, which a run would otherwise hold through the links. Not
	 * while compiling: bytecode_finish() adds the .pyc rows later. */
	for (size_t i = 0; i < r->n && !err && !r->bc; i++) {
		struct wplan *wp = &r->wp[i];

		if (wp->skip || r->p->dry_run || wp->record_text)
			continue; /* (formatted by its layout: layout_run.c) */
		if (record_format(&wp->out, &wp->record_text, &wp->record_len))
			err = nomem(r->ctx);
		record_free(&wp->out);
	}
	return err;
}

/* The wheel a failure of the second half belongs to: the one whose file
 * it is (the linker names the destination or the cache entry). */
static long blame_path(const struct run *r, const char *path)
{
	const struct strmap_ent *e = *path ? strmap_get(&r->dests, path) : NULL;

	if (e && (e->kind & DEST_FILE) && e->owner >= 0)
		return e->owner;
	for (size_t i = 0; i < r->n && *path; i++)
		for (size_t k = 0; k < r->wp[i].nroots; k++) {
			size_t n = strlen(r->wp[i].roots[k].src);

			if (!strncmp(path, r->wp[i].roots[k].src, n) &&
			    (path[n] == '/' || !path[n]))
				return (long)i;
		}
	return -1;
}

static void blame(struct run *r, long wheel)
{
	pthread_mutex_lock(&r->ctx->lock);
	if (r->ctx->err_wheel < 0 && r->ctx->failed)
		r->ctx->err_wheel = (int)wheel;
	pthread_mutex_unlock(&r->ctx->lock);
}

/* Link wheels [from, to) in one pool run, then write their generated
 * files (after linking, so a file generated here is never replaced by a
 * link of the same run). */
static int link_group(struct run *r, struct envmod *m, size_t from,
		      size_t to)
{
	uint64_t files = 0, bytes = 0;
	int err = 0;

	for (size_t i = from; i < to && !err; i++) {
		struct wplan *wp = &r->wp[i];

		if (wp->skip)
			continue;
		files += wp->files;
		bytes += wp->bytes;
		for (size_t k = 0; k < wp->nroots && !err; k++)
			err = envmod_link_tree(m, wp->roots[k].src,
					       wp->roots[k].dst,
					       (const char *const *)
					       wp->roots[k].skip, wp->w.label);
	}
	envmod_link_totals(m, files, bytes);
	if (!err) {
		long long t0 = ctx_now_ns();

		err = envmod_link_run(m);
		r->link_ns += ctx_now_ns() - t0;
	}
	for (size_t i = from; i < to && !err; i++)
		for (size_t k = 0; !r->wp[i].skip && k < r->wp[i].ngen && !err;
		     k++)
			err = envmod_write_file(m, r->wp[i].gen[k].path,
						r->wp[i].gen[k].data,
						r->wp[i].gen[k].len,
						r->wp[i].gen[k].mode);
	return err;
}

static int execute(struct run *r, struct envmod *m)
{
	size_t start = 0;
	int err = 0, any = 0;

	/* Every destination, so the journal names them all before the
	 * first change. */
	err = envmod_expect_map(m, &r->dests); /* shared, not copied */
	for (size_t i = 0; i < r->n && !err; i++)
		for (size_t k = 0; !r->wp[i].skip && k < r->wp[i].nold && !err;
		     k++)
			err = remove_dist(r, m, &r->wp[i].old[k]);
	for (size_t i = 0; i < r->nrm && !err; i++)
		err = remove_dist(r, m, &r->rm[i]);
	if (!err)
		err = remove_pycache(r, m);
	if (!err)
		err = prune_dirs(r, m);
	if (!err && ctx_canceled(r->ctx))
		err = ctx_fail(r->ctx, SPOKE_E_CANCELED, 0, NULL, "canceled");
	/* --allow-overwrite: a wheel overwriting an earlier one starts a new
	 * pool run, so the later wheel wins deterministically. */
	for (size_t i = 0; i <= r->n && !err; i++) {
		if (i < r->n && (!r->wp[i].barrier || i == start))
			continue;
		/* later groups replace what the earlier ones linked */
		if (start > 0)
			envmod_allow_replace(m);
		err = link_group(r, m, start, i);
		start = i;
	}
	if (!err)
		err = bytecode_finish(r->bc, m);
	for (size_t i = 0; i < r->n && !err; i++) {
		if (r->wp[i].skip)
			continue;
		any = 1;
		if (!r->wp[i].record_text &&
		    record_format(&r->wp[i].out, &r->wp[i].record_text,
				  &r->wp[i].record_len))
			return nomem(r->ctx);
		err = envmod_write_file(m, r->wp[i].record_path,
					r->wp[i].record_text,
					r->wp[i].record_len,
					scripts_generated_mode());
		free(r->wp[i].record_text); /* written: not needed again */
		r->wp[i].record_text = NULL;
	}
	if (!err && any)
		err = envmod_touch(m, r->s.path[SPOKE_SCHEME_PURELIB]);
	if (!err && any && r->s.path[SPOKE_SCHEME_PLATLIB] &&
	    strcmp(r->s.path[SPOKE_SCHEME_PLATLIB],
		   r->s.path[SPOKE_SCHEME_PURELIB]))
		err = envmod_touch(m, r->s.path[SPOKE_SCHEME_PLATLIB]);
	return err;
}

/* One entry per wheel of the plan, opened or not, then one per removal;
 * the failure's code goes to the entry it belongs to. */
static void report_dists(struct run *r, int failed)
{
	int code = failed ? spoke_ctx_error_code(r->ctx) : 0;
	int culprit = failed ? spoke_ctx_error_wheel(r->ctx) : -1;
	int dry = r->p->dry_run;

	for (size_t i = 0; r->wp && i < r->p->nwheels; i++) {
		const struct wplan *wp = &r->wp[i];
		char *di = wp->w.distinfo && wp->lib ?
			   path_join(wp->lib, wp->w.distinfo) : wp->nold ?
			   path_join(wp->old[0].site, wp->old[0].distinfo) :
			   NULL;

		if (report_add_dist(r->rep, wp->w.name, wp->w.version,
				    failed ? "failed" : wp->action)) {
			free(di);
			continue;
		}
		report_dist_detail(r->rep, (int)i, r->p->wheels[i].path,
				   di, wp->nold ? wp->old[0].version : NULL,
				   failed || dry ? SPOKE_ACTION_NONE : wp->act,
				   wp->act, culprit == (int)i ? code : 0);
		free(di);
		report_dist_counts(r->rep, wp->w.rec_rows, wp->w.rec_bytes);
	}
	report_removals(r, r->rm, r->nrm, failed, "removed", "would remove");
	/* A run that failed before it looked the removals up: by name. */
	for (size_t i = 0; !r->nrm && failed && i < r->p->nremoves; i++)
		if (!report_add_dist(r->rep, r->p->removes[i], NULL, "failed"))
			report_dist_detail(r->rep, -1, NULL, NULL, NULL,
					   SPOKE_ACTION_NONE,
					   SPOKE_ACTION_REMOVED, 0);
}

static int finish(struct run *r, int ret, spoke_report **report)
{
	ret = ctx_end(r->ctx, ret);
	report_set_status(r->rep, ret, r->ctx);
	if (report)
		*report = r->rep;
	else
		spoke_report_free(r->rep);
	run_free(r);
	return ret;
}

/* The start install and uninstall share: the run, its report, and the
 * environment's lock, taken before validation so that a concurrent run sees
 * this one's result, not the environment halfway (a dry run only looks for
 * a waiting journal). r->rep is NULL only when the run could not start at
 * all; then return at once. */
#define NO_WHEELS "no wheels to install"

static int run_open(struct run *r, spoke_ctx *ctx, spoke_plan *plan,
		    int empty, const char *empty_msg, struct env_lock **lock)
{
	int ret;

	r->rep = NULL;
	ret = ctx_begin(ctx);
	if (ret)
		return ret;
	ret = run_begin(r, ctx, plan);
	r->rep = report_create();
	if (!r->rep) {
		run_free(r);
		return nomem(ctx);
	}
	if (!ret && empty)
		ret = ctx_fail(ctx, SPOKE_E_USAGE, 0, NULL, "%s", empty_msg);
	/* An install's first progress: before the lock may be waited for. */
	if (!ret && plan->nwheels && !strcmp(empty_msg, NO_WHEELS))
		prepare_progress(r, NULL, 0);
	if (!ret && !plan->dry_run)
		ret = envmod_lock(ctx, &r->s, plan->no_wait, lock);
	else if (!ret)
		envmod_check_journal(ctx, &r->s);
	return ret;
}

int install_run(spoke_ctx *ctx, spoke_plan *plan, spoke_report **report)
{
	struct env_lock *lock = NULL;
	struct envmod *m = NULL;
	struct run r;
	long long t[3];
	int ret;

	if (report)
		*report = NULL;
	if (!ctx || !plan)
		return SPOKE_E_USAGE;
	ret = run_open(&r, ctx, plan, !plan->nwheels && !plan->nremoves,
		       NO_WHEELS, &lock);
	if (!r.rep)
		return ret;
	t[0] = ctx_now_ns();
	if (!ret && (ret = validate(&r)) && r.cur >= 0)
		blame(&r, r.cur);
	t[1] = ctx_now_ns();
	if (!ret && !plan->dry_run) {
		ret = envmod_begin(&m, ctx, r.rep, &r.s);
		if (!ret && plan->compile_bytecode)
			envmod_carry_times(m);
		if (!ret && (ret = execute(&r, m)))
			blame(&r, blame_path(&r, spoke_ctx_error_path(ctx)));
		if (m && ret)
			envmod_abort(m);
		else if (m)
			ret = envmod_commit(m);
	}
	t[2] = ctx_now_ns();
	if (!ret) {
		long long lookup = atomic_load(&ctx->lookup_ns);
		long long ns[4] = { lookup, t[1] - t[0] - lookup, r.link_ns,
				    t[2] - t[1] - r.link_ns };

		report_set_phases(r.rep, ctx, ns);
	}
	envmod_unlock(lock);
	report_dists(&r, ret != 0);
	return finish(&r, ret, report);
}

/* ---- uninstall -------------------------------------------------------- */

int uninstall_run(spoke_ctx *ctx, spoke_plan *plan, spoke_report **report)
{
	struct env_lock *lock = NULL;
	struct installed *d = NULL;
	struct envmod *m = NULL;
	size_t nd = 0;
	struct run r;
	int ret;

	if (report)
		*report = NULL;
	if (!ctx || !plan)
		return SPOKE_E_USAGE;
	ret = run_open(&r, ctx, plan, !plan->nnames,
		       "no distribution names to uninstall", &lock);
	if (!r.rep)
		return ret;
	if (!ret)
		ret = collect_installed(&r, plan->names, plan->nnames, &d, &nd);
	for (size_t i = 0; i < nd && !ret; i++)
		ret = check_removal(&r, &d[i]);
	if (!ret && !plan->dry_run) {
		ret = envmod_begin(&m, ctx, r.rep, &r.s);
		for (size_t i = 0; i < nd && !ret; i++)
			ret = remove_dist(&r, m, &d[i]);
		if (!ret)
			ret = remove_pycache(&r, m);
		if (!ret)
			ret = prune_dirs(&r, m);
		if (m && ret)
			envmod_abort(m);
		else if (m)
			ret = envmod_commit(m);
	}
	envmod_unlock(lock);
	report_removals(&r, d, nd, ret != 0, "uninstalled", "would uninstall");
	installed_free_all(d, nd);
	return finish(&r, ret, report);
}
