/* SPDX-License-Identifier: MIT */
/*
 * plan - see plan.h: the public spoke_plan setters, the string map, and the
 * layout walk (below the setters).
 */
#include "engine/plan.h"
#include "engine/wheelcache.h"
#include "engine/scripts.h"
#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

spoke_plan *spoke_plan_create(void)
{
	return xcalloc(1, sizeof(struct spoke_plan));
}

void spoke_plan_free(spoke_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nwheels; i++) {
		free(p->wheels[i].path);
		free(p->wheels[i].direct_url);
	}
	free(p->wheels);
	for (size_t i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	free(p->venv);
	free(p->target);
	free(p->python);
	for (int k = 0; k < SPOKE_SCHEME__MAX; k++)
		free(p->path[k]);
	free(p);
}

/* Paths are checked when the plan runs, where a failure has a context to
 * carry its message; here only memory can fail. */
int spoke_plan_add_wheel(spoke_plan *p, const char *path)
{
	struct plan_wheel *w;

	if (!p || !path || !*path)
		return SPOKE_E_USAGE;
	if (p->nwheels >= INT32_MAX)
		return SPOKE_E_USAGE;
	w = xrealloc(p->wheels, (p->nwheels + 1) * sizeof(*w));
	if (!w)
		return SPOKE_E_NOMEM;
	p->wheels = w;
	w[p->nwheels].direct_url = NULL;
	if (!(w[p->nwheels].path = xstrdup(path)))
		return SPOKE_E_NOMEM;
	return (int)p->nwheels++;
}

int spoke_plan_add_name(spoke_plan *p, const char *name)
{
	char **v;

	if (!p || !name || !*name)
		return SPOKE_E_USAGE;
	v = xrealloc(p->names, (p->nnames + 1) * sizeof(*v));
	if (!v)
		return SPOKE_E_NOMEM;
	p->names = v;
	if (!(v[p->nnames] = xstrdup(name)))
		return SPOKE_E_NOMEM;
	p->nnames++;
	return 0;
}

static int set_str(char **slot, const char *v)
{
	char *copy = NULL;

	if (v && !(copy = xstrdup(v)))
		return SPOKE_E_NOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

int spoke_plan_set_venv(spoke_plan *p, const char *venv)
{
	return p ? set_str(&p->venv, venv) : SPOKE_E_USAGE;
}

int spoke_plan_set_target(spoke_plan *p, const char *dir)
{
	return p ? set_str(&p->target, dir) : SPOKE_E_USAGE;
}

int spoke_plan_set_scheme_path(spoke_plan *p, enum spoke_scheme_key key,
			       const char *path)
{
	if (!p || (unsigned)key >= SPOKE_SCHEME__MAX)
		return SPOKE_E_USAGE;
	return set_str(&p->path[key], path);
}

int spoke_plan_set_python(spoke_plan *p, const char *python)
{
	return p ? set_str(&p->python, python) : SPOKE_E_USAGE;
}

int spoke_plan_set_reinstall(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->reinstall = !!on;
	return 0;
}

int spoke_plan_set_dry_run(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->dry_run = !!on;
	return 0;
}

int spoke_plan_set_requested(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->requested = !!on;
	return 0;
}

int spoke_plan_set_allow_overwrite(spoke_plan *p, int on)
{
	if (!p)
		return SPOKE_E_USAGE;
	p->allow_overwrite = !!on;
	return 0;
}

int spoke_plan_set_direct_url(spoke_plan *p, int wheel, const char *json)
{
	if (!p || wheel < 0 || (size_t)wheel >= p->nwheels)
		return SPOKE_E_USAGE;
	return set_str(&p->wheels[wheel].direct_url, json);
}

int plan_source_dir(spoke_ctx *ctx, const struct plan_wheel *pw, char **out)
{
	struct stat st;

	*out = NULL;
	if (stat(pw->path, &st) < 0)
		return ctx_fail(ctx, errno == ENOENT ? SPOKE_E_USAGE : -errno,
				errno, pw->path, "cannot install '%s': %s",
				pw->path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		size_t n = strlen(pw->path);

		if (!S_ISREG(st.st_mode) || n < 4 ||
		    strcmp(pw->path + n - 4, ".whl") != 0)
			return ctx_fail(ctx, SPOKE_E_USAGE, 0, pw->path,
					"cannot install '%s': neither a .whl "
					"file nor an unpacked wheel directory",
					pw->path);
		/* A .whl is unpacked (once) into the cache, verified, and
		 * installed from its entry like any tree. */
		return wheelcache_add(ctx, NULL, pw->path, out, NULL);
	}
	*out = path_absolute(pw->path);
	if (!*out)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
	return 0;
}

size_t pyc_source_stem(const char *name)
{
	size_t n = strlen(name);
	const char *dot;

	if (n < 5 || strcmp(name + n - 4, ".pyc") != 0)
		return 0;
	n -= 4;
	dot = memrchr(name, '.', n);
	/* an optimisation level: "x.cpython-311.opt-1" */
	if (dot && strncmp(dot + 1, "opt-", 4) == 0 &&
	    (size_t)(dot + 5 - name) < n &&
	    strspn(dot + 5, "0123456789") == n - (size_t)(dot + 5 - name))
		n = (size_t)(dot - name);
	dot = memrchr(name, '.', n);
	if (!dot || dot == name || (size_t)(dot - name) + 1 == n)
		return 0;
	return (size_t)(dot - name);
}

void wplan_free(struct wplan *wp)
{
	wheel_close(&wp->w);
	installed_free_all(wp->old, wp->nold);
	for (size_t i = 0; i < wp->nroots; i++) {
		free(wp->roots[i].src);
		free(wp->roots[i].dst);
		for (char **s = wp->roots[i].skip; s && *s; s++)
			free(*s);
		free(wp->roots[i].skip);
	}
	free(wp->roots);
	for (size_t i = 0; i < wp->ngen; i++) {
		free(wp->gen[i].path);
		free(wp->gen[i].data);
	}
	free(wp->gen);
	record_free(&wp->out);
	free(wp->record_path);
	memset(wp, 0, sizeof(*wp));
}

/* ---- layout ------------------------------------------------------------ */

#define WALK_DEPTH_MAX 256
#define SCRIPT_MAX (256u << 20)

struct walker {
	spoke_ctx *ctx;
	const struct spoke_plan *p;
	struct scheme *s;
	struct wplan *all, *wp;
	int index;
	struct strmap *dests;
	const struct strmap *removing;
	unsigned char *seen;          /* RECORD rows matched by a file */
	struct wheel_ep *launchers;   /* after pip's renaming */
	size_t nlaunchers;
	/* the subtree being walked */
	const char *dst;              /* its destination root */
	size_t sub_off;               /* wrel + sub_off: path in the subtree
				       * (the prefix and its '/') */
	int scripts, is_root;
	char **excl;                  /* subtree paths not linked */
	size_t nexcl;
	char wrel[PATH_MAX];          /* path in the wheel */
};

static int nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

static const char *label(const struct walker *wk, int i)
{
	return wk->all[i].w.label;
}

static const char *srel(const struct walker *wk)
{
	return strlen(wk->wrel) >= wk->sub_off ? wk->wrel + wk->sub_off : "";
}

static int exclude(struct walker *wk)
{
	char **v = xrealloc(wk->excl, (wk->nexcl + 1) * sizeof(*v));

	if (!v)
		return nomem(wk->ctx);
	wk->excl = v;
	if (!(v[wk->nexcl] = xstrdup(srel(wk))))
		return nomem(wk->ctx);
	wk->nexcl++;
	return 0;
}

/* Claim dest for this wheel. Directories may be claimed any number of
 * times; a file only once, except that with --allow-overwrite a later
 * wheel may take a file of an earlier one: it then becomes a barrier, so it
 * is linked in a later pool run and wins deterministically. */
static int claim(struct walker *wk, const char *dest, int kind)
{
	struct strmap_ent *e;
	int r = strmap_put(wk->dests, dest, &e);

	if (r < 0)
		return nomem(wk->ctx);
	if (r == 1) {
		e->owner = wk->index;
		e->kind = kind;
		return 0;
	}
	if (e->kind == DEST_DIR && kind == DEST_DIR)
		return 0;
	if (e->kind != kind)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"'%s' is a %s in wheel '%s' and a %s in wheel "
				"'%s'", dest, e->kind == DEST_DIR ? "directory" :
				"file", label(wk, e->owner), kind == DEST_DIR ?
				"directory" : "file", label(wk, wk->index));
	if (e->owner == wk->index)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheel '%s' installs '%s' twice (from two of its "
				"directories)", label(wk, wk->index), dest);
	if (!wk->p->allow_overwrite)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheels '%s' and '%s' both install '%s' "
				"(allow_overwrite lets the later one win)",
				label(wk, e->owner), label(wk, wk->index), dest);
	e->owner = wk->index;
	wk->wp->barrier = 1;
	return 0;
}

/* The directory and its ancestors inside the environment are directories
 * of this run: a file of another wheel there is a conflict. */
static int claim_chain(struct walker *wk, const char *dir)
{
	char *p = xstrdup(dir);
	int err = 0;

	if (!p)
		return nomem(wk->ctx);
	while (!err && strcmp(p, "/") != 0 &&
	       (wk->s->env ? path_under(wk->s->env, p) : !strcmp(p, dir))) {
		err = claim(wk, p, DEST_DIR);
		if (wk->s->env && strcmp(p, wk->s->env) == 0)
			break;
		path_dirname(p);
	}
	free(p);
	return err;
}

/* Files below dir name: how many the upgrade removes, or -1 when something
 * there stays (so the directory cannot become a file). */
static long removable_files(struct walker *wk, int pfd, const char *name,
			    const char *abs, int depth)
{
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC);
	int pycache = strcmp(path_basename(abs), "__pycache__") == 0;
	struct dirent *e;
	long total = 0;
	DIR *d;

	if (fd < 0 || depth > WALK_DEPTH_MAX || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (total >= 0 && (e = readdir(d))) {
		struct stat st;
		char *child;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		child = path_join(abs, e->d_name);
		if (!child || fstatat(dirfd(d), e->d_name, &st,
				      AT_SYMLINK_NOFOLLOW) < 0) {
			total = -1;
		} else if (S_ISDIR(st.st_mode)) {
			long r = removable_files(wk, dirfd(d), e->d_name, child,
						 depth + 1);

			total = r > 0 ? total + r : -1;
		} else if (strmap_get(wk->removing, child)) {
			total++;
		} else if (pycache && pyc_source_stem(e->d_name)) {
			/* a .pyc of a removed x.py goes with it */
			char src[PATH_MAX];

			snprintf(src, sizeof(src), "%.*s/%.*s.py",
				 (int)(strlen(abs) - 12), abs,
				 (int)pyc_source_stem(e->d_name), e->d_name);
			total = strmap_get(wk->removing, src) ? total + 1 : -1;
		} else {
			total = -1;
		}
		free(child);
	}
	closedir(d);
	return total;
}

/* dest (name in the environment directory efd, or absolute when efd is
 * AT_FDCWD) against what the environment holds. *child: for a directory
 * that exists, its fd (else -1). */
static int env_check(struct walker *wk, int efd, const char *name,
		     const char *dest, int kind, int *child)
{
	struct stat st;

	if (child)
		*child = -1;
	if (efd < 0 && efd != AT_FDCWD)
		return 0;
	if (fstatat(efd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return ctx_fail(wk->ctx, -errno, errno, dest, "cannot check "
				"'%s': %s", dest, strerror(errno));
	}
	if (kind == DEST_DIR) {
		if (S_ISDIR(st.st_mode)) {
			if (child && (*child = openat(efd, name, O_RDONLY |
				      O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				return ctx_fail(wk->ctx, -errno, errno, dest,
						"cannot open '%s': %s", dest,
						strerror(errno));
			return 0;
		}
		if (strmap_get(wk->removing, dest))
			return 0;
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheel '%s' has a directory '%s' where the "
				"environment has a file", wk->wp->w.label, dest);
	}
	if (S_ISDIR(st.st_mode) &&
	    removable_files(wk, efd, name, dest, 0) <= 0)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheel '%s' has a file '%s' where the "
				"environment has a directory", wk->wp->w.label,
				dest);
	return 0;
}

static int record_row(struct walker *wk, const char *dest, const char *algo,
		      const void *digest, size_t dlen, int64_t size)
{
	char *rel = path_relative(wk->wp->lib, dest);
	int err;

	if (!rel)
		return nomem(wk->ctx);
	err = record_add(&wk->wp->out, rel, algo, digest, dlen, size);
	free(rel);
	return err ? nomem(wk->ctx) : 0;
}

/* A generated file: claimed, checked, hashed into RECORD. Takes data. */
static int generate(struct walker *wk, const char *dest, char *data,
		    size_t len, mode_t mode)
{
	unsigned char dig[32];
	struct gen_file *g;
	int err;

	err = claim(wk, dest, DEST_FILE);
	if (!err)
		err = env_check(wk, AT_FDCWD, dest, dest, DEST_FILE, NULL);
	if (!err && scheme_protected(wk->s, dest))
		err = ctx_fail(wk->ctx, SPOKE_E_PROTECTED, 0, dest,
			       "wheel '%s' would replace '%s', which belongs to "
			       "the environment", wk->wp->w.label, dest);
	if (!err && sha256_buf(data, len, dig))
		err = nomem(wk->ctx);
	if (!err)
		err = record_row(wk, dest, "sha256", dig, 32, (int64_t)len);
	g = err ? NULL : xrealloc(wk->wp->gen, (wk->wp->ngen + 1) * sizeof(*g));
	if (!err && !g)
		err = nomem(wk->ctx);
	if (err) {
		free(data);
		return err;
	}
	wk->wp->gen = g;
	g += wk->wp->ngen;
	g->path = xstrdup(dest);
	g->data = data;
	g->len = len;
	g->mode = mode;
	wk->wp->ngen++;
	return g->path ? 0 : nomem(wk->ctx);
}

/* A relative symlink must resolve inside its own install subtree: after
 * the install the other subtrees live elsewhere. */
static int symlink_ok(const struct walker *wk, const char *target)
{
	const char *rel = srel(wk), *t = target;
	long depth = 0;

	if (target[0] == '/' || !target[0])
		return 0;
	for (const char *s = rel; *s; s++)
		depth += *s == '/';
	while (*t) {
		size_t n = strcspn(t, "/");

		if (n == 2 && t[0] == '.' && t[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (n && !(n == 1 && t[0] == '.')) {
			if (depth == 0 && wk->is_root && wk->wp->w.data &&
			    strlen(wk->wp->w.data) == n &&
			    !strncmp(t, wk->wp->w.data, n))
				return 0;
			depth++;
		}
		t += n + (t[n] == '/');
	}
	return 1;
}

static int is_distinfo_file(const struct walker *wk, const char *name)
{
	const char *di = wk->wp->w.distinfo;
	size_t n = strlen(di);

	return wk->is_root && strncmp(wk->wrel, di, n) == 0 &&
	       wk->wrel[n] == '/' && strcmp(wk->wrel + n + 1, name) == 0;
}

/* Files spoke writes itself instead of linking the wheel's copy. */
static int generated_here(const struct walker *wk)
{
	return is_distinfo_file(wk, "RECORD") ||
	       is_distinfo_file(wk, "INSTALLER") ||
	       (wk->p->requested && is_distinfo_file(wk, "REQUESTED")) ||
	       (wk->p->wheels[wk->index].direct_url &&
		is_distinfo_file(wk, "direct_url.json"));
}

static int fix_script(struct walker *wk, int sfd, const char *name,
		      const char *dest, const struct stat *st)
{
	char head[8], *src, *out;
	const char *python;
	size_t len, outlen;
	ssize_t n;
	int fd = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err;

	if (fd < 0)
		return ctx_fail(wk->ctx, -errno, errno, wk->wrel, "wheel '%s': "
				"cannot read '%s': %s", wk->wp->w.label,
				wk->wrel, strerror(errno));
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n < 0 || !scripts_is_python_shebang(head, (size_t)n))
		return 0; /* linked as it is */
	err = scheme_python(wk->ctx, wk->s, "a '#!python' script", &python);
	if (err)
		return err;
	err = read_small_file(sfd, name, SCRIPT_MAX, &src, &len);
	if (err)
		return ctx_fail(wk->ctx, err, err, wk->wrel, "wheel '%s': "
				"cannot read '%s': %s", wk->wp->w.label,
				wk->wrel, strerror(-err));
	err = scripts_fix(python, src, len, &out, &outlen);
	free(src);
	if (err)
		return nomem(wk->ctx);
	err = generate(wk, dest, out, outlen, scripts_fixed_mode(st->st_mode));
	return err ? err : 1;
}

/* One file or symlink: 1 installed, 0 not, or an error. */
static int walk_file(struct walker *wk, int sfd, int efd, const char *name,
		     const struct stat *st, const char *dest)
{
	const struct record_row *row = NULL;
	long r = record_index_find(&wk->wp->w.idx, wk->wrel,
				   strlen(wk->wrel));
	char target[PATH_MAX];
	int err;

	if (r >= 0) {
		wk->seen[r] = 1;
		row = &wk->wp->w.rec.rows[r];
	}
	if (generated_here(wk))
		return (err = exclude(wk)) ? err : 0;
	if (!row && !is_distinfo_file(wk, "RECORD.jws") &&
	    !is_distinfo_file(wk, "RECORD.p7s"))
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				"wheel '%s': '%s' is not listed in its RECORD",
				wk->wp->w.label, wk->wrel);
	if (S_ISREG(st->st_mode) && row && row->size >= 0 && wk->ctx->verify &&
	    row->size != (int64_t)st->st_size)
		return ctx_fail(wk->ctx, SPOKE_E_HASH, 0, wk->wrel,
				"wheel '%s': '%s' has %lld bytes, RECORD says "
				"%lld", wk->wp->w.label, wk->wrel,
				(long long)st->st_size, (long long)row->size);
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return ctx_fail(wk->ctx, -errno, errno, wk->wrel,
					"wheel '%s': cannot read link '%s': %s",
					wk->wp->w.label, wk->wrel,
					strerror(errno));
		target[n] = '\0';
		if (!symlink_ok(wk, target))
			return ctx_fail(wk->ctx, SPOKE_E_UNSAFE_PATH, 0,
					wk->wrel, "wheel '%s': symlink '%s' -> "
					"'%s' points outside its install "
					"directory", wk->wp->w.label, wk->wrel,
					target);
	}
	if (wk->scripts && (scripts_is_ep_wrapper(name, wk->wp->w.eps,
						  wk->wp->w.neps) ||
			    scripts_is_ep_wrapper(name, wk->launchers,
						  wk->nlaunchers)))
		return (err = exclude(wk)) ? err : 0; /* as pip does */
	if (scheme_protected(wk->s, dest))
		return ctx_fail(wk->ctx, SPOKE_E_PROTECTED, 0, dest,
				"wheel '%s' would replace '%s', which belongs to "
				"the environment", wk->wp->w.label, dest);
	if (wk->scripts && S_ISREG(st->st_mode)) {
		err = fix_script(wk, sfd, name, dest, st);
		if (err < 0)
			return err;
		if (err > 0)
			return (err = exclude(wk)) ? err : 1;
	}
	err = claim(wk, dest, DEST_FILE);
	if (!err)
		err = env_check(wk, efd, name, dest, DEST_FILE, NULL);
	if (!err)
		err = row ? record_row(wk, dest, row->algo, row->digest,
				       row->digest_len, row->size) :
			    record_row(wk, dest, NULL, NULL, 0, -1);
	if (err)
		return err;
	wk->wp->files++;
	if (S_ISREG(st->st_mode))
		wk->wp->bytes += (uint64_t)st->st_size;
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_names(spoke_ctx *ctx, int sfd, const char *what,
		      char ***out, size_t *n)
{
	DIR *d = fdopendir(dup(sfd));
	struct dirent *e;
	char **v = NULL, **grown;

	*n = 0;
	if (!d)
		return ctx_fail(ctx, -errno, errno, what, "cannot read '%s': %s",
				what, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		grown = xrealloc(v, (*n + 1) * sizeof(*v));
		if (!grown || !(grown[*n] = xstrdup(e->d_name))) {
			v = grown ? grown : v;
			for (size_t i = 0; i < *n; i++)
				free(v[i]);
			free(v);
			closedir(d);
			*n = 0;
			return nomem(ctx);
		}
		v = grown;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	*out = v;
	return 0;
}

static int walk_dir(struct walker *wk, int sfd, int efd, int depth,
		    long *installed);

static int walk_entry(struct walker *wk, int sfd, int efd, const char *name,
		      int depth, long *installed)
{
	char dest[PATH_MAX];
	const char *sr = srel(wk);
	struct stat st;
	int cs, ce, err;
	long sub = 0;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return ctx_fail(wk->ctx, -errno, errno, wk->wrel, "wheel '%s': "
				"cannot stat '%s': %s", wk->wp->w.label,
				wk->wrel, strerror(errno));
	if ((size_t)snprintf(dest, sizeof(dest), "%s/%s", wk->dst, sr) >=
	    sizeof(dest))
		return ctx_fail(wk->ctx, -ENAMETOOLONG, ENAMETOOLONG, wk->wrel,
				"wheel '%s': '%s' is too long a path once "
				"installed", wk->wp->w.label, wk->wrel);
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		err = walk_file(wk, sfd, efd, name, &st, dest);
		if (err > 0)
			(*installed)++;
		return err < 0 ? err : 0;
	}
	if (!S_ISDIR(st.st_mode))
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				"wheel '%s': '%s' is not a regular file, "
				"directory or symlink", wk->wp->w.label,
				wk->wrel);
	if (depth >= WALK_DEPTH_MAX)
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				"wheel '%s': '%s' is nested more than %d "
				"levels deep", wk->wp->w.label, wk->wrel,
				WALK_DEPTH_MAX);
	err = claim(wk, dest, DEST_DIR);
	if (!err)
		err = env_check(wk, efd, name, dest, DEST_DIR, &ce);
	if (err)
		return err;
	cs = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (cs < 0)
		err = ctx_fail(wk->ctx, -errno, errno, wk->wrel, "wheel '%s': "
			       "cannot open '%s': %s", wk->wp->w.label,
			       wk->wrel, strerror(errno));
	else
		err = walk_dir(wk, cs, ce, depth + 1, &sub);
	if (cs >= 0)
		close(cs);
	if (ce >= 0)
		close(ce);
	if (err)
		return err;
	/* pip creates directories only for the files it writes: a directory
	 * with nothing to install is not made (nor left to uninstall). */
	if (sub == 0)
		return exclude(wk);
	*installed += sub;
	return 0;
}

static int walk_dir(struct walker *wk, int sfd, int efd, int depth,
		    long *installed)
{
	size_t len = strlen(wk->wrel), n;
	char **names = NULL;
	int err = read_names(wk->ctx, sfd, wk->wrel, &names, &n);

	for (size_t i = 0; i < n; i++) {
		if (!err && ctx_canceled(wk->ctx))
			err = ctx_fail(wk->ctx, SPOKE_E_CANCELED, 0, NULL,
				       "canceled");
		if (!err && len + strlen(names[i]) + 2 >= sizeof(wk->wrel))
			err = ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, wk->wrel,
				       "wheel '%s': a path below '%s' is too "
				       "long", wk->wp->w.label, wk->wrel);
		if (!err) {
			sprintf(wk->wrel + len, "%s%s", len ? "/" : "",
				names[i]);
			/* The .data directory is not installed as such. */
			if (wk->is_root && depth == 0 && wk->wp->w.data &&
			    !strcmp(names[i], wk->wp->w.data))
				err = exclude(wk);
			else
				err = walk_entry(wk, sfd, efd, names[i], depth,
						 installed);
			wk->wrel[len] = '\0';
		}
		free(names[i]);
	}
	if (n)
		free(names);
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
		return nomem(wk->ctx);
	r = xrealloc(wk->wp->roots, (wk->wp->nroots + 1) * sizeof(*r));
	if (!r) {
		free(skip);
		return nomem(wk->ctx);
	}
	wk->wp->roots = r;
	r += wk->wp->nroots++;
	r->src = xstrdup(src);
	r->dst = xstrdup(dst);
	r->skip = skip;
	if (!r->src || !r->dst)
		return nomem(wk->ctx);
	while (i < n && !err) {
		size_t len = strcspn(ex[i], "/"), j = i;
		int whole = 0;

		while (j < n && !strncmp(ex[j], ex[i], len) &&
		       (ex[j][len] == '/' || ex[j][len] == '\0'))
			whole |= ex[j++][len] == '\0';
		if (!(skip[nskip++] = xstrndup(ex[i], len)))
			return nomem(wk->ctx);
		if (!whole) {
			char *s2 = path_join(src, skip[nskip - 1]);
			char *d2 = path_join(dst, skip[nskip - 1]);

			for (size_t k = i; k < j; k++)
				ex[k] += len + 1;
			err = s2 && d2 ? add_roots(wk, s2, d2, ex + i, j - i) :
					 nomem(wk->ctx);
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

/* Walk the wheel subtree sub ("" for the root) installed at dst. */
static int walk_subtree(struct walker *wk, const char *sub, const char *dst)
{
	char *src = path_join(wk->wp->w.dir, sub);
	struct stat st;
	long installed = 0;
	int sfd = -1, efd = -1, err;

	free_excl(wk);
	wk->dst = dst;
	wk->is_root = !*sub;
	wk->scripts = !wk->is_root && !strcmp(path_basename(sub), "scripts");
	wk->sub_off = *sub ? strlen(sub) + 1 : 0;
	snprintf(wk->wrel, sizeof(wk->wrel), "%s", sub);
	if (!src)
		return nomem(wk->ctx);
	err = claim_chain(wk, dst);
	if (err)
		goto out;
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		err = ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, errno, src, "wheel "
			       "'%s': cannot open '%s': %s", wk->wp->w.label,
			       sub, strerror(errno));
		goto out;
	}
	/* The scheme directory itself may be a symlink (lib64 -> lib). */
	if (stat(dst, &st) == 0 && !S_ISDIR(st.st_mode)) {
		err = ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dst, "'%s' is not "
			       "a directory", dst);
		goto out;
	}
	efd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = walk_dir(wk, sfd, efd, 0, &installed);
	if (!err && installed > 0) {
		if (wk->nexcl)
			qsort(wk->excl, wk->nexcl, sizeof(*wk->excl), cmp_path);
		err = add_roots(wk, src, dst, wk->excl, wk->nexcl);
	}
out:
	if (sfd >= 0)
		close(sfd);
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
	char **names = NULL, sub[PATH_MAX], why[PATH_MAX + 64];
	size_t n = 0;
	int dfd, err, k;

	dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		int d2 = openat(dfd, w->data, O_RDONLY | O_DIRECTORY |
				O_NOFOLLOW | O_CLOEXEC);

		close(dfd);
		dfd = d2;
	}
	if (dfd < 0)
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, errno, w->label,
				"wheel '%s': cannot open %s: %s", w->label,
				w->data, strerror(errno));
	err = read_names(wk->ctx, dfd, w->data, &names, &n);
	for (size_t i = 0; i < n; i++) {
		const char *root;
		char *hdr = NULL;
		struct stat st;

		for (k = 0; k < SPOKE_SCHEME__MAX; k++)
			if (!strcmp(names[i], keys[k]))
				break;
		snprintf(sub, sizeof(sub), "%s/%s", w->data, names[i]);
		if (!err && (k == SPOKE_SCHEME__MAX ||
			     fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) ||
			     !S_ISDIR(st.st_mode)))
			err = ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, sub,
				       "wheel '%s': unexpected '%s' (a .data "
				       "directory holds only the directories "
				       "purelib, platlib, scripts, headers and "
				       "data)", w->label, sub);
		snprintf(why, sizeof(why), "wheel '%s' (%s)", w->label, sub);
		if (!err)
			err = scheme_dir(wk->ctx, wk->s, k, why, &root);
		if (!err && k == SPOKE_SCHEME_HEADERS &&
		    !(root = hdr = headers_dir(root, w->name)))
			err = nomem(wk->ctx);
		if (!err)
			err = walk_subtree(wk, sub, root);
		free(hdr);
		free(names[i]);
	}
	close(dfd);
	free(names);
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
					rec->rows[i].path);
	return 0;
}

static int gen_distinfo(struct walker *wk, const char *name, const char *text)
{
	char *dir = path_join(wk->wp->lib, wk->wp->w.distinfo);
	char *dest = dir ? path_join(dir, name) : NULL, *data = xstrdup(text);
	int err;

	if (!dest || !data) {
		free(data);
		err = nomem(wk->ctx);
	} else {
		err = generate(wk, dest, data, strlen(text),
			       scripts_generated_mode());
	}
	free(dir);
	free(dest);
	return err;
}

static int gen_launchers(struct walker *wk)
{
	const char *scripts, *python;
	int err = 0;

	if (!wk->nlaunchers)
		return 0;
	err = scheme_dir(wk->ctx, wk->s, SPOKE_SCHEME_SCRIPTS,
			 "an entry point", &scripts);
	if (!err)
		err = scheme_python(wk->ctx, wk->s, "an entry point", &python);
	if (!err)
		err = claim_chain(wk, scripts);
	for (size_t i = 0; i < wk->nlaunchers && !err; i++) {
		const struct wheel_ep *ep = &wk->launchers[i];
		char *dest, *text;
		size_t len;

		if (!scripts_valid_name(ep->name))
			return ctx_fail(wk->ctx, SPOKE_E_UNSAFE_PATH, 0, ep->name,
					"wheel '%s': entry point name '%s' is "
					"not a file name in the scripts "
					"directory", wk->wp->w.label, ep->name);
		dest = path_join(scripts, ep->name);
		if (!dest)
			return nomem(wk->ctx);
		err = scripts_launcher(python, ep, &text, &len);
		if (err)
			err = nomem(wk->ctx);
		else
			err = generate(wk, dest, text, len,
				       scripts_launcher_mode());
		free(dest);
	}
	return err;
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct record_row *)a)->path,
		      ((const struct record_row *)b)->path);
}

static int layout(struct walker *wk)
{
	struct wheel *w = &wk->wp->w;
	const char *pyver = NULL, *url = wk->p->wheels[wk->index].direct_url;
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
		err = nomem(wk->ctx);
	if (!err)
		err = walk_subtree(wk, "", wk->wp->lib);
	if (!err && w->data)
		err = walk_data(wk);
	if (!err)
		err = check_unseen(wk);
	if (!err)
		err = gen_launchers(wk);
	if (!err)
		err = gen_distinfo(wk, "INSTALLER", "spoke\n");
	if (!err && wk->p->requested)
		err = gen_distinfo(wk, "REQUESTED", "");
	if (!err && url)
		err = gen_distinfo(wk, "direct_url.json", url);
	if (!err) {
		char *dir = path_join(wk->wp->lib, w->distinfo);

		wk->wp->record_path = dir ? path_join(dir, "RECORD") : NULL;
		free(dir);
		if (!wk->wp->record_path)
			return nomem(wk->ctx);
		err = claim(wk, wk->wp->record_path, DEST_FILE);
	}
	if (!err)
		err = record_row(wk, wk->wp->record_path, NULL, NULL, 0, -1);
	if (!err)
		qsort(wk->wp->out.rows, wk->wp->out.n, sizeof(*wk->wp->out.rows),
		      cmp_row);
	return err;
}

int plan_layout(spoke_ctx *ctx, const struct spoke_plan *p, struct scheme *s,
		struct wplan *wp, size_t i, struct strmap *dests,
		const struct strmap *removing)
{
	struct walker *wk = xcalloc(1, sizeof(*wk));
	int err;

	if (!wk)
		return nomem(ctx);
	wk->ctx = ctx;
	wk->p = p;
	wk->s = s;
	wk->all = wp;
	wk->wp = &wp[i];
	wk->index = (int)i;
	wk->dests = dests;
	wk->removing = removing;
	wk->seen = xcalloc(wp[i].w.rec.n + 1, 1);
	err = wk->seen ? layout(wk) : nomem(ctx);
	scripts_free_eps(wk->launchers, wk->nlaunchers);
	free(wk->seen);
	free(wk);
	return err;
}
