/* SPDX-License-Identifier: MIT */
/*
 * manifest_int - what manifest.c (the format) gives manifest_keep.c (the
 * files in the cache). Not for use outside cache/manifest*.c.
 */
#ifndef SPOKE_CACHE_MANIFEST_INT_H
#define SPOKE_CACHE_MANIFEST_INT_H

#include "cache/manifest.h"

/* The header's size: a shorter file is not a manifest. */
#define MANIFEST_HDR_LEN (8 + 4 + 4 + 8 + 32)

/* manifest_build() with the entry name the manifest records. */
int manifest_build_named(int dirfd, const char *ename, const char *shown,
			 struct manifest *m, char *err, size_t errlen);
/* Parse m->buf into m->ents: -EBADMSG when damaged. With entryfd >= 0,
 * also -ESTALE unless the body names ename and the tree at entryfd still
 * has every recorded directory identity. */
int manifest_parse(struct manifest *m, int entryfd, const char *ename);

#endif
