/* SPDX-License-Identifier: MIT */
/*
 * record - see record.h. The parser is a small state machine over the whole
 * buffer rather than a line splitter, because a quoted path may contain a
 * newline, and line numbers in messages must still count real lines. Fields
 * are unescaped into one scratch buffer as large as the input, so parsing
 * makes one allocation per row (its path) plus the row array.
 */
#include "cache/record.h"
#include "base/alloc.h"
#include "spoke.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err && errlen) {
		n = snprintf(err, errlen, "RECORD line %zu: ", line);
		if (n >= 0 && (size_t)n < errlen) {
			va_start(ap, fmt);
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return SPOKE_E_BADWHEEL;
}

/* ---- base64url, hex ------------------------------------------------------ */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_encode(const void *in, size_t n, char *out, size_t outcap)
{
	const unsigned char *p = in;
	size_t need = b64url_len(n), o = 0, i;

	if (outcap < need + 1)
		return -ENOSPC;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];

		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (n - i == 1) {
		out[o++] = b64chars[p[i] >> 2];
		out[o++] = b64chars[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];

		out[o++] = b64chars[v >> 10];
		out[o++] = b64chars[(v >> 4) & 63];
		out[o++] = b64chars[(v & 15) << 2];
	}
	out[o] = '\0';
	return (int)o;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int b64url_decode(const char *in, size_t n, void *out, size_t outcap)
{
	unsigned char *o = out;
	size_t i, pad = 0, bytes, k = 0;
	uint32_t acc = 0;

	while (n > 0 && in[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad && (n + pad) % 4))
		return -EINVAL;
	bytes = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (bytes > outcap)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			o[k++] = (unsigned char)(acc >> 16);
			o[k++] = (unsigned char)(acc >> 8);
			o[k++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* Unused low bits must be zero: one digest, one spelling. */
	if (n % 4 == 2) {
		if (acc & 15)
			return -EINVAL;
		o[k++] = (unsigned char)(acc >> 4);
	} else if (n % 4 == 3) {
		if (acc & 3)
			return -EINVAL;
		o[k++] = (unsigned char)(acc >> 10);
		o[k++] = (unsigned char)(acc >> 2);
	}
	return (int)k;
}

void hex_encode(const void *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- digests -------------------------------------------------------------- */

static const char *const algo_names[] = { "sha256", "sha384", "sha512" };
static const char *const evp_names[] = { "SHA256", "SHA384", "SHA512" };
static const size_t algo_sizes[] = { 32, 48, 64 };
static EVP_MD *algo_md[3];
static pthread_once_t algo_once = PTHREAD_ONCE_INIT;

/* Fetching once avoids OpenSSL 3's implicit fetch (a locked provider
 * lookup) on every file. */
static void algo_fetch(void)
{
	for (int i = 0; i < 3; i++)
		algo_md[i] = EVP_MD_fetch(NULL, evp_names[i], NULL);
}

static int algo_index(const char *algo)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(algo, algo_names[i]) == 0)
			return i;
	return -1;
}

size_t digest_size(const char *algo)
{
	int i = algo_index(algo);

	return i < 0 ? 0 : algo_sizes[i];
}

int digest_init(struct digest *d, const char *algo)
{
	int i = algo_index(algo);

	d->ctx = NULL;
	d->len = 0;
	if (i < 0)
		return -EINVAL;
	pthread_once(&algo_once, algo_fetch);
	if (!algo_md[i])
		return -EIO;
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx)
		return -ENOMEM;
	if (!EVP_DigestInit_ex2(d->ctx, algo_md[i], NULL)) {
		digest_free(d);
		return -EIO;
	}
	d->len = algo_sizes[i];
	return 0;
}

int digest_update(struct digest *d, const void *p, size_t n)
{
	return EVP_DigestUpdate(d->ctx, p, n) ? 0 : -EIO;
}

int digest_final(struct digest *d, unsigned char *out)
{
	int ok = EVP_DigestFinal_ex(d->ctx, out, NULL);

	digest_free(d);
	return ok ? 0 : -EIO;
}

void digest_free(struct digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

int sha256_buf(const void *p, size_t n, unsigned char out[32])
{
	pthread_once(&algo_once, algo_fetch);
	if (!algo_md[0])
		return -EIO;
	return EVP_Digest(p, n, out, NULL, algo_md[0], NULL) ? 0 : -EIO;
}

/* ---- rows ----------------------------------------------------------------- */

void record_free(struct record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->rows[i].path);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

static int algo_ok(const char *a, size_t len)
{
	if (len == 0 || len >= RECORD_ALGO_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = a[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static struct record_row *grow(struct record *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct record_row *rows;

		if (cap > SIZE_MAX / sizeof(*rows))
			return NULL;
		rows = xrealloc(r->rows, cap * sizeof(*rows));
		if (!rows)
			return NULL;
		r->rows = rows;
		r->cap = cap;
	}
	return memset(&r->rows[r->n], 0, sizeof(r->rows[0]));
}

int record_reserve(struct record *r, size_t n)
{
	struct record_row *rows;

	if (n <= r->cap)
		return 0;
	if (n > SIZE_MAX / sizeof(*rows) ||
	    !(rows = xrealloc(r->rows, n * sizeof(*rows))))
		return -ENOMEM;
	r->rows = rows;
	r->cap = n;
	return 0;
}

/* Validate and append, taking ownership of path (freed on failure). */
static int add_owned(struct record *r, char *path, const char *algo,
		     const void *digest, size_t digest_len, int64_t size)
{
	struct record_row *row;
	size_t alen = algo ? strlen(algo) : 0, want = 0;
	int ret = -EINVAL;

	if (!*path || size < -1 || digest_len > RECORD_DIGEST_MAX)
		goto out;
	if (alen && (!algo_ok(algo, alen) || digest_len == 0))
		goto out;
	if (!alen && digest_len)
		goto out;
	if (alen)
		want = digest_size(algo);
	if (want && digest_len != want)
		goto out;
	ret = -ENOMEM;
	row = grow(r);
	if (!row)
		goto out;
	row->path = path;
	memcpy(row->algo, alen ? algo : "", alen + 1);
	if (digest_len)
		memcpy(row->digest, digest, digest_len);
	row->digest_len = digest_len;
	row->size = size;
	r->n++;
	return 0;
out:
	free(path);
	return ret;
}

int record_add(struct record *r, const char *path, const char *algo,
	       const void *digest, size_t digest_len, int64_t size)
{
	char *p = xstrdup(path);

	if (!p)
		return -ENOMEM;
	return add_owned(r, p, algo, digest, digest_len, size);
}

struct field {
	size_t off, len;
	int quoted;
};

static int parse_row(struct record *r, const char *s, const struct field *f,
		     size_t line, char *err, size_t errlen)
{
	const char *path = s + f[0].off, *h = s + f[1].off, *z = s + f[2].off;
	char algo[RECORD_ALGO_MAX] = "";
	unsigned char dig[RECORD_DIGEST_MAX];
	int64_t size = -1;
	int dlen = 0, ret;
	char *p;

	if (f[0].len == 0)
		return fail(err, errlen, line, "empty path");
	if (memchr(path, '\0', f[0].len) || memchr(h, '\0', f[1].len) ||
	    memchr(z, '\0', f[2].len))
		return fail(err, errlen, line, "NUL byte");
	if (f[1].len) {
		const char *eq = memchr(h, '=', f[1].len);
		size_t alen, want;

		if (!eq)
			return fail(err, errlen, line, "hash '%.*s' has no '='",
				    (int)(f[1].len > 80 ? 80 : f[1].len), h);
		alen = (size_t)(eq - h);
		if (!algo_ok(h, alen))
			return fail(err, errlen, line, "bad hash algorithm "
				    "'%.*s'", (int)(alen > 20 ? 20 : alen), h);
		memcpy(algo, h, alen);
		algo[alen] = '\0';
		dlen = b64url_decode(eq + 1, f[1].len - alen - 1, dig,
				     sizeof(dig));
		if (dlen <= 0)
			return fail(err, errlen, line, "%s",
				    dlen == -ENOSPC ? "digest longer than 64 "
				    "bytes" : dlen == 0 ? "empty digest" :
				    "bad base64 in digest");
		want = digest_size(algo);
		if (want && (size_t)dlen != want)
			return fail(err, errlen, line, "%s digest of %d bytes "
				    "(expected %zu)", algo, dlen, want);
	}
	if (f[2].len) {
		size = 0;
		for (size_t i = 0; i < f[2].len; i++) {
			if (z[i] < '0' || z[i] > '9' ||
			    size > (INT64_MAX - (z[i] - '0')) / 10)
				return fail(err, errlen, line, "bad size "
					    "'%.*s'", (int)(f[2].len > 30 ? 30 :
					    f[2].len), z);
			size = size * 10 + (z[i] - '0');
		}
	}
	p = xstrndup(path, f[0].len);
	if (!p)
		return -ENOMEM;
	ret = add_owned(r, p, algo, dig, (size_t)dlen, size);
	if (ret == -EINVAL)
		ret = fail(err, errlen, line, "invalid row");
	return ret;
}

int record_parse(const char *buf, size_t len, struct record *out, char *err,
		 size_t errlen)
{
	size_t pos = 0, line = 1;
	char *s;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	s = xmalloc(len + 1);
	if (!s)
		return -ENOMEM;
	/* One row per line end at most (a quoted newline or a blank line
	 * only makes it more): the rows of a 30,000-file RECORD are
	 * allocated once, not doubled (and copied) ten times. */
	if (len > 0) {
		size_t lines = 1;

		for (const char *c = buf, *end = buf + len;
		     (c = memchr(c, '\n', (size_t)(end - c))); c++)
			lines++;
		if (lines == 1)
			for (size_t i = 0; i < len; i++)
				lines += buf[i] == '\r';
		if (lines > SIZE_MAX / sizeof(*out->rows) ||
		    !(out->rows = xmalloc(lines * sizeof(*out->rows)))) {
			free(s);
			return -ENOMEM;
		}
		out->cap = lines;
	}
	while (pos < len) {
		struct field f[3];
		size_t nf = 0, sp = 0, row_line = line;

		for (;;) {
			size_t start = sp;
			int quoted = 0;

			if (pos < len && buf[pos] == '"') {
				quoted = 1;
				pos++;
				for (;;) {
					if (pos >= len) {
						ret = fail(err, errlen, row_line,
							   "unterminated quote");
						goto out;
					}
					if (buf[pos] == '"') {
						if (pos + 1 < len &&
						    buf[pos + 1] == '"') {
							s[sp++] = '"';
							pos += 2;
							continue;
						}
						pos++;
						break;
					}
					if (buf[pos] == '\n')
						line++;
					s[sp++] = buf[pos++];
				}
				if (pos < len && buf[pos] != ',' &&
				    buf[pos] != '\n' && buf[pos] != '\r') {
					ret = fail(err, errlen, line,
						   "text after a closing quote");
					goto out;
				}
			} else {
				while (pos < len && buf[pos] != ',' &&
				       buf[pos] != '\n' && buf[pos] != '\r')
					s[sp++] = buf[pos++];
			}
			if (nf < 3)
				f[nf] = (struct field){ start, sp - start,
							quoted };
			nf++;
			if (pos < len && buf[pos] == ',') {
				pos++;
				continue;
			}
			if (pos < len && buf[pos] == '\r')
				pos++;
			if (pos < len && buf[pos] == '\n')
				pos++;
			line++;
			break;
		}
		if (nf == 1 && f[0].len == 0 && !f[0].quoted)
			continue;
		if (nf != 3) {
			ret = fail(err, errlen, row_line, "%zu field%s instead "
				   "of 3 (path,hash,size)", nf,
				   nf == 1 ? "" : "s");
			goto out;
		}
		ret = parse_row(out, s, f, row_line, err, errlen);
		if (ret)
			goto out;
	}
out:
	free(s);
	if (ret)
		record_free(out);
	return ret;
}

int record_hash_field(const struct record_row *row, char *buf, size_t buflen)
{
	size_t alen = strlen(row->algo);
	int n;

	if (!alen) {
		if (buflen < 1)
			return -ENOSPC;
		buf[0] = '\0';
		return 0;
	}
	if (buflen < alen + 2)
		return -ENOSPC;
	memcpy(buf, row->algo, alen);
	buf[alen] = '=';
	n = b64url_encode(row->digest, row->digest_len, buf + alen + 1,
			  buflen - alen - 1);
	return n < 0 ? n : (int)alen + 1 + n;
}

int record_format(const struct record *r, char **out, size_t *outlen)
{
	size_t cap = 1, o = 0;
	char *s;

	*out = NULL;
	*outlen = 0;
	for (size_t i = 0; i < r->n; i++)
		cap += 2 * strlen(r->rows[i].path) + 2 + RECORD_ALGO_MAX +
		       b64url_len(RECORD_DIGEST_MAX) + 2 + 21 + 1;
	s = xmalloc(cap);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		const struct record_row *row = &r->rows[i];
		const char *p = row->path;
		int n;

		if (strpbrk(p, ",\"\r\n")) {
			s[o++] = '"';
			for (; *p; p++) {
				if (*p == '"')
					s[o++] = '"';
				s[o++] = *p;
			}
			s[o++] = '"';
		} else {
			size_t l = strlen(p);

			memcpy(s + o, p, l);
			o += l;
		}
		s[o++] = ',';
		n = record_hash_field(row, s + o, cap - o);
		o += n > 0 ? (size_t)n : 0;
		s[o++] = ',';
		if (row->size >= 0)
			o += (size_t)snprintf(s + o, cap - o, "%lld",
					      (long long)row->size);
		s[o++] = '\n';
	}
	s[o] = '\0';
	/* cap is the worst case, about twice the text: give the rest back
	 * (a run keeps every wheel's text until its RECORD is written). */
	if (o + 1 < cap) {
		char *t = xrealloc(s, o + 1);

		if (t)
			s = t;
	}
	*out = s;
	*outlen = o;
	return 0;
}

/* ---- index ---------------------------------------------------------------- */

static uint64_t path_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

long record_index_find(const struct record_index *ix, const char *path,
		       size_t len)
{
	if (!ix->slot)
		return -1;
	for (size_t h = path_hash(path, len) & ix->mask;;
	     h = (h + 1) & ix->mask) {
		const char *p;

		if (!ix->slot[h])
			return -1;
		p = ix->r->rows[ix->slot[h] - 1].path;
		if (strncmp(p, path, len) == 0 && p[len] == '\0')
			return (long)ix->slot[h] - 1;
	}
}

int record_index_build(struct record_index *ix, const struct record *r,
		       char *err, size_t errlen)
{
	size_t cap = 16;

	ix->r = r;
	if (r->n > UINT32_MAX / 4)
		return -ENOMEM;
	while (cap < r->n * 2)
		cap <<= 1;
	ix->slot = xcalloc(cap, sizeof(*ix->slot));
	if (!ix->slot)
		return -ENOMEM;
	ix->mask = cap - 1;
	for (size_t i = 0; i < r->n; i++) {
		const char *p = r->rows[i].path;
		size_t len = strlen(p), h;

		if (record_index_find(ix, p, len) >= 0) {
			if (err && errlen)
				snprintf(err, errlen, "RECORD lists %s twice",
					 p);
			record_index_free(ix);
			return SPOKE_E_BADWHEEL;
		}
		for (h = path_hash(p, len) & ix->mask; ix->slot[h];
		     h = (h + 1) & ix->mask)
			;
		ix->slot[h] = (uint32_t)i + 1;
	}
	return 0;
}

void record_index_free(struct record_index *ix)
{
	free(ix->slot);
	ix->slot = NULL;
}
