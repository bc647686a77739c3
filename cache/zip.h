/* SPDX-License-Identifier: MIT */
/*
 * zip - a careful, read-only zip reader for wheels. The whole archive is one
 * read-only mapping; opening it parses and validates the central directory
 * and every local header up front, so that once zip_open*() succeeds every
 * entry's data range is known to lie inside the mapping, before the central
 * directory, and apart from every other entry's, and every name is a safe
 * relative path that no other entry shares (exactly or after ASCII case
 * folding). Extraction then only has to decompress: stored (0), deflate (8,
 * libdeflate whole-buffer for small entries, zlib streamed for large ones) and
 * zstd (93, streamed), with the CRC-32 checked in the same pass that hands
 * the bytes to a caller's sink.
 *
 * Failures return SPOKE_E_BADWHEEL (malformed archive, encryption, unknown
 * method, CRC mismatch, bad offsets, exact duplicate names),
 * SPOKE_E_UNSAFE_PATH (absolute, "..", ".", empty components, backslash, NUL,
 * drive letter, over-long names), SPOKE_E_CONFLICT (names equal after case
 * folding, a file that another entry needs as a directory), -ENOMEM, or a
 * sink's -errno; the message names the archive, the entry and the reason.
 *
 * The mapping is of a file the caller controls; if that file is truncated
 * while mapped, reads fault (SIGBUS). The cache only maps wheels it was asked
 * to add, which a concurrent writer must not be rewriting.
 */
#ifndef SPOKE_CACHE_ZIP_H
#define SPOKE_CACHE_ZIP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum zip_method {
	ZIP_STORED = 0,
	ZIP_DEFLATE = 8,
	ZIP_ZSTD = 93,
};

/* Refused as SPOKE_E_UNSAFE_PATH: they could not be created below any
 * directory anyway (PATH_MAX, NAME_MAX), and the depth bound keeps every
 * recursive walk of an unpacked tree within a few hundred open fds. */
#define ZIP_NAME_MAX 4095
#define ZIP_COMPONENT_MAX 255
#define ZIP_DEPTH_MAX 256

/* Deflate entries at least this large are inflated by zlib a chunk at a
 * time; smaller ones by libdeflate into one heap buffer of their size
 * (twice zlib's speed on them, measured in docs/LIBRARIES.md). So no entry
 * costs more memory than this, whatever its size. */
#define ZIP_STREAM_MIN_DEFAULT (1ull << 20)

struct zip_entry {
	const char *name;	/* NUL-terminated, validated; dirs end in '/' */
	uint32_t name_len;
	uint16_t method;	/* enum zip_method */
	uint16_t flags;		/* general purpose bits */
	uint32_t crc32;
	uint32_t mode;		/* external attrs >> 16, whatever the host */
	uint64_t comp_size;
	uint64_t size;		/* uncompressed */
	uint64_t local_off;	/* local header */
	uint64_t data_off;	/* first byte of the (compressed) data */
	uint8_t is_dir;
	uint8_t exec;		/* regular file with an exec bit, as pip reads it
				 * (for every "made by" host) */
};

/* Read-only after open (but for unreleased); fields may be read directly. */
struct zip {
	const unsigned char *map;
	size_t map_len;
	char *label;		/* archive name used in messages */
	struct zip_entry *ent;	/* in central directory order */
	size_t n;
	char *names;		/* storage for all entry names */
	int owns_map;
	/* map is a read-only mapping of the file: its pages may be given
	 * back (madvise) as entries are extracted. */
	int file_backed;
	/* Compressed bytes extracted since the pages were last given back:
	 * the one field zip_extract changes. */
	atomic_uint_least64_t unreleased;
};

/*
 * A consumer of an entry's bytes: write() gets consecutive pieces in order
 * (at most 256 KiB each) and returns 0 or -errno (which stops extraction).
 * stream_min: deflate entries of at least this size are streamed (0:
 * ZIP_STREAM_MIN_DEFAULT; 1 streams every one, for tests).
 */
struct zip_sink {
	int (*write)(struct zip_sink *s, const void *buf, size_t len);
	uint64_t stream_min;
};

/* Map a whole file read-only: 0 or -errno (-EINVAL for an empty or
 * non-regular file), message in err. Release with zip_unmap(). */
int zip_map(const char *path, const void **map, size_t *len, char *err,
	    size_t errlen);
void zip_unmap(const void *map, size_t len);
/* Give back the resident pages of a zip_map() mapping (after hashing the
 * whole file, say): reads fault them in again from the page cache. */
void zip_map_release(const void *map, size_t len);
/* The two halves of zip_map: open path read-only (fd or -errno, message
 * in err), and map the open fd whole (path only names it in messages). */
int zip_open_file(const char *path, char *err, size_t errlen);
int zip_map_fd(int fd, const char *path, const void **map, size_t *len,
	       char *err, size_t errlen);

/* Parse and validate an archive held in memory (not copied: it must outlive
 * the zip). label names the archive in messages (copied). */
int zip_open_mem(struct zip **out, const void *map, size_t len,
		 const char *label, char *err, size_t errlen);
/* The same for a read-only mapping of a file (zip_map, zip_map_fd), which
 * the caller unmaps after zip_close: its pages are given back (madvise) as
 * the local headers are checked and as entries are extracted, so a large
 * wheel never stays resident whole. */
int zip_open_mapped(struct zip **out, const void *map, size_t len,
		    const char *label, char *err, size_t errlen);
/* The files (entries not ending in '/') and their declared uncompressed
 * bytes, from the central directory alone: no name, local header or
 * overlap checks (zip_open_mem makes those), so only an estimate for
 * progress totals. 0, or SPOKE_E_BADWHEEL when the directory cannot be
 * walked. */
int zip_totals(const void *map, size_t len, uint64_t *files,
	       uint64_t *bytes);
/* zip_map() + zip_open_mem(); the label is the path's last component. */
int zip_open(struct zip **out, const char *path, char *err, size_t errlen);
/* Accepts NULL; unmaps only what zip_open() mapped. */
void zip_close(struct zip *z);

/* Index of the entry named exactly name (files only need no trailing '/'),
 * or -1. Linear: meant for a handful of lookups such as RECORD. */
long zip_find(const struct zip *z, const char *name);

/* Stream entry e (of z) into s, checking the CRC-32 and the size. A
 * directory entry produces nothing. */
int zip_extract(const struct zip *z, const struct zip_entry *e,
		struct zip_sink *s, char *err, size_t errlen);
/* The whole entry in a new heap buffer (NUL-terminated for convenience;
 * *len excludes the NUL); entries larger than max are refused with
 * SPOKE_E_BADWHEEL. Free with free(). */
int zip_extract_alloc(const struct zip *z, const struct zip_entry *e,
		      size_t max, char **buf, size_t *len, char *err,
		      size_t errlen);

/* Why name (len bytes, not necessarily NUL-terminated) is not a safe
 * relative path inside an archive, or NULL if it is. A single trailing '/'
 * (a directory entry) is allowed. */
const char *zip_name_problem(const char *name, size_t len);

#endif
