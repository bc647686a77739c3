/* SPDX-License-Identifier: MIT */
/*
 * record - the wheel RECORD file (PEP 376/427, "binary distribution format"):
 * a CSV of "path,algo=digest,size" rows in the default dialect of Python's
 * csv module, the digest in urlsafe base64 without padding. This module
 * parses it into rows, formats rows back into text, indexes rows by path, and
 * provides the digest helpers (OpenSSL EVP) that both the cache and the
 * installer use to produce and check those digests. It knows nothing about
 * where the paths point: installed RECORDs legitimately hold "../../bin/x",
 * so path safety is the caller's business.
 *
 * Parsing accepts: LF, CRLF or lone CR line ends; a last line without one;
 * blank lines (skipped); quoted fields with doubled quotes, which may hold
 * commas and newlines; an empty hash and/or size (RECORD's own row, .pyc
 * rows of installed RECORDs); trailing '=' padding on digests. It rejects,
 * with "RECORD line N: reason" in err and SPOKE_E_BADWHEEL: rows with other
 * than 3 fields, empty paths, NUL bytes, an unterminated quote, text after a
 * closing quote, a hash without '=', a malformed algorithm name, bad base64,
 * a digest longer than 64 bytes or of the wrong length for sha256/384/512,
 * and sizes that are not a plain non-negative decimal fitting in int64.
 */
#ifndef SPOKE_CACHE_RECORD_H
#define SPOKE_CACHE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_ALGO_MAX 16	/* with its NUL */
#define RECORD_DIGEST_MAX 64	/* sha512 */

struct record_row {
	char *path;				/* heap, NUL-terminated */
	char algo[RECORD_ALGO_MAX];		/* "" when the hash is empty */
	unsigned char digest[RECORD_DIGEST_MAX];
	size_t digest_len;
	int64_t size;				/* -1 when empty */
};

/* A zeroed struct record is an empty, valid record. */
struct record {
	struct record_row *rows;
	size_t n, cap;
};

/* Parse buf into *out (overwritten, not freed first). On failure *out is
 * empty and err holds the reason. 0, SPOKE_E_BADWHEEL or -ENOMEM. */
int record_parse(const char *buf, size_t len, struct record *out, char *err,
		 size_t errlen);
/* Release the rows; *r is left empty and reusable. Accepts NULL. */
void record_free(struct record *r);
/* Room for n rows in all without moving them: 0 or -ENOMEM. */
int record_reserve(struct record *r, size_t n);
/* Append a row (path copied). algo may be NULL or "" for no hash; size -1
 * for none. 0, -EINVAL (bad algo name or digest length) or -ENOMEM. */
int record_add(struct record *r, const char *path, const char *algo,
	       const void *digest, size_t digest_len, int64_t size);
/* The text of r, rows in order, '\n' line ends, fields quoted as Python's
 * csv.QUOTE_MINIMAL would. *out is heap (NUL-terminated; *outlen excludes
 * the NUL). 0 or -ENOMEM. */
int record_format(const struct record *r, char **out, size_t *outlen);
/* The hash field of a row ("sha256=..." or "") into buf; length or -ENOSPC. */
int record_hash_field(const struct record_row *row, char *buf, size_t buflen);

/* Path -> row lookup. Build fails with SPOKE_E_BADWHEEL naming a path that
 * appears twice. The record must not change while the index is used. */
struct record_index {
	const struct record *r;
	uint32_t *slot;		/* row index + 1, 0 = empty */
	size_t mask;
};
int record_index_build(struct record_index *ix, const struct record *r,
		       char *err, size_t errlen);
/* Row index of path (len bytes), or -1. */
long record_index_find(const struct record_index *ix, const char *path,
		       size_t len);
void record_index_free(struct record_index *ix);

/* urlsafe base64 without padding. encode writes the text and a NUL; it
 * returns the text length, or -ENOSPC when outcap is too small (needs
 * b64url_len(n) + 1). decode accepts optional trailing '=' padding,
 * rejects other characters and non-zero unused bits, and returns the byte
 * count, -EINVAL or -ENOSPC. */
#define b64url_len(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
int b64url_encode(const void *in, size_t n, char *out, size_t outcap);
int b64url_decode(const char *in, size_t n, void *out, size_t outcap);

/* Lowercase hex of n bytes plus a NUL into out (2n + 1 bytes). */
void hex_encode(const void *in, size_t n, char *out);

/* Incremental digest of a RECORD algorithm: "sha256", "sha384", "sha512"
 * (-EINVAL for any other: the wheel spec forbids md5 and sha1, and nothing
 * else appears in practice). The message digest objects are fetched once per
 * process. */
struct digest {
	void *ctx;	/* EVP_MD_CTX */
	size_t len;	/* digest length */
};
int digest_init(struct digest *d, const char *algo);
int digest_update(struct digest *d, const void *p, size_t n);
/* Writes d->len bytes to out and releases the context (also on failure). */
int digest_final(struct digest *d, unsigned char *out);
void digest_free(struct digest *d);	/* after init, instead of final */
/* Digest length for algo, 0 if unsupported. */
size_t digest_size(const char *algo);
/* One call: sha256 of a buffer. 0 or -ENOMEM/-EIO. */
int sha256_buf(const void *p, size_t n, unsigned char out[32]);

#endif
