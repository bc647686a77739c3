/* SPDX-License-Identifier: MIT */
/*
 * manifest - what one unpacked tree holds, so that planning an install
 * reads one file instead of walking and stat-ing every name of a cache
 * entry (docs/CACHE.md "Manifests"). A manifest lists every name of the
 * tree in walk order (depth first, the names of a directory sorted by
 * strcmp) with its type, and for files the mode and size, for symlinks the
 * target, for directories the inode and ctime they had when the walk read
 * them. It is built by a real walk (manifest_build) and may be kept in
 * <cache>/manifest-v1/<entry name>: versioned, with the SHA-256 of its body
 * and the identity of the entry directory it describes. A kept manifest is
 * used only when its checksum holds, it names the entry, and the entry
 * directory and every directory below it still have the recorded inode
 * and ctime (a name added, removed, renamed or retyped anywhere changes
 * its directory's ctime, which user space cannot set back). Anything else
 * is rebuilt by a walk. The names are checked for shape only (non-empty,
 * no '/', not "." or "..", sorted and unique per directory): every other
 * rule on names stays with the caller, as for a walked tree.
 */
#ifndef SPOKE_CACHE_MANIFEST_H
#define SPOKE_CACHE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MANIFEST_DIR "manifest-v1"
/* Deeper than any tree a wheel may make (ZIP_DEPTH_MAX): a deeper tree is
 * listed to this depth, so its user still sees the depth it refuses. */
#define MANIFEST_DEPTH_MAX 260

enum { MF_DIR = 1, MF_FILE, MF_LINK, MF_OTHER };

struct mf_ent {
	const char *name;   /* one component, NUL-terminated */
	const char *target; /* MF_LINK: the link's content, else NULL */
	int64_t size;       /* MF_FILE */
	uint32_t mode;      /* st_mode (MF_FILE, MF_DIR) */
	uint32_t end;       /* MF_DIR: index of the first entry after it */
	uint16_t depth;     /* 0: a name in the root */
	uint8_t type;
};

struct manifest {
	unsigned char *buf; /* the file: header and body */
	size_t len;
	struct mf_ent *ents;
	size_t n;
};

/* Walk the tree at dirfd into m. 0, or -errno with a message naming the
 * path below shown. */
int manifest_build(int dirfd, const char *shown, struct manifest *m,
		   char *err, size_t errlen);

/* The same for the directory at path dir. */
int manifest_build_at(const char *dir, struct manifest *m, char *err,
		      size_t errlen);

/* The manifest of a cache entry, given its directory
 * (<cache>/archive-v2/<entry name>): the kept one if it is sound and
 * current, else one built by a walk and (if the cache is writable) kept
 * for the next reader. *rebuilt (may be NULL): 0 when the kept one was
 * used, 1 when built. 0 or -errno with a message. */
int manifest_for_entry(const char *entry_dir, struct manifest *m,
		       int *rebuilt, char *err, size_t errlen);

/* Build and keep the manifest of archive-v2/<ename> (store.c, after the
 * publish): failures are not errors, the next reader rebuilds. */
void manifest_publish(int rootfd, int archfd, const char *ename);

/* Remove the kept manifest of entry ename (missing is success). */
int manifest_remove(int rootfd, const char *ename);

/* Index of the entry at rel (a '/'-separated path from the root, no "."
 * or ".." components, no trailing '/'), or -1. */
long manifest_find(const struct manifest *m, const char *rel, size_t len);

void manifest_free(struct manifest *m);

#endif
