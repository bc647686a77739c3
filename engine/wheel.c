/* SPDX-License-Identifier: MIT */
/*
 * wheel - see wheel.h. METADATA and WHEEL are RFC 822 style headers; only
 * the header block is read (the body of METADATA is the long description),
 * names compare case-insensitively, as email.parser does for pip.
 */
#include "engine/wheel.h"
#include "engine/scripts.h"
#include "base/alloc.h"
#include "base/name.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_MAX (16u << 20)   /* METADATA with a huge description */
#define RECORD_MAX (256u << 20)

static int nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

int read_small_file(int dirfd, const char *rel, size_t max, char **buf,
		    size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *b;
	int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	if (err) {
		close(fd);
		return err;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	b = xmalloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (err) {
		free(b);
		return err;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

/* The value of header key in the header block of buf (heap, trimmed), or
 * NULL in *out when absent. The first occurrence wins, as Message.get(). */
static int header_get(const char *buf, size_t len, const char *key,
		      char **out)
{
	const char *p = buf, *end = buf + len;
	size_t kl = strlen(key);

	*out = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *v;
		size_t vl;

		if (ll && p[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break; /* end of the header block */
		if (ll > kl && strncasecmp(p, key, kl) == 0 && p[kl] == ':') {
			v = p + kl + 1;
			vl = ll - kl - 1;
			while (vl && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			*out = xstrndup(v, vl);
			return *out ? 0 : -ENOMEM;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

char *name_normalize(const char *name)
{
	char *out = xmalloc(strlen(name) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *s = name; *s; s++) {
		if (*s == '-' || *s == '_' || *s == '.') {
			if (o == out || o[-1] != '-')
				*o++ = '-';
			continue;
		}
		*o++ = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
	}
	*o = '\0';
	return out;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

static int is_dir_at(int dfd, struct dirent *e)
{
	struct stat st;

	if (e->d_type != DT_UNKNOWN)
		return e->d_type == DT_DIR;
	return fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

static int bad(spoke_ctx *ctx, const struct wheel *w, const char *what)
{
	return ctx_fail(ctx, SPOKE_E_BADWHEEL, 0, w->label,
			"wheel '%s': %s", w->label, what);
}

/* The top level: one *.dist-info, at most one *.data (both directories). */
static int find_dirs(spoke_ctx *ctx, struct wheel *w, int dfd)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *e;
	char msg[1280], e1[512], e2[512];
	int ret = 0;

	if (!d)
		return ctx_fail(ctx, -errno, errno, w->dir,
				"cannot read wheel directory '%s': %s", w->dir,
				strerror(errno));
	while ((e = readdir(d)) && !ret) {
		char **slot = ends_with(e->d_name, ".dist-info") ? &w->distinfo :
			      ends_with(e->d_name, ".data") ? &w->data : NULL;

		if (!slot || !is_dir_at(dfd, e))
			continue;
		if (name_has_control(e->d_name)) {
			snprintf(msg, sizeof(msg), "'%s' has a control "
				 "character in its name",
				 name_escape(e1, sizeof(e1), e->d_name));
			ret = bad(ctx, w, msg);
		} else if (*slot) {
			snprintf(msg, sizeof(msg), "more than one %s directory "
				 "('%s' and '%s')", slot == &w->data ?
				 ".data" : ".dist-info",
				 name_escape(e1, sizeof(e1), *slot),
				 name_escape(e2, sizeof(e2), e->d_name));
			ret = bad(ctx, w, msg);
		} else if (!(*slot = xstrdup(e->d_name))) {
			ret = ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				       "out of memory");
		}
	}
	closedir(d);
	if (!ret && !w->distinfo)
		ret = bad(ctx, w, "no .dist-info directory (is it an unpacked "
			  "wheel?)");
	return ret;
}

static int read_meta(spoke_ctx *ctx, struct wheel *w, int dfd,
		     const char *file, size_t max, int optional, char **buf,
		     size_t *len)
{
	char rel[PATH_MAX];
	int err;

	snprintf(rel, sizeof(rel), "%s/%s", w->distinfo, file);
	err = read_small_file(dfd, rel, max, buf, len);
	if (err == -ENOENT && optional) {
		*buf = NULL;
		*len = 0;
		return 0;
	}
	if (err == -ENOENT || err == -EINVAL || err == -ELOOP)
		return ctx_fail(ctx, SPOKE_E_BADWHEEL, -err, w->label,
				"wheel '%s': %s/%s is missing or not a regular "
				"file", w->label, w->distinfo, file);
	if (err)
		return ctx_fail(ctx, err == -ENOMEM ? SPOKE_E_NOMEM : err, err,
				w->label, "wheel '%s': cannot read %s/%s: %s",
				w->label, w->distinfo, file, strerror(-err));
	return 0;
}

int wheel_parse_wheel_file(spoke_ctx *ctx, struct wheel *w, const char *buf,
			   size_t len)
{
	char *ver = NULL, *purelib = NULL, *end, msg[256], esc[61];
	unsigned long major, minor = 0;
	int ret = -ENOMEM;

	if (header_get(buf, len, "Wheel-Version", &ver) ||
	    header_get(buf, len, "Root-Is-Purelib", &purelib))
		goto out;
	ret = 0;
	if (!ver) {
		ret = bad(ctx, w, "WHEEL has no Wheel-Version");
		goto out;
	}
	major = strtoul(ver, &end, 10);
	if (end != ver && *end == '.')
		minor = strtoul(end + 1, &end, 10);
	if (end == ver || *end || ver[0] < '0' || ver[0] > '9') {
		snprintf(msg, sizeof(msg), "WHEEL has an invalid Wheel-Version "
			 "'%.60s'", name_escape(esc, sizeof(esc), ver));
		ret = bad(ctx, w, msg);
	} else if (major != 1) {
		snprintf(msg, sizeof(msg), "Wheel-Version %.60s is not "
			 "supported (only 1.x is)",
			 name_escape(esc, sizeof(esc), ver));
		ret = bad(ctx, w, msg);
	} else if (minor > 0) {
		ctx_log(ctx, SPOKE_LOG_WARN, "wheel '%s' has a newer "
			"Wheel-Version (%s) than spoke knows (1.0); installing "
			"it as 1.0", w->label, ver);
	}
	w->root_purelib = purelib && strcasecmp(purelib, "true") == 0;
out:
	if (ret == -ENOMEM)
		ret = nomem(ctx);
	free(ver);
	free(purelib);
	return ret;
}

int wheel_parse_metadata(spoke_ctx *ctx, struct wheel *w, const char *buf,
			 size_t len)
{
	char *stem, *prefix = NULL, msg[PATH_MAX * 3], e1[PATH_MAX],
	     e2[PATH_MAX];
	size_t pl;
	int ret = 0;

	if (header_get(buf, len, "Name", &w->name) ||
	    header_get(buf, len, "Version", &w->version))
		return nomem(ctx);
	if (!w->name || !*w->name || !w->version || !*w->version)
		return bad(ctx, w, "METADATA lacks a Name or a Version");
	w->norm = name_normalize(w->name);
	stem = name_normalize(w->distinfo);
	if (w->norm)
		prefix = xmalloc(strlen(w->norm) + 2);
	if (!w->norm || !stem || !prefix) {
		ret = nomem(ctx);
		goto out;
	}
	/* pip's rule: the dist-info directory must start with the name. */
	pl = (size_t)sprintf(prefix, "%s-", w->norm);
	if (strncmp(stem, prefix, pl) != 0) {
		snprintf(msg, sizeof(msg), "%s does not belong to '%s' (the "
			 "Name in its METADATA)",
			 name_escape(e1, sizeof(e1), w->distinfo),
			 name_escape(e2, sizeof(e2), w->name));
		ret = bad(ctx, w, msg);
	}
out:
	free(stem);
	free(prefix);
	return ret;
}

static int check_record_paths(spoke_ctx *ctx, struct wheel *w)
{
	char esc[PATH_MAX * 4];

	for (size_t i = 0; i < w->rec.n; i++) {
		const char *p = w->rec.rows[i].path, *s = p;
		int dotdot = 0;

		if (name_has_control(p))
			return ctx_fail(ctx, SPOKE_E_BADWHEEL, 0, p,
					"wheel '%s': RECORD path '%s' has a "
					"control character", w->label,
					name_escape(esc, sizeof(esc), p));
		while (*s) {
			size_t n = strcspn(s, "/");

			dotdot |= n == 2 && s[0] == '.' && s[1] == '.';
			s += n + (s[n] == '/');
		}
		if (p[0] == '/' || dotdot)
			return ctx_fail(ctx, SPOKE_E_UNSAFE_PATH, 0, p,
					"wheel '%s': RECORD path '%s' is %s",
					w->label,
					name_escape(esc, sizeof(esc), p),
					dotdot ?
					"outside the wheel (it holds '..')" :
					"absolute");
	}
	return 0;
}

int wheel_open(spoke_ctx *ctx, const char *dir, const char *label,
	       struct wheel *w)
{
	char *buf = NULL, err[256];
	size_t len;
	int dfd, ret;

	memset(w, 0, sizeof(*w));
	w->dir = xstrdup(dir);
	w->label = xstrdup(label);
	if (!w->dir || !w->label)
		return nomem(ctx);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ctx_fail(ctx, errno == ENOENT ? SPOKE_E_USAGE : -errno,
				errno, label, "cannot open wheel '%s': %s",
				label, strerror(errno));
	ret = find_dirs(ctx, w, dfd);
	if (!ret)
		ret = read_meta(ctx, w, dfd, "WHEEL", META_MAX, 0, &buf, &len);
	if (!ret)
		ret = wheel_parse_wheel_file(ctx, w, buf, len);
	free(buf);
	buf = NULL;
	if (!ret)
		ret = read_meta(ctx, w, dfd, "METADATA", META_MAX, 0, &buf, &len);
	if (!ret)
		ret = wheel_parse_metadata(ctx, w, buf, len);
	free(buf);
	buf = NULL;
	if (!ret)
		ret = read_meta(ctx, w, dfd, "RECORD", RECORD_MAX, 0, &buf, &len);
	if (!ret) {
		ret = record_parse(buf, len, &w->rec, err, sizeof(err));
		if (ret == SPOKE_E_BADWHEEL)
			ret = ctx_fail(ctx, ret, 0, w->label,
				       "wheel '%s': %s/%s", w->label,
				       w->distinfo, err);
		else if (!ret)
			ret = record_index_build(&w->idx, &w->rec, err,
						 sizeof(err));
		w->rec_rows = w->rec.n;
		for (size_t k = 0; k < w->rec.n; k++)
			if (w->rec.rows[k].size > 0)
				w->rec_bytes += (uint64_t)w->rec.rows[k].size;
		if (ret == SPOKE_E_BADWHEEL && !ctx_failed(ctx))
			ret = ctx_fail(ctx, ret, 0, w->label, "wheel '%s': "
				       "RECORD: %s", w->label, err);
		else if (ret < 0 && !ctx_failed(ctx))
			ret = ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				       "out of memory");
	}
	if (!ret)
		ret = check_record_paths(ctx, w);
	free(buf);
	buf = NULL;
	if (!ret)
		ret = read_meta(ctx, w, dfd, "entry_points.txt", META_MAX, 1,
				&buf, &len);
	if (!ret && buf) {
		ret = scripts_parse_entry_points(buf, len, &w->eps, &w->neps,
						 err, sizeof(err));
		if (ret == SPOKE_E_BADWHEEL)
			ret = bad(ctx, w, err);
		else if (ret)
			ret = ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				       "out of memory");
	}
	free(buf);
	close(dfd);
	return ret;
}

void wheel_close(struct wheel *w)
{
	record_index_free(&w->idx);
	record_free(&w->rec);
	scripts_free_eps(w->eps, w->neps);
	free(w->dir);
	free(w->label);
	free(w->distinfo);
	free(w->data);
	free(w->name);
	free(w->version);
	free(w->norm);
	memset(w, 0, sizeof(*w));
}

/* ---- installed distributions ------------------------------------------ */

static int installed_add(spoke_ctx *ctx, int sfd, const char *site,
			 const char *dname, const char *norm,
			 struct installed **out, size_t *n)
{
	char rel[PATH_MAX], *buf = NULL, *name = NULL, *ver = NULL, *nn = NULL;
	struct installed *grown, *d;
	size_t len, stem = strlen(dname) - strlen(".dist-info");
	int ret = 0;

	snprintf(rel, sizeof(rel), "%s/METADATA", dname);
	ret = read_small_file(sfd, rel, META_MAX, &buf, &len);
	if (ret == 0 && (header_get(buf, len, "Name", &name) ||
			 header_get(buf, len, "Version", &ver)))
		ret = -ENOMEM;
	else if (ret != -ENOMEM)
		ret = 0;
	/* No usable METADATA: the directory name says name-version. */
	if (!ret && !name)
		name = xstrndup(dname, strcspn(dname, "-") < stem ?
				strcspn(dname, "-") : stem);
	if (!ret && !ver && strcspn(dname, "-") < stem)
		ver = xstrndup(dname + strcspn(dname, "-") + 1,
			       stem - strcspn(dname, "-") - 1);
	if (!ret && name)
		nn = name_normalize(name);
	if (ret || !name || !nn) {
		ret = nomem(ctx);
		goto out;
	}
	if (strcmp(nn, norm) != 0)
		goto out;
	grown = xrealloc(*out, (*n + 1) * sizeof(**out));
	if (!grown) {
		ret = nomem(ctx);
		goto out;
	}
	*out = grown;
	d = &grown[*n];
	memset(d, 0, sizeof(*d));
	d->site = xstrdup(site);
	d->distinfo = xstrdup(dname);
	d->name = name;
	d->version = ver ? ver : xstrdup("");
	name = ver = NULL;
	(*n)++;
	if (!d->site || !d->distinfo || !d->version)
		ret = nomem(ctx);
out:
	free(buf);
	free(name);
	free(ver);
	free(nn);
	return ret;
}

int installed_find(spoke_ctx *ctx, const char *site, const char *norm,
		   struct installed **out, size_t *n)
{
	struct dirent *e;
	size_t nl = strlen(norm);
	int sfd, ret = 0;
	DIR *d;

	sfd = open(site, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return errno == ENOENT ? 0 :
		       ctx_fail(ctx, -errno, errno, site, "cannot open '%s': "
				"%s", site, strerror(errno));
	d = fdopendir(dup(sfd));
	if (!d) {
		ret = ctx_fail(ctx, -errno, errno, site, "cannot read '%s': %s",
			       site, strerror(errno));
		close(sfd);
		return ret;
	}
	while (!ret && (e = readdir(d))) {
		char *stem;
		int maybe;

		if (!ends_with(e->d_name, ".dist-info") || !is_dir_at(sfd, e))
			continue;
		/* Cheap filter before reading METADATA. */
		stem = name_normalize(e->d_name);
		if (!stem) {
			ret = ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				       "out of memory");
			break;
		}
		maybe = strncmp(stem, norm, nl) == 0 && stem[nl] == '-';
		free(stem);
		if (maybe)
			ret = installed_add(ctx, sfd, site, e->d_name, norm,
					    out, n);
	}
	closedir(d);
	close(sfd);
	return ret;
}

int installed_load_record(spoke_ctx *ctx, struct installed *d)
{
	char rel[PATH_MAX], path[2 * PATH_MAX + 2], err[256], *buf;
	size_t len;
	int sfd, ret;

	snprintf(rel, sizeof(rel), "%s/RECORD", d->distinfo);
	snprintf(path, sizeof(path), "%s/%s", d->site, rel);
	sfd = open(d->site, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return ctx_fail(ctx, -errno, errno, d->site, "cannot open '%s': "
				"%s", d->site, strerror(errno));
	ret = read_small_file(sfd, rel, RECORD_MAX, &buf, &len);
	close(sfd);
	if (ret == -ENOENT || ret == -EINVAL || ret == -ELOOP)
		return ctx_fail(ctx, SPOKE_E_BADWHEEL, -ret, path,
				"cannot uninstall %s %s: '%s' is missing, so "
				"its files are not known", d->name, d->version,
				path);
	if (ret)
		return ctx_fail(ctx, ret, ret, path, "cannot read '%s': %s",
				path, strerror(-ret));
	ret = record_parse(buf, len, &d->rec, err, sizeof(err));
	free(buf);
	if (ret == SPOKE_E_BADWHEEL)
		return ctx_fail(ctx, ret, 0, path, "cannot uninstall %s %s: "
				"'%s': %s", d->name, d->version, path, err);
	if (ret)
		return nomem(ctx);
	return 0;
}

void installed_free_all(struct installed *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].site);
		free(d[i].distinfo);
		free(d[i].name);
		free(d[i].version);
		record_free(&d[i].rec);
	}
	free(d);
}
