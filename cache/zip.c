/* SPDX-License-Identifier: MIT */
/*
 * zip - see zip.h. Everything that extraction relies on is decided at open
 * time, in one place: offsets are checked with subtraction (never addition
 * that could wrap) against the mapping, entries are checked pairwise for
 * overlap after sorting by offset (overlapping entries are how "zip bombs"
 * reuse one compressed stream many times), and names are checked once, so
 * the rest of the engine may trust every zip_entry it is given. The name
 * checks are in zip_names.c.
 */
#include "base/errmsg.h"
#include "cache/zip.h"
#include "cache/zip_int.h"
#include "base/alloc.h"
#include "base/fault.h"
#include "base/name.h"
#include "spoke.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIG_LOCAL	0x04034b50u
#define SIG_CENTRAL	0x02014b50u
#define SIG_EOCD	0x06054b50u
#define SIG_EOCD64	0x06064b50u
#define SIG_LOC64	0x07064b50u
#define EOCD_LEN	22u
#define LOC64_LEN	20u
#define EOCD64_LEN	56u
#define CENTRAL_LEN	46u
#define LOCAL_LEN	30u

#define FLAG_ENCRYPTED	0x0001u
#define FLAG_STRONG	0x0040u
#define FLAG_CD_MASKED	0x2000u

/* Deflate cannot expand data by more than about 1032:1; a central directory
 * claiming more lies, and trusting it would size a heap buffer from it. */
#define DEFLATE_MAX_RATIO 1032u

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* off..off+len fits in [0, limit): written so nothing can wrap. */
static int fits(uint64_t off, uint64_t len, uint64_t limit)
{
	return off <= limit && len <= limit - off;
}

/* Last EOCD signature whose comment fits in the file. Python's zipfile
 * also takes the last one; anything before it would be inside a comment. */
static int find_eocd(const unsigned char *m, size_t len, size_t *eocd)
{
	size_t off, lo;

	if (len < EOCD_LEN)
		return -1;
	lo = len - EOCD_LEN > 0xffff ? len - EOCD_LEN - 0xffff : 0;
	for (off = len - EOCD_LEN + 1; off-- > lo;) {
		if (rd32(m + off) != SIG_EOCD)
			continue;
		if (rd16(m + off + 20) <= len - off - EOCD_LEN) {
			*eocd = off;
			return 0;
		}
	}
	return -1;
}

struct cdinfo {
	uint64_t count, cd_off, cd_size;
	uint64_t limit;		/* where the central directory must end by */
};

static int read_eocd(const struct zip *z, struct cdinfo *ci, char *err,
		     size_t errlen)
{
	const unsigned char *m = z->map, *e, *l, *r;
	size_t eocd;
	uint64_t r_off;
	int need64;

	if (find_eocd(m, z->map_len, &eocd))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: not a zip file (no end of central directory)",
			    z->label);
	e = m + eocd;
	/* 0xffff disk numbers only say "see the ZIP64 record". */
	if ((rd16(e + 4) != 0 || rd16(e + 6) != 0) &&
	    (rd16(e + 4) != 0xffff || rd16(e + 6) != 0xffff))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: multi-disk zip archives are not supported",
			    z->label);
	ci->count = rd16(e + 10);
	ci->cd_size = rd32(e + 12);
	ci->cd_off = rd32(e + 16);
	ci->limit = eocd;
	need64 = ci->count == 0xffff || ci->cd_size == 0xffffffffu ||
		 ci->cd_off == 0xffffffffu;
	if (eocd < LOC64_LEN || rd32(e - LOC64_LEN) != SIG_LOC64) {
		if (need64)
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				    "%s: ZIP64 end of central directory "
				    "locator missing", z->label);
		return 0;
	}
	l = e - LOC64_LEN;
	r_off = rd64(l + 8);
	if (rd32(l + 4) != 0 || !fits(r_off, EOCD64_LEN, eocd - LOC64_LEN))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: bad ZIP64 end of central directory locator",
			    z->label);
	r = m + r_off;
	if (rd32(r) != SIG_EOCD64 || rd64(r + 4) < EOCD64_LEN - 12)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: bad ZIP64 end of central directory record",
			    z->label);
	if (rd32(r + 16) != 0 || rd32(r + 20) != 0)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: multi-disk zip archives are not supported",
			    z->label);
	ci->count = rd64(r + 32);
	ci->cd_size = rd64(r + 40);
	ci->cd_off = rd64(r + 48);
	ci->limit = r_off;
	return 0;
}

/* The ZIP64 extra field holds, in this order, exactly those values whose
 * central directory field is saturated. */
static int read_extra(const struct zip *z, const unsigned char *x, size_t xlen,
		      struct zip_entry *e, uint32_t *disk, const char *name,
		      char *err, size_t errlen)
{
	size_t pos = 0;

	while (xlen - pos >= 4) {
		uint16_t tag = rd16(x + pos), sz = rd16(x + pos + 2);
		const unsigned char *d = x + pos + 4;
		size_t need = 0;

		if (sz > xlen - pos - 4)
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				    "%s: %s: extra field overruns its header",
				    z->label, name);
		if (tag == 0x0001) {
			need = (e->size == 0xffffffffu ? 8 : 0) +
			       (e->comp_size == 0xffffffffu ? 8 : 0) +
			       (e->local_off == 0xffffffffu ? 8 : 0) +
			       (*disk == 0xffff ? 4 : 0);
			if (sz < need)
				return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
					    "%s: %s: ZIP64 extra field too "
					    "short", z->label, name);
			if (e->size == 0xffffffffu) {
				e->size = rd64(d);
				d += 8;
			}
			if (e->comp_size == 0xffffffffu) {
				e->comp_size = rd64(d);
				d += 8;
			}
			if (e->local_off == 0xffffffffu) {
				e->local_off = rd64(d);
				d += 8;
			}
			if (*disk == 0xffff)
				*disk = rd32(d);
		}
		pos += 4 + (size_t)sz;
	}
	return 0;
}

static int check_entry(const struct zip *z, struct zip_entry *e,
		       const struct cdinfo *ci, char *err, size_t errlen)
{
	const unsigned char *l;
	uint64_t lnlen, lxlen;

	if (e->flags & (FLAG_ENCRYPTED | FLAG_STRONG | FLAG_CD_MASKED))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: entry is encrypted", z->label, e->name);
	if (e->method != ZIP_STORED && e->method != ZIP_DEFLATE &&
	    e->method != ZIP_ZSTD)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: unsupported compression method %u",
			    z->label, e->name, e->method);
	if (e->method == ZIP_STORED && e->comp_size != e->size)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: stored entry with compressed size %llu "
			    "!= size %llu", z->label, e->name,
			    (unsigned long long)e->comp_size,
			    (unsigned long long)e->size);
	if (e->method == ZIP_DEFLATE &&
	    e->size / DEFLATE_MAX_RATIO > e->comp_size)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: size %llu impossible for %llu bytes of "
			    "deflate data", z->label, e->name,
			    (unsigned long long)e->size,
			    (unsigned long long)e->comp_size);
	/* Local headers and data live before the central directory. */
	if (!fits(e->local_off, LOCAL_LEN, ci->cd_off))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: local header offset %llu out of range",
			    z->label, e->name,
			    (unsigned long long)e->local_off);
	l = z->map + e->local_off;
	if (rd32(l) != SIG_LOCAL)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: bad local header signature", z->label,
			    e->name);
	if (rd16(l + 6) & (FLAG_ENCRYPTED | FLAG_STRONG))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: entry is encrypted", z->label, e->name);
	if (rd16(l + 8) != e->method)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: local header method %u differs from the "
			    "central directory's %u", z->label, e->name,
			    rd16(l + 8), e->method);
	lnlen = rd16(l + 26);
	lxlen = rd16(l + 28);
	if (!fits(e->local_off + LOCAL_LEN, lnlen + lxlen, ci->cd_off))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: local header overruns the archive",
			    z->label, e->name);
	if (lnlen != e->name_len ||
	    memcmp(l + LOCAL_LEN, e->name, e->name_len) != 0)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: local header names '%.*s' instead",
			    z->label, e->name, (int)(lnlen > 200 ? 200 : lnlen),
			    (const char *)l + LOCAL_LEN);
	e->data_off = e->local_off + LOCAL_LEN + lnlen + lxlen;
	if (!fits(e->data_off, e->comp_size, ci->cd_off))
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: %s: data (%llu bytes at %llu) runs past the "
			    "central directory", z->label, e->name,
			    (unsigned long long)e->comp_size,
			    (unsigned long long)e->data_off);
	return 0;
}

#define DROP_EVERY 1024

static int read_central(struct zip *z, const struct cdinfo *ci, char *err,
			size_t errlen)
{
	const unsigned char *p = z->map + ci->cd_off;
	uint64_t left = ci->cd_size, names_len = 0;
	size_t i;
	char *np;
	int ret;

	/* Two passes: sizes first, so names can live in one allocation. */
	for (i = 0; i < ci->count; i++) {
		uint64_t rec;

		if (left < CENTRAL_LEN || rd32(p) != SIG_CENTRAL)
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				    "%s: central directory entry %zu is "
				    "truncated or corrupt", z->label, i);
		rec = CENTRAL_LEN + (uint64_t)rd16(p + 28) + rd16(p + 30) +
		      rd16(p + 32);
		if (rec > left)
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				    "%s: central directory entry %zu overruns "
				    "the directory", z->label, i);
		names_len += rd16(p + 28) + 1u;
		p += rec;
		left -= rec;
	}
	z->ent = xcalloc(ci->count, sizeof(*z->ent));
	z->names = xmalloc(names_len);
	if (!z->ent || !z->names)
		return errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory",
			    z->label);
	p = z->map + ci->cd_off;
	np = z->names;
	for (i = 0; i < ci->count; i++) {
		struct zip_entry *e = &z->ent[i];
		uint16_t nlen = rd16(p + 28), xlen = rd16(p + 30);
		uint32_t disk = rd16(p + 34), mode = rd32(p + 38) >> 16;
		const char *why;

		memcpy(np, p + CENTRAL_LEN, nlen);
		np[nlen] = '\0';
		e->name = np;
		e->name_len = nlen;
		np += nlen + 1;
		z->n = i + 1;
		why = zip_name_problem(e->name, nlen);
		if (why) {
			char shown[256];

			zip_show_name(e->name, nlen, shown, sizeof(shown));
			return errmsg_fail(SPOKE_E_UNSAFE_PATH, err, errlen,
				    "%s: %s: %s", z->label, shown, why);
		}
		e->flags = rd16(p + 8);
		e->method = rd16(p + 10);
		e->crc32 = rd32(p + 16);
		e->comp_size = rd32(p + 20);
		e->size = rd32(p + 24);
		e->local_off = rd32(p + 42);
		e->is_dir = e->name[nlen - 1] == '/';
		ret = read_extra(z, p + CENTRAL_LEN + nlen, xlen, e, &disk,
				 e->name, err, errlen);
		if (ret)
			return ret;
		if (disk != 0)
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				    "%s: %s: entry on disk %u: multi-disk zip "
				    "archives are not supported", z->label,
				    e->name, disk);
		/* pip's rule (zip_item_is_executable) looks at the high
		 * half of the external attributes whatever host made the
		 * entry: a regular file type with any exec bit. Hosts that
		 * leave it zero (MS-DOS, NTFS) get no exec bit that way. */
		e->mode = mode;
		e->exec = S_ISREG(mode) && (mode & 0111) && !e->is_dir;
		ret = check_entry(z, e, ci, err, errlen);
		if (ret)
			return ret;
		/* Each local header is a page of a wheel of small files:
		 * give them back as we go, not the whole wheel at the end. */
		if (i % DROP_EVERY == DROP_EVERY - 1)
			zip_drop(z, z->map, z->map + ci->cd_off);
		p += CENTRAL_LEN + (size_t)nlen + xlen + rd16(p + 32);
	}
	return 0;
}

struct span {
	uint64_t start, end;
	size_t idx;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int check_overlap(const struct zip *z, char *err, size_t errlen)
{
	struct span *s;
	size_t i;
	int ret = 0;

	if (z->n < 2)
		return 0;
	s = xmalloc(z->n * sizeof(*s));
	if (!s)
		return errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory",
			    z->label);
	for (i = 0; i < z->n; i++) {
		s[i].start = z->ent[i].local_off;
		s[i].end = z->ent[i].data_off + z->ent[i].comp_size;
		s[i].idx = i;
	}
	qsort(s, z->n, sizeof(*s), span_cmp);
	for (i = 1; i < z->n; i++) {
		if (s[i].start < s[i - 1].end) {
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: data overlaps entry %s", z->label,
				   z->ent[s[i].idx].name,
				   z->ent[s[i - 1].idx].name);
			goto out;
		}
	}
out:
	free(s);
	return ret;
}

/* ---- open / close ------------------------------------------------------- */

int zip_map_fd(int fd, const char *path, const void **map, size_t *len,
	       char *err, size_t errlen)
{
	char eb[128], shown[1024];
	struct stat st;
	void *m;
	int ret;

	name_escape(shown, sizeof(shown), path);
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		return errmsg_fail(ret, err, errlen, "%s: stat: %s", shown,
				  errmsg_str(ret, eb, sizeof(eb)));
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return errmsg_fail(-EINVAL, err, errlen, "%s: not a non-empty "
				  "regular file", shown);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		ret = -errno;
		return errmsg_fail(ret, err, errlen, "%s: mmap: %s", shown,
				  errmsg_str(ret, eb, sizeof(eb)));
	}
	*map = m;
	*len = (size_t)st.st_size;
	return 0;
}

int zip_open_file(const char *path, char *err, size_t errlen)
{
	char eb[128], shown[1024];
	int fd, ret = io_fault_hit(IO_OP_OPEN);

	fd = ret ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	ret = ret ? ret : -errno;
	name_escape(shown, sizeof(shown), path);
	return errmsg_fail(ret, err, errlen, "%s: open: %s", shown,
			  errmsg_str(ret, eb, sizeof(eb)));
}

int zip_map(const char *path, const void **map, size_t *len, char *err,
	    size_t errlen)
{
	int fd = zip_open_file(path, err, errlen), ret;

	if (fd < 0)
		return fd;
	ret = zip_map_fd(fd, path, map, len, err, errlen);
	close(fd);
	return ret;
}

void zip_map_release(const void *map, size_t len)
{
	/* Advice only: on failure the pages just stay resident. */
	if (map && len && madvise((void *)(uintptr_t)map, len,
				  MADV_DONTNEED) < 0)
		return;
}

void zip_unmap(const void *map, size_t len)
{
	if (map)
		munmap((void *)map, len);
}

static int open_map(struct zip **out, const void *map, size_t len,
		    const char *label, int file_backed, char *err,
		    size_t errlen)
{
	struct zip *z;
	struct cdinfo ci = { 0 };
	int ret;

	*out = NULL;
	z = xcalloc(1, sizeof(*z));
	if (!z)
		return errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory", label);
	z->map = map;
	z->map_len = len;
	z->file_backed = file_backed;
	label = label ? label : "(zip)";
	/* Every message names the archive: show it escaped once here. */
	z->label = xmalloc(4 * strlen(label) + 1);
	if (z->label)
		name_escape(z->label, 4 * strlen(label) + 1, label);
	if (!z->label) {
		ret = errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory", label);
		goto out;
	}
	ret = read_eocd(z, &ci, err, errlen);
	if (ret)
		goto out;
	if (!fits(ci.cd_off, ci.cd_size, ci.limit)) {
		ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			   "%s: central directory (%llu bytes at %llu) out of "
			   "range", z->label, (unsigned long long)ci.cd_size,
			   (unsigned long long)ci.cd_off);
		goto out;
	}
	if (ci.count > ci.cd_size / CENTRAL_LEN) {
		ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			   "%s: %llu entries cannot fit in a %llu-byte "
			   "central directory", z->label,
			   (unsigned long long)ci.count,
			   (unsigned long long)ci.cd_size);
		goto out;
	}
	ret = read_central(z, &ci, err, errlen);
	zip_drop(z, z->map, z->map + z->map_len);
	if (!ret)
		ret = check_overlap(z, err, errlen);
	if (!ret)
		ret = zip_check_names(z, err, errlen);
out:
	if (ret)
		zip_close(z);
	else
		*out = z;
	return ret;
}

int zip_open_mem(struct zip **out, const void *map, size_t len,
		 const char *label, char *err, size_t errlen)
{
	return open_map(out, map, len, label, 0, err, errlen);
}

int zip_open_mapped(struct zip **out, const void *map, size_t len,
		    const char *label, char *err, size_t errlen)
{
	return open_map(out, map, len, label, 1, err, errlen);
}

int zip_totals(const void *map, size_t len, uint64_t *files,
	       uint64_t *bytes)
{
	char label[] = "(zip)", err[256];
	struct zip z = { .map = map, .map_len = len, .label = label };
	struct cdinfo ci = { 0 };
	const unsigned char *p;
	uint64_t left;

	*files = *bytes = 0;
	if (read_eocd(&z, &ci, err, sizeof(err)) ||
	    !fits(ci.cd_off, ci.cd_size, ci.limit))
		return SPOKE_E_BADWHEEL;
	p = z.map + ci.cd_off;
	left = ci.cd_size;
	for (uint64_t i = 0; i < ci.count; i++) {
		struct zip_entry e = { 0 };
		uint16_t nlen, xlen;
		uint32_t disk = 0;
		uint64_t rec;

		if (left < CENTRAL_LEN || rd32(p) != SIG_CENTRAL)
			return SPOKE_E_BADWHEEL;
		nlen = rd16(p + 28);
		xlen = rd16(p + 30);
		rec = CENTRAL_LEN + (uint64_t)nlen + xlen + rd16(p + 32);
		if (rec > left || nlen == 0)
			return SPOKE_E_BADWHEEL;
		e.comp_size = rd32(p + 20);
		e.size = rd32(p + 24);
		e.local_off = rd32(p + 42);
		if (read_extra(&z, p + CENTRAL_LEN + nlen, xlen, &e, &disk, "",
			       err, sizeof(err)))
			return SPOKE_E_BADWHEEL;
		if (p[CENTRAL_LEN + nlen - 1] != '/') {
			*files += 1;
			*bytes += e.size;
		}
		p += rec;
		left -= rec;
	}
	return 0;
}

int zip_open(struct zip **out, const char *path, char *err, size_t errlen)
{
	const char *label = strrchr(path, '/');
	const void *map;
	size_t len;
	int ret;

	*out = NULL;
	ret = zip_map(path, &map, &len, err, errlen);
	if (ret)
		return ret;
	ret = zip_open_mapped(out, map, len, label ? label + 1 : path, err,
			      errlen);
	if (ret)
		zip_unmap(map, len);
	else
		(*out)->owns_map = 1;
	return ret;
}

void zip_close(struct zip *z)
{
	if (!z)
		return;
	if (z->owns_map)
		zip_unmap(z->map, z->map_len);
	free(z->ent);
	free(z->names);
	free(z->label);
	free(z);
}

long zip_find(const struct zip *z, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < z->n; i++)
		if (z->ent[i].name_len == len &&
		    memcmp(z->ent[i].name, name, len) == 0)
			return (long)i;
	return -1;
}
