/* SPDX-License-Identifier: MIT */
/*
 * manifest - see manifest.h. The file (native byte order, which the header
 * states, so a cache moved to another architecture is rebuilt, not
 * misread):
 *
 *   "SPOKEMF1" u32 0x01020304 u32 0 u64 body_len u8[32] sha256(body)
 *   body: u16 len, entry name, NUL; root u64 dev, u64 ino, i64 ctime s,
 *         u32 ctime ns; u32 count; count records:
 *         u8 type, u16 depth, u16 len, name, NUL, then
 *         MF_FILE: u32 mode, i64 size
 *         MF_DIR:  u32 mode, u64 ino, i64 ctime s, u32 ctime ns
 *         MF_LINK: u16 len, target, NUL
 *
 * Names and targets end in NUL in the file itself, so the parsed entries
 * point into the buffer read and nothing is copied per name. Keeping
 * manifests beside the entries is manifest_keep.c.
 */
#include "cache/manifest_int.h"
#include "base/bytebuf.h"
#include "cache/record.h"
#include "base/alloc.h"
#include "base/errmsg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "SPOKEMF1"
#define HDR_LEN MANIFEST_HDR_LEN

#define PUT(b, type, v) \
	do { type v_ = (type)(v); bytebuf_put(b, &v_, sizeof(v_)); } while (0)

static void put_str(struct bytebuf *b, const char *s, size_t n)
{
	PUT(b, uint16_t, n);
	bytebuf_put(b, s, n);
	bytebuf_put(b, "", 1);
}

static void put_ident(struct bytebuf *b, const struct stat *st, int dev)
{
	if (dev)
		PUT(b, uint64_t, st->st_dev);
	PUT(b, uint64_t, st->st_ino);
	PUT(b, int64_t, st->st_ctim.tv_sec);
	PUT(b, uint32_t, st->st_ctim.tv_nsec);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct builder {
	struct bytebuf b;
	uint32_t count;
	char path[PATH_MAX];
	char target[PATH_MAX]; /* here, not on the stack of each level */
	const char *shown;
	char *err;
	size_t errlen;
};

static int fail(struct builder *bd, int e, const char *what)
{
	char eb[128];

	return errmsg_fail(e, bd->err, bd->errlen, "%s/%s: %s: %s", bd->shown,
			   bd->path, what, errmsg_str(e, eb, sizeof(eb)));
}

static int read_names(int fd, char ***out, size_t *n)
{
	DIR *d;
	struct dirent *e;
	char **v = NULL, **g;
	int dfd = dup(fd);

	*n = 0;
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		int e0 = -errno;

		if (dfd >= 0)
			close(dfd);
		return e0;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!(g = xrealloc(v, (*n + 1) * sizeof(*v))) ||
		    !(g[*n] = xstrdup(e->d_name))) {
			v = g ? g : v;
			while (*n)
				free(v[--*n]);
			free(v);
			closedir(d);
			return -ENOMEM;
		}
		v = g;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	*out = v;
	return 0;
}

static int build_dir(struct builder *bd, int fd, int depth)
{
	size_t plen = strlen(bd->path), n = 0;
	char **names = NULL;
	int err = read_names(fd, &names, &n);

	if (err)
		return fail(bd, err, "cannot read");
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		size_t nl = strlen(nm);
		struct stat st;
		int cfd = -1;

		if (err)
			goto next;
		if (plen + nl + 2 > sizeof(bd->path) || nl > 0xffff) {
			err = fail(bd, -ENAMETOOLONG, "a name below it");
			goto next;
		}
		sprintf(bd->path + plen, "%s%s", plen ? "/" : "", nm);
		if (fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			err = fail(bd, -errno, "cannot stat");
			goto next;
		}
		if (S_ISDIR(st.st_mode) && depth < MANIFEST_DEPTH_MAX) {
			/* The identity kept is the one read before the
			 * directory's names: a change after it is seen. */
			cfd = openat(fd, nm, O_RDONLY | O_DIRECTORY |
				     O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0 || fstat(cfd, &st) < 0) {
				err = fail(bd, -errno, "cannot open");
				goto next;
			}
		}
		PUT(&bd->b, uint8_t, S_ISDIR(st.st_mode) ? MF_DIR :
		    S_ISREG(st.st_mode) ? MF_FILE : S_ISLNK(st.st_mode) ?
		    MF_LINK : MF_OTHER);
		PUT(&bd->b, uint16_t, depth);
		put_str(&bd->b, nm, nl);
		bd->count++;
		if (S_ISREG(st.st_mode)) {
			PUT(&bd->b, uint32_t, st.st_mode);
			PUT(&bd->b, int64_t, st.st_size);
		} else if (S_ISDIR(st.st_mode)) {
			PUT(&bd->b, uint32_t, st.st_mode);
			put_ident(&bd->b, &st, 0);
			if (cfd >= 0)
				err = build_dir(bd, cfd, depth + 1);
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t tl = readlinkat(fd, nm, bd->target,
						sizeof(bd->target) - 1);

			if (tl < 0)
				err = fail(bd, -errno, "cannot read link");
			else
				put_str(&bd->b, bd->target, (size_t)tl);
		}
next:
		if (cfd >= 0)
			close(cfd);
		bd->path[plen] = '\0';
		free(names[i]);
	}
	free(names);
	if (!err && bd->b.nomem)
		err = errmsg_fail(-ENOMEM, bd->err, bd->errlen, "out of memory");
	return err;
}

int manifest_build_named(int dirfd, const char *ename, const char *shown,
			 struct manifest *m, char *err, size_t errlen)
{
	struct builder *bd = xcalloc(1, sizeof(*bd));
	static const unsigned char zeros[8 + 32];
	unsigned char dig[32];
	struct stat st;
	size_t count_at;
	int ret;

	memset(m, 0, sizeof(*m));
	if (!bd)
		return errmsg_fail(-ENOMEM, err, errlen, "out of memory");
	bd->shown = shown;
	bd->err = err;
	bd->errlen = errlen;
	bytebuf_put(&bd->b, MAGIC, 8);
	PUT(&bd->b, uint32_t, 0x01020304);
	PUT(&bd->b, uint32_t, 0);
	bytebuf_put(&bd->b, zeros, sizeof(zeros)); /* body length, digest: below */
	put_str(&bd->b, ename, strlen(ename));
	if (fstat(dirfd, &st) < 0) {
		ret = fail(bd, -errno, "cannot stat");
		goto out;
	}
	put_ident(&bd->b, &st, 1);
	count_at = bd->b.len;
	PUT(&bd->b, uint32_t, 0);
	ret = build_dir(bd, dirfd, 0);
	if (ret)
		goto out;
	if (bd->b.nomem) {
		ret = errmsg_fail(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	memcpy(bd->b.p + count_at, &bd->count, 4);
	{
		uint64_t body = bd->b.len - HDR_LEN;

		memcpy(bd->b.p + 16, &body, 8);
		if ((ret = sha256_buf(bd->b.p + HDR_LEN, body, dig))) {
			errmsg_fail(ret, err, errlen, "sha256 failed");
			goto out;
		}
		memcpy(bd->b.p + 24, dig, 32);
	}
	m->buf = bd->b.p;
	m->len = bd->b.len;
	bd->b.p = NULL;
	ret = manifest_parse(m, -1, ename);
	if (ret)
		ret = errmsg_fail(ret, err, errlen, "%s: manifest of the walk "
				  "does not parse", shown);
out:
	free(bd->b.p);
	free(bd);
	if (ret)
		manifest_free(m);
	return ret;
}

int manifest_build(int dirfd, const char *shown, struct manifest *m,
		   char *err, size_t errlen)
{
	return manifest_build_named(dirfd, "", shown, m, err, errlen);
}

int manifest_build_at(const char *dir, struct manifest *m, char *err,
		      size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int ret;
	char eb[128];

	memset(m, 0, sizeof(*m));
	if (fd < 0) {
		ret = -errno;
		return errmsg_fail(ret, err, errlen, "cannot open '%s': %s",
				   dir, errmsg_str(ret, eb, sizeof(eb)));
	}
	ret = manifest_build_named(fd, "", dir, m, err, errlen);
	close(fd);
	return ret;
}

/* ---- reading ---------------------------------------------------------- */

struct rd {
	const unsigned char *p, *end;
	int bad;
};

static void get(struct rd *r, void *v, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		memset(v, 0, n);
		return;
	}
	memcpy(v, r->p, n);
	r->p += n;
}

/* A NUL-terminated string of the body (max bytes at most), or NULL. */
static const char *get_str(struct rd *r, size_t max, size_t *len)
{
	uint16_t n;
	const char *s;

	get(r, &n, 2);
	if (r->bad || n > max || (size_t)(r->end - r->p) < (size_t)n + 1 ||
	    r->p[n] != '\0' || memchr(r->p, '\0', n)) {
		r->bad = 1;
		return NULL;
	}
	s = (const char *)r->p;
	r->p += n + 1;
	*len = n;
	return s;
}

static int same_ident(const struct stat *st, uint64_t ino, int64_t cs,
		      uint32_t cns)
{
	return (uint64_t)st->st_ino == ino && (int64_t)st->st_ctim.tv_sec == cs &&
	       (uint32_t)st->st_ctim.tv_nsec == cns;
}

int manifest_parse(struct manifest *m, int entryfd, const char *ename)
{
	struct rd r = { m->buf, m->buf + m->len, 0 };
	const char *last[MANIFEST_DEPTH_MAX + 1];
	size_t open[MANIFEST_DEPTH_MAX + 1], plen[MANIFEST_DEPTH_MAX + 2];
	char path[PATH_MAX];
	unsigned char dig[32];
	uint64_t body, dev, ino;
	uint32_t endian, count, cns;
	int64_t cs;
	size_t nl;
	struct stat st;
	const char *en;
	int prev_depth = -1, prev_dir = 0;

	if (m->len < HDR_LEN || memcmp(m->buf, MAGIC, 8))
		return -EBADMSG;
	memcpy(&endian, m->buf + 8, 4);
	memcpy(&body, m->buf + 16, 8);
	if (endian != 0x01020304 || body != m->len - HDR_LEN ||
	    sha256_buf(m->buf + HDR_LEN, body, dig) ||
	    memcmp(dig, m->buf + 24, 32))
		return -EBADMSG;
	r.p += HDR_LEN;
	en = get_str(&r, NAME_MAX, &nl);
	get(&r, &dev, 8);
	get(&r, &ino, 8);
	get(&r, &cs, 8);
	get(&r, &cns, 4);
	get(&r, &count, 4);
	if (r.bad || count > m->len / 6)
		return -EBADMSG;
	if (entryfd >= 0 && (strcmp(en, ename) || fstat(entryfd, &st) < 0 ||
			     (uint64_t)st.st_dev != dev ||
			     !same_ident(&st, ino, cs, cns)))
		return -ESTALE;
	free(m->ents);
	m->ents = xcalloc(count ? count : 1, sizeof(*m->ents));
	if (!m->ents)
		return -ENOMEM;
	m->n = 0;
	plen[0] = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct mf_ent *e = &m->ents[i];
		uint8_t type;
		uint16_t depth;

		get(&r, &type, 1);
		get(&r, &depth, 2);
		e->name = get_str(&r, NAME_MAX, &nl);
		if (r.bad || type < MF_DIR || type > MF_OTHER ||
		    depth > MANIFEST_DEPTH_MAX ||
		    (int)depth > prev_depth + 1 ||
		    ((int)depth == prev_depth + 1 && prev_depth >= 0 &&
		     !prev_dir) || (prev_depth < 0 && depth) || !nl ||
		    memchr(e->name, '/', nl) || !strcmp(e->name, ".") ||
		    !strcmp(e->name, ".."))
			return -EBADMSG;
		/* Close the directories this name is not below. */
		for (int d = prev_depth + (prev_dir ? 1 : 0); d > (int)depth;
		     d--)
			m->ents[open[d - 1]].end = i;
		if ((int)depth == prev_depth + 1)
			last[depth] = NULL;
		if (last[depth] && strcmp(last[depth], e->name) >= 0)
			return -EBADMSG;
		last[depth] = e->name;
		e->type = type;
		e->depth = depth;
		if (plen[depth] + nl + 2 > sizeof(path))
			return -EBADMSG;
		sprintf(path + plen[depth], "%s%s", depth ? "/" : "", e->name);
		plen[depth + 1] = plen[depth] + (depth ? 1 : 0) + nl;
		if (type == MF_FILE) {
			uint32_t mode;

			get(&r, &mode, 4);
			get(&r, &e->size, 8);
			e->mode = mode;
			if (!S_ISREG(mode) || e->size < 0)
				r.bad = 1;
		} else if (type == MF_DIR) {
			get(&r, &e->mode, 4);
			get(&r, &ino, 8);
			get(&r, &cs, 8);
			get(&r, &cns, 4);
			open[depth] = i;
			e->end = count;
			if (!r.bad && entryfd >= 0 &&
			    (fstatat(entryfd, path, &st, AT_SYMLINK_NOFOLLOW) <
				     0 || !S_ISDIR(st.st_mode) ||
			     (uint64_t)st.st_dev != dev ||
			     !same_ident(&st, ino, cs, cns)))
				return -ESTALE;
		} else if (type == MF_LINK) {
			e->target = get_str(&r, PATH_MAX - 1, &nl);
		}
		if (r.bad)
			return -EBADMSG;
		prev_depth = depth;
		prev_dir = type == MF_DIR;
		m->n++;
	}
	if (r.p != r.end)
		return -EBADMSG;
	return 0;
}

void manifest_free(struct manifest *m)
{
	free(m->buf);
	free(m->ents);
	memset(m, 0, sizeof(*m));
}

long manifest_find(const struct manifest *m, const char *rel, size_t len)
{
	size_t i = 0, end = m->n;
	unsigned depth = 0;

	while (len) {
		size_t cl = 0;

		while (cl < len && rel[cl] != '/')
			cl++;
		for (; i < end; i = m->ents[i].type == MF_DIR ?
				    m->ents[i].end : i + 1)
			if (m->ents[i].depth == depth &&
			    strlen(m->ents[i].name) == cl &&
			    !memcmp(m->ents[i].name, rel, cl))
				break;
		if (i >= end)
			return -1;
		if (cl == len)
			return (long)i;
		if (m->ents[i].type != MF_DIR)
			return -1;
		end = m->ents[i].end;
		i++;
		depth++;
		rel += cl + 1;
		len -= cl + 1;
	}
	return -1;
}
