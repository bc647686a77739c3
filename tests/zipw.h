/* SPDX-License-Identifier: MIT */
/*
 * zipw - a small zip writer for the C tests that can also lie: every header
 * field the reader checks can be set wrong on purpose (sizes, CRC, offsets,
 * methods, truncated data), so each rejection is reached with an archive
 * that is otherwise valid; and build_wheel, a wheel of given files with a
 * RECORD that can be tampered with. Shared by t_zip and t_zip_stream; all
 * static, one copy per test program. With corpus_dir set, every small
 * archive written is also saved there (the fuzz seed corpus).
 */
#ifndef SPOKE_TESTS_ZIPW_H
#define SPOKE_TESTS_ZIPW_H

#include "cache/record.h"
#include "testlib.h"

#include <errno.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const char *corpus_dir;
static int corpus_n;

/* ---- a zip writer that can lie ------------------------------------------- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		CHECKF(b->p, "out of memory");
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put16(struct buf *b, unsigned v)
{
	unsigned char x[2] = { v & 255, (v >> 8) & 255 };

	put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

struct zent {
	const char *name;
	size_t name_len;		/* 0: strlen(name) */
	const char *local_name;		/* NULL: name */
	const void *data;
	size_t len;
	int method;			/* how data is compressed */
	int hdr_method;			/* -1: method; else written instead */
	unsigned flags;
	uint32_t mode;			/* st_mode for the external attrs */
	int host;			/* 3 unless set (use -1 for 0) */
	int zip64, descriptor, bad_crc;
	int64_t size_adj;		/* added to both central sizes */
	int64_t usize_adj;		/* added to the uncompressed size */
	int64_t off;			/* > 0: central local offset */
	int same_off;			/* central offset = previous entry's */
	size_t truncate;		/* drop bytes off compressed data */
};

struct zw {
	struct buf out, cd;
	size_t count;
	uint64_t last_off;
};

static void compress(const struct zent *e, struct buf *c)
{
	if (e->method == 8) {
		struct libdeflate_compressor *d = libdeflate_alloc_compressor(6);
		size_t cap = libdeflate_deflate_compress_bound(d, e->len), n;

		c->p = malloc(cap + 1);
		n = libdeflate_deflate_compress(d, e->data, e->len, c->p, cap);
		CHECKF(n > 0, "deflate failed");
		c->len = n;
		libdeflate_free_compressor(d);
	} else if (e->method == 93) {
		size_t cap = ZSTD_compressBound(e->len), n;

		c->p = malloc(cap + 1);
		n = ZSTD_compress(c->p, cap, e->data, e->len, 3);
		CHECKF(!ZSTD_isError(n), "zstd failed");
		c->len = n;
	} else {
		c->p = malloc(e->len + 1);
		if (e->len)
			memcpy(c->p, e->data, e->len);
		c->len = e->len;
	}
	c->len -= e->truncate;
}

static void zw_add(struct zw *w, const struct zent *e)
{
	struct buf c = { 0 };
	size_t nlen = e->name_len ? e->name_len : strlen(e->name);
	const char *lname = e->local_name ? e->local_name : e->name;
	size_t lnlen = e->local_name ? strlen(lname) : nlen;
	uint32_t crc = libdeflate_crc32(0, e->data, e->len) ^ !!e->bad_crc;
	unsigned method = e->hdr_method > 0 ? (unsigned)e->hdr_method :
			  (unsigned)e->method;
	unsigned flags = e->flags | (e->descriptor ? 8 : 0);
	unsigned host = e->host ? (e->host < 0 ? 0 : (unsigned)e->host) : 3;
	uint64_t off = w->out.len, csize, usize;

	compress(e, &c);
	csize = c.len + (uint64_t)e->size_adj;
	usize = e->len + (uint64_t)e->size_adj + (uint64_t)e->usize_adj;
	put32(&w->out, 0x04034b50);
	put16(&w->out, e->zip64 ? 45 : 20);
	put16(&w->out, flags);
	put16(&w->out, method);
	put16(&w->out, 0);
	put16(&w->out, 0x21);
	put32(&w->out, e->descriptor ? 0 : crc);
	put32(&w->out, e->descriptor ? 0 : e->zip64 ? 0xffffffffu :
	      (uint32_t)csize);
	put32(&w->out, e->descriptor ? 0 : e->zip64 ? 0xffffffffu :
	      (uint32_t)usize);
	put16(&w->out, (unsigned)lnlen);
	put16(&w->out, e->zip64 ? 20 : 0);
	put(&w->out, lname, lnlen);
	if (e->zip64) {
		put16(&w->out, 1);
		put16(&w->out, 16);
		put64(&w->out, usize);
		put64(&w->out, csize);
	}
	put(&w->out, c.p, c.len);
	if (e->descriptor) {
		put32(&w->out, 0x08074b50);
		put32(&w->out, crc);
		put32(&w->out, (uint32_t)csize);
		put32(&w->out, (uint32_t)usize);
	}
	if (e->off > 0)
		off = (uint64_t)e->off;
	if (e->same_off)
		off = w->last_off;
	w->last_off = off;
	put32(&w->cd, 0x02014b50);
	put16(&w->cd, host << 8 | 20);
	put16(&w->cd, e->zip64 ? 45 : 20);
	put16(&w->cd, flags);
	put16(&w->cd, method);
	put16(&w->cd, 0);
	put16(&w->cd, 0x21);
	put32(&w->cd, crc);
	put32(&w->cd, e->zip64 ? 0xffffffffu : (uint32_t)csize);
	put32(&w->cd, e->zip64 ? 0xffffffffu : (uint32_t)usize);
	put16(&w->cd, (unsigned)nlen);
	put16(&w->cd, e->zip64 ? 28 : 0);
	put16(&w->cd, 0);
	put16(&w->cd, 0);
	put16(&w->cd, 0);
	put32(&w->cd, e->mode << 16);
	put32(&w->cd, e->zip64 ? 0xffffffffu : (uint32_t)off);
	put(&w->cd, e->name, nlen);
	if (e->zip64) {
		put16(&w->cd, 1);
		put16(&w->cd, 24);
		put64(&w->cd, usize);
		put64(&w->cd, csize);
		put64(&w->cd, off);
	}
	w->count++;
	free(c.p);
}

static void zw_finish(struct zw *w, int zip64, const char *comment)
{
	uint64_t cd_off = w->out.len, cd_len = w->cd.len, rec = 0;
	size_t clen = comment ? strlen(comment) : 0;

	put(&w->out, w->cd.p, w->cd.len);
	if (zip64) {
		rec = w->out.len;
		put32(&w->out, 0x06064b50);
		put64(&w->out, 44);
		put16(&w->out, 45);
		put16(&w->out, 45);
		put32(&w->out, 0);
		put32(&w->out, 0);
		put64(&w->out, w->count);
		put64(&w->out, w->count);
		put64(&w->out, cd_len);
		put64(&w->out, cd_off);
		put32(&w->out, 0x07064b50);
		put32(&w->out, 0);
		put64(&w->out, rec);
		put32(&w->out, 1);
	}
	put32(&w->out, 0x06054b50);
	put16(&w->out, 0);
	put16(&w->out, 0);
	put16(&w->out, zip64 ? 0xffff : (unsigned)w->count);
	put16(&w->out, zip64 ? 0xffff : (unsigned)w->count);
	put32(&w->out, zip64 ? 0xffffffffu : (uint32_t)cd_len);
	put32(&w->out, zip64 ? 0xffffffffu : (uint32_t)cd_off);
	put16(&w->out, (unsigned)clen);
	put(&w->out, comment, clen);
	free(w->cd.p);
	w->cd = (struct buf){ 0 };
	if (corpus_dir && w->out.len < 20000) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/t_zip-%03d.zip", corpus_dir,
			 corpus_n++);
		f = fopen(path, "wb");
		CHECKF(f, "%s: %s", path, strerror(errno));
		fwrite(w->out.p, 1, w->out.len, f);
		fclose(f);
	}
}

/* ---- wheels -------------------------------------------------------------- */

struct wfile {
	const char *name;
	const char *data;
	size_t len;
	int method;
	uint32_t mode;
};

enum tamper { T_NONE, T_HASH, T_SIZE, T_MISSING_ROW, T_EXTRA_ROW, T_NOHASH,
	      T_TWO_DISTINFO, T_NO_RECORD, T_BAD_RECORD };

/* A wheel of files plus pkg-1.0.dist-info/RECORD, tampered as asked. */
static void build_wheel(struct zw *w, const struct wfile *f, size_t n,
			enum tamper t)
{
	struct record rec = { 0 };
	char *text;
	size_t tlen;

	*w = (struct zw){ 0 };
	for (size_t i = 0; i < n; i++) {
		struct zent e = { .name = f[i].name, .data = f[i].data,
				  .len = f[i].len, .method = f[i].method,
				  .mode = f[i].mode ? f[i].mode : 0100644 };
		unsigned char dig[32];

		zw_add(w, &e);
		if (i == 0 && t == T_MISSING_ROW)
			continue;
		sha256_buf(f[i].data, f[i].len, dig);
		if (i == 0 && t == T_HASH)
			dig[5] ^= 1;
		CHECKF(!record_add(&rec, f[i].name, t == T_NOHASH && i == 0 ?
				  NULL : "sha256", dig, t == T_NOHASH &&
				  i == 0 ? 0 : 32, (int64_t)f[i].len +
				  (i == 0 && t == T_SIZE)), "record_add");
	}
	if (t == T_EXTRA_ROW)
		record_add(&rec, "pkg/ghost.py", "sha256",
			   "0123456789abcdef0123456789abcdef", 32, 3);
	record_add(&rec, "pkg-1.0.dist-info/RECORD", NULL, NULL, 0, -1);
	CHECKF(!record_format(&rec, &text, &tlen), "record_format");
	if (t == T_BAD_RECORD)
		text[0] = '"';
	if (t != T_NO_RECORD) {
		struct zent e = { .name = "pkg-1.0.dist-info/RECORD",
				  .data = text, .len = tlen, .method = 8,
				  .mode = 0100644 };

		zw_add(w, &e);
	}
	if (t == T_TWO_DISTINFO) {
		struct zent e = { .name = "other-2.0.dist-info/METADATA",
				  .data = "x", .len = 1 };

		zw_add(w, &e);
	}
	zw_finish(w, 0, NULL);
	free(text);
	record_free(&rec);
}

#endif
