/* SPDX-License-Identifier: MIT */
/*
 * layout_dest - the destinations of a run (see layout.h): every path a
 * wheel installs is claimed in one map shared by all wheels, so two wheels
 * (or two directories of one wheel) that put something at the same place
 * are found before anything is written; and every destination is checked
 * against what the environment already holds, with the files the upgrade
 * removes first counted as gone. Also the RECORD row of a destination.
 * A wheel's layout (which may run on any thread) keeps its claims in a
 * list; plan_layout_claim() enters them in the map in plan order, so the
 * first collision is the one a serial walk would meet.
 */
#include "engine/layout.h"
#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* *nfc: the NFC form of dest (heap) when it differs from dest, else NULL.
 * ASCII is its own NFC form, so most paths cost a scan. A name that is not
 * valid UTF-8 has no other form: it is compared as it is. */
static int nfc_form(struct walker *wk, const char *dest, char **nfc)
{
	const unsigned char *c = (const unsigned char *)dest;
	int invalid;

	*nfc = NULL;
	while (*c && *c < 0x80)
		c++;
	if (!*c)
		return 0;
	*nfc = name_nfc(dest, &invalid);
	if (!*nfc)
		return invalid ? 0 : layout_nomem(wk->ctx);
	if (strcmp(*nfc, dest) == 0) {
		free(*nfc);
		*nfc = NULL;
	}
	return 0;
}

static int nfc_collision(struct walker *wk, const char *dest,
			 const struct strmap_ent *e, int kind)
{
	if (e->kind == DEST_DIR && kind == DEST_DIR)
		return 0; /* the files below them meet, if any do */
	if (e->owner == wk->index)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheel '%s' has two names for '%s' that are "
				"the same after Unicode NFC normalisation (one "
				"file on a normalising filesystem)",
				layout_label(wk, wk->index),
				layout_esc(wk, 1, dest));
	return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
			"wheels '%s' and '%s' both install '%s' (the same name "
			"after Unicode NFC normalisation)",
			layout_label(wk, e->owner), layout_label(wk, wk->index),
			layout_esc(wk, 1, dest));
}

/* A new destination against the others under Unicode NFC: a name not in
 * NFC is entered by its NFC form in the run's alias map; a name in NFC is
 * looked up there. Two forms of one name are one file on a normalising
 * filesystem (macOS, ext4 casefold/ZFS normalization), so they collide
 * everywhere, as pip's check on zip names does. */
static int claim_nfc(struct walker *wk, const char *dest, int kind)
{
	struct strmap *alias = &wk->all[0].nfc_alias;
	const struct strmap_ent *other;
	struct strmap_ent *e;
	char *nfc;
	int err = nfc_form(wk, dest, &nfc), r;

	if (err)
		return err;
	if (!nfc) {
		other = alias->n ? strmap_get(alias, dest) : NULL;
		return other ? nfc_collision(wk, dest, other, kind) : 0;
	}
	other = strmap_get(wk->dests, nfc);
	if (other)
		err = nfc_collision(wk, dest, other, kind);
	r = err ? 0 : strmap_put(alias, nfc, &e);
	free(nfc);
	if (r < 0)
		return layout_nomem(wk->ctx);
	if (r == 1) {
		e->owner = wk->index;
		e->kind = kind;
	} else if (!err) {
		err = nfc_collision(wk, dest, e, kind);
	}
	return err;
}

/* 1 if dest lies in a .dist-info directory of purelib or platlib other
 * than this wheel's own: another distribution's metadata (its RECORD would
 * then steer that distribution's uninstall, and this wheel's uninstall
 * would delete it). */
static int foreign_distinfo(const struct walker *wk, const char *dest)
{
	static const int libs[] = { SPOKE_SCHEME_PURELIB, SPOKE_SCHEME_PLATLIB };
	const char *own = wk->wp->w.distinfo;

	for (size_t k = 0; k < sizeof(libs) / sizeof(libs[0]); k++) {
		const char *root = wk->s->path[libs[k]], *c, *end;
		size_t len;

		if (!root || !path_under(root, dest) || !dest[strlen(root)])
			continue;
		c = dest + strlen(root) + 1;
		end = strchr(c, '/');
		len = end ? (size_t)(end - c) : strlen(c);
		if (len >= 10 && strncasecmp(c + len - 10, ".dist-info", 10) == 0 &&
		    !(own && strlen(own) == len && strncmp(c, own, len) == 0))
			return 1;
	}
	return 0;
}

/* A wheel's claims: its destinations, copied and hashed on the layout's
 * thread, each with its kind in the byte after its NUL; the map adopts
 * their memory as its keys (strmap_keys), so a destination is copied
 * once, not once for the list and again for the map. */
static int claim_keep(struct walker *wk, const char *dest, int kind)
{
	char *key = strmap_keys_add(&wk->wp->claims, dest, 1);

	if (!key)
		return layout_nomem(wk->ctx);
	key[strlen(key) + 1] = (char)kind;
	return 0;
}

int layout_claims_each(struct walker *wk,
		       int (*fn)(struct walker *, const char *, int))
{
	struct strmap_keys_it it = { 0 };
	const char *dest;
	int err = 0;

	while (!err && (dest = strmap_keys_next(&wk->wp->claims, &it, 1)))
		err = fn(wk, dest, dest[strlen(dest) + 1]);
	return err;
}

void layout_claims_free(struct wplan *wp)
{
	strmap_keys_free(&wp->claims);
}

/* Claim dest for this wheel. No wheel may claim a name spoke keeps for
 * itself (scheme_reserved) or another distribution's metadata: both are
 * known from dest alone, so they fail here, in the wheel's own walk. The
 * rest needs the other wheels and happens in layout_claim_merge(). */
int layout_claim(struct walker *wk, const char *dest, int kind)
{
	if (scheme_reserved(wk->s, dest))
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, dest,
				"wheel '%s' would write '%s': a name beginning "
				"with '.spoke' in the environment is spoke's "
				"own (its lock, journal and backups)",
				layout_label(wk, wk->index),
				layout_esc(wk, 1, dest));
	if (foreign_distinfo(wk, dest))
		return ctx_fail(wk->ctx, SPOKE_E_BADWHEEL, 0, dest,
				"wheel '%s' would write '%s': that is another "
				"distribution's .dist-info directory",
				layout_label(wk, wk->index),
				layout_esc(wk, 1, dest));
	return claim_keep(wk, dest, kind);
}

/* Enter a claim in the run's map, in plan order. Directories may be
 * claimed any number of times; a file only once, except that with
 * --allow-overwrite a later wheel may take a file of an earlier one: it
 * then becomes a barrier, so it is linked in a later pool run and wins
 * deterministically. */
int layout_claim_merge(struct walker *wk, const char *dest, int kind)
{
	struct strmap_ent *e;
	int r;

	r = strmap_put_made(wk->dests, dest, &e);
	if (r < 0)
		return layout_nomem(wk->ctx);
	if (r == 1) {
		e->owner = wk->index;
		e->kind = kind;
		return claim_nfc(wk, dest, kind);
	}
	if (e->kind == DEST_DIR && kind == DEST_DIR)
		return 0;
	if (e->kind != kind)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"'%s' is a %s in wheel '%s' and a %s in wheel "
				"'%s'", layout_esc(wk, 1, dest),
				e->kind == DEST_DIR ? "directory" : "file",
				layout_label(wk, e->owner),
				kind == DEST_DIR ? "directory" : "file",
				layout_label(wk, wk->index));
	if (e->owner == wk->index)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheel '%s' installs '%s' twice (from two of "
				"its directories)", layout_label(wk, wk->index),
				layout_esc(wk, 1, dest));
	if (!wk->p->allow_overwrite)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheels '%s' and '%s' both install '%s' "
				"(allow_overwrite lets the later one win)",
				layout_label(wk, e->owner),
				layout_label(wk, wk->index),
				layout_esc(wk, 1, dest));
	e->owner = wk->index;
	wk->wp->barrier = 1;
	return 0;
}

/* The directory and its ancestors inside the environment are directories
 * of this run: a file of another wheel there is a conflict. */
int layout_claim_chain(struct walker *wk, const char *dir)
{
	char *p = xstrdup(dir);
	int err = 0;

	if (!p)
		return layout_nomem(wk->ctx);
	while (!err && strcmp(p, "/") != 0 &&
	       (wk->s->env ? path_under(wk->s->env, p) : !strcmp(p, dir))) {
		err = layout_claim(wk, p, DEST_DIR);
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
int layout_env_check(struct walker *wk, int efd, const char *name,
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
				"'%s': %s", layout_esc(wk, 1, dest),
				strerror(errno));
	}
	if (kind == DEST_DIR) {
		if (S_ISDIR(st.st_mode)) {
			if (child && (*child = openat(efd, name, O_RDONLY |
				      O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				return ctx_fail(wk->ctx, -errno, errno, dest,
						"cannot open '%s': %s",
						layout_esc(wk, 1, dest),
						strerror(errno));
			return 0;
		}
		if (strmap_get(wk->removing, dest))
			return 0;
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheel '%s' has a directory '%s' where the "
				"environment has a file", wk->wp->w.label,
				layout_esc(wk, 1, dest));
	}
	if (S_ISDIR(st.st_mode) &&
	    removable_files(wk, efd, name, dest, 0) <= 0)
		return ctx_fail(wk->ctx, SPOKE_E_CONFLICT, 0, dest,
				"wheel '%s' has a file '%s' where the "
				"environment has a directory", wk->wp->w.label,
				layout_esc(wk, 1, dest));
	return 0;
}

int layout_record_row(struct walker *wk, const char *dest, const char *algo,
		      const void *digest, size_t dlen, int64_t size)
{
	char *rel = path_relative(wk->wp->lib, dest);
	int err;

	if (!rel)
		return layout_nomem(wk->ctx);
	err = record_add(&wk->wp->out, rel, algo, digest, dlen, size);
	free(rel);
	return err ? layout_nomem(wk->ctx) : 0;
}
