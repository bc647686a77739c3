/* SPDX-License-Identifier: MIT */
/*
 * store_pyc_stamp - see store_pyc_stamp.h. Writing builds the text in one
 * buffer and renames it into place; reading checks the trailing SHA-256
 * before it parses a byte, so a torn or edited file is -EBADMSG whatever it
 * holds, and then parses strictly (every line of the one shape it may
 * have), so a stamp is either wholly understood or refused.
 */
#include "cache/store_pyc_stamp.h"
#include "cache/record.h"
#include "base/alloc.h"
#include "base/bytebuf.h"
#include "base/strmap.h"
#include "io/linkops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD "spoke-bytecode-v2\n"
#define SUM_LINE (7 + 64 + 1) /* "sha256 " hex "\n" */
#define FILE_MAX (256u << 20)

static const char hx[] = "0123456789abcdef";

static void putf(struct bytebuf *b, const char *fmt, long long a, long long c,
		 long long d)
{
	char t[96];
	int n = snprintf(t, sizeof(t), fmt, a, c, d);

	bytebuf_put(b, t, (size_t)n);
}

static void put_hex(struct bytebuf *b, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char two[2] = { hx[p[i] >> 4], hx[p[i] & 15] };

		bytebuf_put(b, two, 2);
	}
}

/* A path as one word: '%', spaces, controls and non-ASCII as %XX. */
static void put_path(struct bytebuf *b, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c > 0x20 && *c < 0x7f && *c != '%') {
			bytebuf_put(b, (const char *)c, 1);
		} else {
			char esc[3] = { '%', hx[*c >> 4], hx[*c & 15] };

			bytebuf_put(b, esc, 3);
		}
	}
}

int pyc_stamp_add(struct pyc_stamp *s, const char *rel, int ok,
		  int64_t mtime, int64_t size, int64_t pyc_size)
{
	struct pyc_stamp_src *v = s->src;

	if (s->nsrc == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;

		if (!(v = xrealloc(s->src, cap * sizeof(*v))))
			return -ENOMEM;
		s->src = v;
		s->cap = cap;
	}
	v += s->nsrc;
	if (!(v->rel = xstrdup(rel)))
		return -ENOMEM;
	v->ok = ok;
	v->mtime = mtime;
	v->size = size;
	v->pyc_size = pyc_size;
	s->nsrc++;
	return 0;
}

int pyc_stamp_manifest_id(const struct manifest *m, unsigned char out[32])
{
	return sha256_buf(m->buf, m->len, out);
}

int pyc_stamp_pyc_path(char *buf, size_t len, const char *rel,
		       const char *tag, int opt)
{
	const char *slash = strrchr(rel, '/'), *base = slash ? slash + 1 : rel;
	int dirlen = slash ? (int)(slash - rel) : 0;
	size_t bl = strlen(base);
	char o[8] = "";

	if (bl < 4 || strcmp(base + bl - 3, ".py") || opt < 0 || opt > 2)
		return -EINVAL;
	if (opt)
		snprintf(o, sizeof(o), ".opt-%d", opt);
	return snprintf(buf, len, "%.*s%s__pycache__/%.*s.%s%s.pyc", dirlen,
			rel, dirlen ? "/" : "", (int)bl - 3, base, tag, o);
}

static int cmp_dir(const void *a, const void *b)
{
	return strcmp(((const struct pyc_stamp_dir *)a)->rel,
		      ((const struct pyc_stamp_dir *)b)->rel);
}

static void free_dirs(struct pyc_stamp *s)
{
	for (size_t i = 0; i < s->ndirs; i++)
		free(s->dirs[i].rel);
	free(s->dirs);
	s->dirs = NULL;
	s->ndirs = 0;
}

/* Every directory on the way to each compiled source's .pyc, once. */
static int dir_names(const struct pyc_stamp *s, struct strmap *set)
{
	char path[PATH_MAX];
	struct strmap_ent *e;

	for (size_t i = 0; i < s->nsrc; i++) {
		int n;

		if (!s->src[i].ok)
			continue;
		n = pyc_stamp_pyc_path(path, sizeof(path), s->src[i].rel,
				       s->tag, s->opt);
		if (n < 0 || (size_t)n >= sizeof(path))
			return -ENAMETOOLONG;
		for (char *sl = strchr(path, '/'); sl; sl = strchr(sl + 1, '/')) {
			*sl = '\0';
			n = strmap_put(set, path, &e);
			*sl = '/';
			if (n < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

int pyc_stamp_take_dirs(int dfd, struct pyc_stamp *s)
{
	struct strmap set = { 0 };
	struct stat st;
	size_t k = 0;
	int ret;

	free_dirs(s);
	if (fstat(dfd, &st) < 0)
		return -errno;
	s->root_ino = (uint64_t)st.st_ino;
	ret = dir_names(s, &set);
	if (!ret && set.n && !(s->dirs = xcalloc(set.n, sizeof(*s->dirs))))
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < set.cap; i++) {
		struct pyc_stamp_dir *d;

		if (!set.slots[i].key)
			continue;
		d = &s->dirs[k];
		if (!(d->rel = xstrdup(set.slots[i].key))) {
			ret = -ENOMEM;
			break;
		}
		k++;
		if (fstatat(dfd, d->rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = -errno;
		else if (!S_ISDIR(st.st_mode))
			ret = -ENOTDIR;
		d->ino = (uint64_t)st.st_ino;
		d->sec = st.st_ctim.tv_sec;
		d->nsec = (uint32_t)st.st_ctim.tv_nsec;
	}
	s->ndirs = k;
	strmap_free(&set);
	if (!ret)
		qsort(s->dirs, s->ndirs, sizeof(*s->dirs), cmp_dir);
	else
		free_dirs(s);
	return ret;
}

int pyc_stamp_dirs_hold(int dfd, const struct pyc_stamp *s)
{
	struct stat st;

	if (fstat(dfd, &st) < 0 || (uint64_t)st.st_ino != s->root_ino)
		return 0;
	for (size_t i = 0; i < s->ndirs; i++) {
		const struct pyc_stamp_dir *d = &s->dirs[i];

		if (fstatat(dfd, d->rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || (uint64_t)st.st_ino != d->ino ||
		    st.st_ctim.tv_sec != d->sec ||
		    (uint32_t)st.st_ctim.tv_nsec != d->nsec)
			return 0;
	}
	return 1;
}

int pyc_stamp_write(int dfd, const struct pyc_stamp *s)
{
	struct bytebuf b = { 0 };
	unsigned char sum[32];
	int ret;

	bytebuf_put(&b, HEAD, strlen(HEAD));
	bytebuf_put(&b, "entry ", 6);
	put_path(&b, s->entry);
	bytebuf_put(&b, "\ntag ", 5);
	put_path(&b, s->tag);
	putf(&b, "\nopt %lld\nmode timestamp\nmagic ", s->opt, 0, 0);
	put_hex(&b, s->magic, sizeof(s->magic));
	bytebuf_put(&b, "\nmanifest ", 10);
	put_hex(&b, s->manifest, sizeof(s->manifest));
	putf(&b, "\nroot %llu\n", (long long)s->root_ino, 0, 0);
	for (size_t i = 0; i < s->ndirs; i++) {
		putf(&b, "dir %llu %lld.%09lld ", (long long)s->dirs[i].ino,
		     s->dirs[i].sec, s->dirs[i].nsec);
		put_path(&b, s->dirs[i].rel);
		bytebuf_put(&b, "\n", 1);
	}
	for (size_t i = 0; i < s->nsrc; i++) {
		const struct pyc_stamp_src *v = &s->src[i];

		if (v->ok)
			putf(&b, "ok %lld %lld %lld ", v->mtime, v->size,
			     v->pyc_size);
		else
			bytebuf_put(&b, "nocompile ", 10);
		put_path(&b, v->rel);
		bytebuf_put(&b, "\n", 1);
	}
	if (b.nomem)
		return -ENOMEM;
	if ((ret = sha256_buf(b.p, b.len, sum)) == 0) {
		bytebuf_put(&b, "sha256 ", 7);
		put_hex(&b, sum, sizeof(sum));
		bytebuf_put(&b, "\n", 1);
		ret = b.nomem ? -ENOMEM :
		      io_write_file_at(dfd, PYC_STAMP_FILE, b.p, b.len, 0644);
	}
	free(b.p);
	return ret;
}

/* ---- reading --------------------------------------------------------- */

static int unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int get_hex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int h = unhex(s[2 * i]), l = h < 0 ? -1 : unhex(s[2 * i + 1]);

		if (l < 0)
			return -1;
		out[i] = (unsigned char)(h << 4 | l);
	}
	return s[2 * n] ? -1 : 0;
}

/* Decode a path word in place: 0, or -1 when malformed (a byte that
 * should have been escaped, a bad escape, an escaped NUL, empty). */
static int get_path(char *s)
{
	char *o = s;

	if (!*s)
		return -1;
	for (char *c = s; *c; c++) {
		unsigned char u = (unsigned char)*c;
		int h, l;

		if (u <= 0x20 || u >= 0x7f)
			return -1;
		if (u == '%') {
			if ((h = unhex(c[1])) < 0 || (l = unhex(c[2])) < 0 ||
			    (h == 0 && l == 0))
				return -1;
			u = (unsigned char)(h << 4 | l);
			c += 2;
		}
		*o++ = (char)u;
	}
	*o = '\0';
	return 0;
}

/* A decimal number ending the word at *p (then moved past the word and
 * one separator sep). */
static int get_num(char **p, char sep, long long min, long long *v)
{
	char *end;

	if (**p != '-' && (**p < '0' || **p > '9'))
		return -1;
	errno = 0;
	*v = strtoll(*p, &end, 10);
	if (errno || end == *p || *end != sep || *v < min)
		return -1;
	*p = end + 1;
	return 0;
}

/* A path of the entry or of the bytecode directory: relative, no "." or
 * ".." component; a source also ends in .py. */
static int rel_ok(const char *rel, int py)
{
	size_t n = strlen(rel);

	if (!n || n >= PATH_MAX - 64 || rel[0] == '/' ||
	    (py && (n < 4 || strcmp(rel + n - 3, ".py"))))
		return 0;
	for (const char *p = rel; *p;) {
		size_t c = strcspn(p, "/");

		if (!c || (c == 1 && p[0] == '.') ||
		    (c == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += c + (p[c] == '/');
	}
	return 1;
}

static int parse_dir(struct pyc_stamp *s, char *p, size_t *cap)
{
	struct pyc_stamp_dir *d;
	long long ino, sec, nsec;

	if (get_num(&p, ' ', 1, &ino) || get_num(&p, '.', 0, &sec) ||
	    strspn(p, "0123456789") != 9 || get_num(&p, ' ', 0, &nsec) ||
	    nsec > 999999999 || get_path(p) || !rel_ok(p, 0))
		return -EBADMSG;
	if (s->ndirs == *cap) {
		size_t c = *cap ? 2 * *cap : 64;

		if (!(d = xrealloc(s->dirs, c * sizeof(*d))))
			return -ENOMEM;
		s->dirs = d;
		*cap = c;
	}
	d = &s->dirs[s->ndirs];
	if (!(d->rel = xstrdup(p)))
		return -ENOMEM;
	s->ndirs++;
	d->ino = (uint64_t)ino;
	d->sec = sec;
	d->nsec = (uint32_t)nsec;
	return 0;
}

static int parse_src(struct pyc_stamp *s, char *p, int ok)
{
	long long mtime = 0, size = 0, pyc = 0;

	if (ok && (get_num(&p, ' ', LLONG_MIN, &mtime) ||
		   get_num(&p, ' ', 0, &size) || get_num(&p, ' ', 17, &pyc)))
		return -EBADMSG;
	if (get_path(p) || !rel_ok(p, 1))
		return -EBADMSG;
	return pyc_stamp_add(s, p, ok, mtime, size, pyc);
}

/* "key value" with the value a path word, copied into out. */
static int parse_word(char *line, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	if (strncmp(line, key, k) || line[k] != ' ' || get_path(line + k + 1) ||
	    strlen(line + k + 1) >= len)
		return -EBADMSG;
	memcpy(out, line + k + 1, strlen(line + k + 1) + 1);
	return 0;
}

static int parse_head(struct pyc_stamp *s, char **line)
{
	long long opt, ino;
	char *p;

	if (parse_word(line[0], "entry", s->entry, sizeof(s->entry)) ||
	    parse_word(line[1], "tag", s->tag, sizeof(s->tag)) ||
	    strncmp(line[2], "opt ", 4) ||
	    (p = line[2] + 4, get_num(&p, '\0', 0, &opt)) || opt > 2 ||
	    strcmp(line[3], "mode timestamp") ||
	    strncmp(line[4], "magic ", 6) ||
	    get_hex(line[4] + 6, s->magic, sizeof(s->magic)) ||
	    strncmp(line[5], "manifest ", 9) ||
	    get_hex(line[5] + 9, s->manifest, sizeof(s->manifest)) ||
	    strncmp(line[6], "root ", 5) ||
	    (p = line[6] + 5, get_num(&p, '\0', 1, &ino)))
		return -EBADMSG;
	s->opt = (int)opt;
	s->root_ino = (uint64_t)ino;
	return 0;
}

static int parse(struct pyc_stamp *s, char *text)
{
	char *line[7], *save = NULL, *l;
	size_t dcap = 0;
	int ret = 0, srcs = 0;

	if (strncmp(text, HEAD, strlen(HEAD)))
		return -EBADMSG;
	l = strtok_r(text + strlen(HEAD), "\n", &save);
	for (int i = 0; i < 7; i++, l = strtok_r(NULL, "\n", &save))
		if (!(line[i] = l))
			return -EBADMSG;
	if ((ret = parse_head(s, line)))
		return ret;
	for (; l && !ret; l = strtok_r(NULL, "\n", &save)) {
		int ok = !strncmp(l, "ok ", 3);

		if (!strncmp(l, "dir ", 4) && !srcs) {
			ret = parse_dir(s, l + 4, &dcap);
		} else if (ok || !strncmp(l, "nocompile ", 10)) {
			srcs = 1;
			ret = parse_src(s, l + (ok ? 3 : 10), ok);
		} else {
			ret = -EBADMSG;
		}
	}
	return ret;
}

int pyc_stamp_read(int dfd, struct pyc_stamp *s)
{
	unsigned char sum[32], want[32];
	struct stat st;
	char *text = NULL;
	size_t len = 0, body = 0;
	int fd, ret = 0;

	memset(s, 0, sizeof(*s));
	fd = openat(dfd, PYC_STAMP_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EBADMSG;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > FILE_MAX ||
	    (size_t)st.st_size < strlen(HEAD) + SUM_LINE)
		ret = -EBADMSG;
	else if (!(text = xmalloc((size_t)st.st_size + 1)))
		ret = -ENOMEM;
	while (!ret && len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ret = -EBADMSG;
		else
			len += (size_t)n;
	}
	close(fd);
	if (!ret) {
		text[len] = '\0';
		body = len - SUM_LINE;
		if (strlen(text) != len || text[body - 1] != '\n' ||
		    strncmp(text + body, "sha256 ", 7) || text[len - 1] != '\n')
			ret = -EBADMSG;
	}
	if (!ret) {
		text[len - 1] = '\0';
		if (get_hex(text + body + 7, want, sizeof(want)))
			ret = -EBADMSG;
		else if ((ret = sha256_buf(text, body, sum)) == 0 &&
			 memcmp(sum, want, sizeof(sum)))
			ret = -EBADMSG;
	}
	if (!ret) {
		text[body] = '\0';
		ret = parse(s, text);
	}
	free(text);
	if (ret)
		pyc_stamp_free(s);
	return ret == -ENOMEM || ret == -ENOENT ? ret : ret ? -EBADMSG : 0;
}

void pyc_stamp_free(struct pyc_stamp *s)
{
	free_dirs(s);
	for (size_t i = 0; i < s->nsrc; i++)
		free(s->src[i].rel);
	free(s->src);
	memset(s, 0, sizeof(*s));
}
