/* SPDX-License-Identifier: MIT */
/*
 * zip_extract - decompression half of the zip reader (see zip.h). zip_open
 * has already proven every range used here lies inside the mapping, so this
 * file only has to be right about the codecs: each produces exactly the
 * central directory's size or fails, and the CRC-32 is computed over each
 * chunk just before the sink sees it.
 */
#include "base/errmsg.h"
#include "cache/zip.h"
#include "cache/zip_int.h"
#include "base/alloc.h"
#include "spoke.h"

#include <errno.h>
#include <libdeflate.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define CHUNK (256u << 10)

/*
 * The compressed bytes are read once, so their pages of the .whl mapping
 * go back as extraction moves on: peak RSS counts every touched page of a
 * mapping, and a cold install reads every wheel. Dropping any page of this
 * read-only private file mapping is always safe, even while another worker
 * reads it: the next access faults it in again from the page cache. So the
 * whole mapping is given back every SWEEP bytes of entries extracted (one
 * madvise per few MiB, not one per file: a wheel is mostly small entries
 * that share pages with their neighbours), and a large entry gives back
 * what it has read every SWEEP bytes while it streams.
 */
#define SWEEP (4u << 20)

void zip_drop(const struct zip *z, const void *a, const void *b)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)a & ~(pg - 1), hi = (uintptr_t)b;

	/* Advice only: on failure the pages just stay resident. */
	if (z->file_backed && hi > lo &&
	    madvise((void *)lo, hi - lo, MADV_DONTNEED) < 0)
		return;
}

/* Within one entry: give back [*from, upto) once it is SWEEP long. */
static void drop_read(const struct zip *z, const unsigned char **from,
		      const unsigned char *upto)
{
	if (upto - *from < (ptrdiff_t)SWEEP)
		return;
	zip_drop(z, *from, upto);
	*from = upto;
}

/* After each entry: the whole mapping once SWEEP bytes were read. The
 * counter is the one field of a zip that changes after open. */
static void sweep(const struct zip *z, const struct zip_entry *e)
{
	atomic_uint_least64_t *n = (atomic_uint_least64_t *)&z->unreleased;

	if (!z->file_backed || atomic_fetch_add_explicit(n, e->comp_size,
			memory_order_relaxed) + e->comp_size < SWEEP)
		return;
	atomic_store_explicit(n, 0, memory_order_relaxed);
	zip_drop(z, z->map, z->map + z->map_len);
}

/* Hand out in chunks so the CRC and the sink's hash read each piece while
 * it is still in cache. */
static int emit(const struct zip *z, const struct zip_entry *e,
		struct zip_sink *s, const unsigned char *p, size_t len,
		uint32_t *crc, char *err, size_t errlen)
{
	char eb[128];

	while (len) {
		size_t n = len < CHUNK ? len : CHUNK;
		int ret;

		*crc = libdeflate_crc32(*crc, p, n);
		ret = s->write(s, p, n);
		if (ret)
			return errmsg_fail(ret, err, errlen, "%s: %s: write: %s",
				    z->label, e->name,
				    errmsg_str(ret, eb, sizeof(eb)));
		p += n;
		len -= n;
	}
	return 0;
}

static int check_crc(const struct zip *z, const struct zip_entry *e,
		     uint32_t crc, char *err, size_t errlen)
{
	if (crc == e->crc32)
		return 0;
	return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
		    "%s: %s: CRC-32 mismatch (central directory says %08x, "
		    "data has %08x)", z->label, e->name, e->crc32, crc);
}

enum deflate_bad { CORRUPT, SHORTER, LONGER };

/* One wording for both inflaters, so a wheel fails the same whichever
 * path its entry's size took. */
static int deflate_fail(const struct zip *z, const struct zip_entry *e,
			enum deflate_bad why, char *err, size_t errlen)
{
	return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen, "%s: %s: deflate data %s",
		    z->label, e->name,
		    why == SHORTER ? "is shorter than its size" :
		    why == LONGER ? "does not end within its size" :
		    "is corrupt");
}

/* The whole entry in one call: libdeflate is about twice zlib's speed
 * on the small entries that make up nearly all of a wheel. */
static int inflate_into(const struct zip *z, const struct zip_entry *e,
			void *buf, char *err, size_t errlen)
{
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	enum libdeflate_result r;

	if (!d)
		return errmsg_fail(-ENOMEM, err, errlen, "%s: %s: out of memory",
			    z->label, e->name);
	/* No actual_out: libdeflate then insists on exactly e->size bytes. */
	r = libdeflate_deflate_decompress(d, z->map + e->data_off,
					  (size_t)e->comp_size, buf,
					  (size_t)e->size, NULL);
	libdeflate_free_decompressor(d);
	if (r == LIBDEFLATE_SUCCESS)
		return 0;
	return deflate_fail(z, e, r == LIBDEFLATE_SHORT_OUTPUT ? SHORTER :
			    r == LIBDEFLATE_INSUFFICIENT_SPACE ? LONGER :
			    CORRUPT, err, errlen);
}

/* Feed zlib at most this much input per call: avail_in is 32 bits and a
 * ZIP64 entry is not. */
#define FEED_MAX (1u << 30)

static void feed(z_stream *zs, const unsigned char **in, uint64_t *left)
{
	if (zs->avail_in || !*left)
		return;
	zs->next_in = (unsigned char *)(uintptr_t)*in;
	zs->avail_in = *left < FEED_MAX ? (uInt)*left : FEED_MAX;
	*in += zs->avail_in;
	*left -= zs->avail_in;
}

/* zlib's streaming inflate, CHUNK bytes of output at a time: a large
 * entry costs one chunk of memory, not its size. Same outcomes and
 * messages as the whole-buffer path. */
static int inflate_stream(const struct zip *z, const struct zip_entry *e,
			  struct zip_sink *s, char *err, size_t errlen)
{
	const unsigned char *in = z->map + e->data_off, *from = in;
	uint64_t in_left = e->comp_size, out_left = e->size;
	unsigned char *buf = xmalloc(CHUNK), one;
	z_stream zs = { 0 };
	uint32_t crc = 0;
	int ret = 0, r = Z_OK;

	if (!buf || inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
		free(buf);
		return errmsg_fail(-ENOMEM, err, errlen, "%s: %s: out of memory",
			    z->label, e->name);
	}
	while (out_left && r != Z_STREAM_END) {
		size_t want = out_left < CHUNK ? (size_t)out_left : CHUNK, got;

		zs.next_out = buf;
		zs.avail_out = (uInt)want;
		do {
			feed(&zs, &in, &in_left);
			r = inflate(&zs, Z_NO_FLUSH);
		} while (r == Z_OK && zs.avail_out && (zs.avail_in || in_left));
		got = want - zs.avail_out;
		if (r == Z_MEM_ERROR) {
			ret = errmsg_fail(-ENOMEM, err, errlen, "%s: %s: out of "
				   "memory", z->label, e->name);
			goto out;
		}
		/* Out of input short of the end is as corrupt as bad codes. */
		if (r == Z_DATA_ERROR || r == Z_NEED_DICT || r == Z_STREAM_ERROR ||
		    (r != Z_STREAM_END && zs.avail_out && !zs.avail_in &&
		     !in_left)) {
			ret = deflate_fail(z, e, CORRUPT, err, errlen);
			goto out;
		}
		ret = emit(z, e, s, buf, got, &crc, err, errlen);
		if (ret)
			goto out;
		out_left -= got;
		drop_read(z, &from, zs.next_in);
	}
	if (r != Z_STREAM_END) {
		/* All the bytes the size allows are out: the stream must end
		 * here, with no more output. */
		do {
			zs.next_out = &one;
			zs.avail_out = 1;
			feed(&zs, &in, &in_left);
			r = inflate(&zs, Z_NO_FLUSH);
		} while (r == Z_OK && zs.avail_out && (zs.avail_in || in_left));
		if (!zs.avail_out)
			ret = deflate_fail(z, e, LONGER, err, errlen);
		else if (r != Z_STREAM_END)
			ret = deflate_fail(z, e, CORRUPT, err, errlen);
	} else if (out_left) {
		ret = deflate_fail(z, e, SHORTER, err, errlen);
	}
	if (!ret)
		ret = check_crc(z, e, crc, err, errlen);
out:
	inflateEnd(&zs);
	free(buf);
	return ret;
}

static int extract_deflate(const struct zip *z, const struct zip_entry *e,
			   struct zip_sink *s, char *err, size_t errlen)
{
	uint64_t stream_min = s->stream_min ? s->stream_min :
			      ZIP_STREAM_MIN_DEFAULT;
	uint32_t crc = 0;
	void *buf;
	int ret;

	if (e->size >= stream_min)
		return inflate_stream(z, e, s, err, errlen);
	buf = xmalloc(e->size ? (size_t)e->size : 1);
	if (!buf)
		return errmsg_fail(-ENOMEM, err, errlen,
			    "%s: %s: out of memory for %llu bytes",
			    z->label, e->name, (unsigned long long)e->size);
	ret = inflate_into(z, e, buf, err, errlen);
	if (!ret)
		ret = emit(z, e, s, buf, (size_t)e->size, &crc, err, errlen);
	if (!ret)
		ret = check_crc(z, e, crc, err, errlen);
	free(buf);
	return ret;
}

static int extract_zstd(const struct zip *z, const struct zip_entry *e,
			struct zip_sink *s, char *err, size_t errlen)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t cap = ZSTD_DStreamOutSize();
	unsigned char *buf = xmalloc(cap);
	ZSTD_inBuffer in = { z->map + e->data_off, (size_t)e->comp_size, 0 };
	const unsigned char *from = in.src;
	uint64_t total = 0;
	uint32_t crc = 0;
	int ret = 0;

	if (!dc || !buf) {
		ret = errmsg_fail(-ENOMEM, err, errlen, "%s: %s: out of memory",
			   z->label, e->name);
		goto out;
	}
	for (;;) {
		ZSTD_outBuffer ob = { buf, cap, 0 };
		size_t in_before = in.pos;
		size_t r = ZSTD_decompressStream(dc, &ob, &in);

		if (ZSTD_isError(r)) {
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: zstd data is corrupt (%s)",
				   z->label, e->name, ZSTD_getErrorName(r));
			goto out;
		}
		if (ob.pos > e->size - total) {
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: zstd data is longer than its size",
				   z->label, e->name);
			goto out;
		}
		ret = emit(z, e, s, buf, ob.pos, &crc, err, errlen);
		if (ret)
			goto out;
		total += ob.pos;
		drop_read(z, &from, (const unsigned char *)in.src + in.pos);
		/* r == 0: a frame ended; more input means another frame. */
		if (r == 0 && in.pos == in.size)
			break;
		/* Out of input with room left, or no progress at all: the
		 * stream cannot finish. */
		if ((in.pos == in.size && ob.pos < ob.size) ||
		    (ob.pos == 0 && in.pos == in_before)) {
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: zstd data is truncated", z->label,
				   e->name);
			goto out;
		}
	}
	if (total != e->size)
		ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			   "%s: %s: zstd data is shorter than its size",
			   z->label, e->name);
	else
		ret = check_crc(z, e, crc, err, errlen);
out:
	ZSTD_freeDCtx(dc);
	free(buf);
	return ret;
}

/* Stored entries straight from the mapping, SWEEP at a time. */
static int extract_stored(const struct zip *z, const struct zip_entry *e,
			  struct zip_sink *s, char *err, size_t errlen)
{
	const unsigned char *p = z->map + e->data_off, *from = p;
	uint64_t left = e->size;
	uint32_t crc = 0;

	while (left) {
		size_t n = left < SWEEP ? (size_t)left : SWEEP;
		int ret = emit(z, e, s, p, n, &crc, err, errlen);

		if (ret)
			return ret;
		p += n;
		left -= n;
		drop_read(z, &from, p);
	}
	return check_crc(z, e, crc, err, errlen);
}

static int extract(const struct zip *z, const struct zip_entry *e,
		   struct zip_sink *s, char *err, size_t errlen)
{
	switch (e->method) {
	case ZIP_STORED:
		return extract_stored(z, e, s, err, errlen);
	case ZIP_DEFLATE:
		return extract_deflate(z, e, s, err, errlen);
	case ZIP_ZSTD:
		return extract_zstd(z, e, s, err, errlen);
	default:
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: unsupported compression method %u",
			    z->label, e->name, e->method);
	}
}

int zip_extract(const struct zip *z, const struct zip_entry *e,
		struct zip_sink *s, char *err, size_t errlen)
{
	int ret;

	if (e->is_dir)
		return 0;
	ret = extract(z, e, s, err, errlen);
	sweep(z, e);
	return ret;
}

struct mem_sink {
	struct zip_sink s;
	char *buf;
	size_t len, cap;
};

static int mem_write(struct zip_sink *s, const void *p, size_t n)
{
	struct mem_sink *m = (struct mem_sink *)s;

	if (n > m->cap - m->len)
		return -EFBIG;
	memcpy(m->buf + m->len, p, n);
	m->len += n;
	return 0;
}

int zip_extract_alloc(const struct zip *z, const struct zip_entry *e,
		      size_t max, char **buf, size_t *len, char *err,
		      size_t errlen)
{
	struct mem_sink m = { .s = { .write = mem_write } };
	int ret;

	*buf = NULL;
	*len = 0;
	if (e->size > max)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: %llu bytes is more than the %zu allowed",
			    z->label, e->name, (unsigned long long)e->size,
			    max);
	m.cap = (size_t)e->size;
	m.buf = xmalloc(m.cap + 1);
	if (!m.buf)
		return errmsg_fail(-ENOMEM, err, errlen, "%s: %s: out of memory",
			    z->label, e->name);
	ret = zip_extract(z, e, &m.s, err, errlen);
	if (ret) {
		free(m.buf);
		return ret;
	}
	m.buf[m.len] = '\0';
	*buf = m.buf;
	*len = m.len;
	return 0;
}
