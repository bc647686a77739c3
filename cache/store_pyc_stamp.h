/* SPDX-License-Identifier: MIT */
/*
 * store_pyc_stamp - the stamp of a bytecode directory
 * (<root>/bytecode-v1/<entry>.<tag>.opt-<N>/BYTECODE, docs/BYTECODE.md
 * section 4): which sources of the entry compiled, what each .pyc header
 * was made against (the source's mtime and size) and the .pyc's size, bound
 * to what it was made from and where it lies: the entry name, the cache
 * tag, the optimization level, the invalidation mode, the magic number,
 * the SHA-256 of the entry's manifest (cache/manifest.h: every name, type,
 * size and directory identity of the entry), and the identity (inode and
 * ctime) of every directory below the bytecode directory plus the inode of
 * the directory itself. An install that finds the stamp whole (its own
 * SHA-256 holds), bound to the entry's current manifest and to the
 * directories as they are trusts it: one read per wheel instead of a stat,
 * an open and a read per .pyc. Anything else falls back to checking every
 * .pyc header (and then writes a new stamp) or compiles again.
 *
 * The file is text: a version line, "key value" lines, one "dir" line per
 * directory, one "ok" or "nocompile" line per source, then "sha256 <hex>"
 * of every byte before that line. Paths are relative to the bytecode
 * directory (dirs) or to the entry (sources), with '%', bytes below 0x21
 * and from 0x7f on written as %XX, so any name a wheel may hold fits a line.
 */
#ifndef SPOKE_CACHE_STORE_PYC_STAMP_H
#define SPOKE_CACHE_STORE_PYC_STAMP_H

#include "cache/manifest.h"
#include "cache/store.h"

#include <stddef.h>
#include <stdint.h>

#define PYC_STAMP_FILE "BYTECODE"

struct pyc_stamp_dir {
	char *rel;
	uint64_t ino;
	int64_t sec;
	uint32_t nsec;
};

struct pyc_stamp_src {
	char *rel;          /* the .py, relative to the entry */
	int ok;             /* 1 compiled, 0 does not compile */
	int64_t mtime, size; /* of the source, as the header records them */
	int64_t pyc_size;
};

struct pyc_stamp {
	char entry[STORE_ENTRY_NAME_MAX];
	char tag[64];
	int opt;
	unsigned char magic[4];
	unsigned char manifest[32]; /* pyc_stamp_manifest_id of the entry */
	uint64_t root_ino;
	struct pyc_stamp_dir *dirs;
	size_t ndirs;
	struct pyc_stamp_src *src;
	size_t nsrc, cap;
};

/* Append a source (rel copied). 0 or -ENOMEM. */
int pyc_stamp_add(struct pyc_stamp *s, const char *rel, int ok,
		  int64_t mtime, int64_t size, int64_t pyc_size);

/* The identity of a manifest for the stamp: SHA-256 of its bytes. */
int pyc_stamp_manifest_id(const struct manifest *m, unsigned char out[32]);

/* "<dir>/__pycache__/<stem>.<tag>[.opt-N].pyc" for the source rel, like
 * snprintf (-EINVAL when rel is not a .py). */
int pyc_stamp_pyc_path(char *buf, size_t len, const char *rel,
		       const char *tag, int opt);

/* Record the identities of the bytecode directory at dfd: its inode, and
 * inode and ctime of every directory that holds a compiled source's .pyc
 * and of every directory on the way. Take them once nothing changes below
 * dfd any more. 0 or -errno. */
int pyc_stamp_take_dirs(int dfd, struct pyc_stamp *s);

/* 1 when dfd's inode and every recorded directory's inode and ctime are
 * what s records; 0 otherwise. One fstat and one fstatat per directory. */
int pyc_stamp_dirs_hold(int dfd, const struct pyc_stamp *s);

/* Write s as dfd/BYTECODE (temporary, rename; no fsync). 0 or -errno. */
int pyc_stamp_write(int dfd, const struct pyc_stamp *s);

/* Read dfd/BYTECODE into s: 0; -ENOENT; -EBADMSG when it is not a whole
 * stamp of this version (a torn, edited or older file); -ENOMEM. Source
 * paths are checked for shape (relative, no "." or ".." component, ending
 * in .py); whether they exist is the caller's business. */
int pyc_stamp_read(int dfd, struct pyc_stamp *s);

void pyc_stamp_free(struct pyc_stamp *s);

#endif
