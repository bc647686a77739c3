/* SPDX-License-Identifier: MIT */
/*
 * dirfd - a one-entry cache of the directory last opened below a root
 * (path_open_below: no symlink followed below the root). Removals come in
 * RECORD order and undo goes path by path, so neighbours share their
 * directory and one cached fd saves most of the opens.
 */
#ifndef SPOKE_BASE_DIRFD_H
#define SPOKE_BASE_DIRFD_H

#include <limits.h>
#include <stddef.h>

struct dirfd_cache {
	int fd; /* -1: empty */
	char root[PATH_MAX];
	char rel[PATH_MAX];
};

void dirfd_init(struct dirfd_cache *c);
/* The fd of the directory rel (its first rl bytes; relative, normalised,
 * may be empty) below root, owned by the cache; or -errno. */
int dirfd_get(struct dirfd_cache *c, const char *root, const char *rel,
	      size_t rl);
/* Close the cached fd (before the directory may be renamed or removed). */
void dirfd_forget(struct dirfd_cache *c);

#endif
