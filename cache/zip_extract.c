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
#include <zstd.h>

#define CHUNK (256u << 10)

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
	return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen, "%s: %s: deflate data %s",
		    z->label, e->name,
		    r == LIBDEFLATE_SHORT_OUTPUT ? "is shorter than its size" :
		    r == LIBDEFLATE_INSUFFICIENT_SPACE ?
		    "does not end within its size" : "is corrupt");
}

static int extract_deflate(const struct zip *z, const struct zip_entry *e,
			   struct zip_sink *s, char *err, size_t errlen)
{
	uint32_t crc = 0;
	void *buf = NULL;
	char eb[128];
	int ret, direct = 0;

	if (s->direct && e->size >= s->direct_min) {
		ret = s->direct(s, e->size, &buf);
		if (ret < 0)
			return errmsg_fail(ret, err, errlen, "%s: %s: write: %s",
				    z->label, e->name,
				    errmsg_str(ret, eb, sizeof(eb)));
		direct = ret == 0;
	}
	if (!direct) {
		buf = xmalloc((size_t)e->size);
		if (!buf)
			return errmsg_fail(-ENOMEM, err, errlen,
				    "%s: %s: out of memory for %llu bytes",
				    z->label, e->name,
				    (unsigned long long)e->size);
	}
	ret = inflate_into(z, e, buf, err, errlen);
	if (ret)
		goto out;
	if (direct) {
		crc = libdeflate_crc32(0, buf, (size_t)e->size);
		ret = check_crc(z, e, crc, err, errlen);
	} else {
		ret = emit(z, e, s, buf, (size_t)e->size, &crc, err, errlen);
		if (!ret)
			ret = check_crc(z, e, crc, err, errlen);
	}
out:
	if (direct) {
		int r2 = s->direct_done(s, buf, e->size, ret == 0);

		if (!ret && r2)
			ret = errmsg_fail(r2, err, errlen, "%s: %s: write: %s",
				   z->label, e->name,
				   errmsg_str(r2, eb, sizeof(eb)));
	} else {
		free(buf);
	}
	return ret;
}

static int extract_zstd(const struct zip *z, const struct zip_entry *e,
			struct zip_sink *s, char *err, size_t errlen)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t cap = ZSTD_DStreamOutSize();
	unsigned char *buf = xmalloc(cap);
	ZSTD_inBuffer in = { z->map + e->data_off, (size_t)e->comp_size, 0 };
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

/* An entry's compressed bytes are read once: their pages go back after
 * extraction, so a cold install inflating every wheel at once keeps
 * resident what it is reading, not every wheel it has read (peak RSS
 * counts each touched page of a mapping). Only whole pages inside the
 * entry: the edge pages hold a neighbour's header or data. A page read
 * again (a retried wheel) comes back from the page cache. */
static void give_back(const struct zip *z, const struct zip_entry *e)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)(z->map + e->data_off);
	uintptr_t b = a + (uintptr_t)e->comp_size;

	a = (a + pg - 1) & ~(pg - 1);
	b &= ~(pg - 1);
	/* Advice only: on failure the pages just stay resident. */
	if (z->file_backed && b > a &&
	    madvise((void *)a, b - a, MADV_DONTNEED) < 0)
		return;
}

static int extract(const struct zip *z, const struct zip_entry *e,
		   struct zip_sink *s, char *err, size_t errlen)
{
	uint32_t crc = 0;
	int ret;

	switch (e->method) {
	case ZIP_STORED:
		ret = emit(z, e, s, z->map + e->data_off, (size_t)e->size,
			   &crc, err, errlen);
		return ret ? ret : check_crc(z, e, crc, err, errlen);
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
	give_back(z, e);
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
