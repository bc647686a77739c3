/* SPDX-License-Identifier: MIT */
/*
 * zip_int - what zip.c (structure) and zip_names.c (names) share. Not for
 * use outside cache/zip*.c.
 */
#ifndef SPOKE_CACHE_ZIP_INT_H
#define SPOKE_CACHE_ZIP_INT_H

#include "cache/zip.h"

#include <stddef.h>

/* name (len bytes) for a message: control and non-UTF-8 bytes escaped,
 * cut to a couple of hundred bytes. */
void zip_show_name(const char *name, size_t len, char *out, size_t outlen);
/* Every name of z against every other: SPOKE_E_BADWHEEL (exact duplicate),
 * SPOKE_E_CONFLICT (equal after case folding or NFC, a file as a parent),
 * SPOKE_E_UNSAFE_PATH (not UTF-8), -ENOMEM; message in err. */
int zip_check_names(const struct zip *z, char *err, size_t errlen);

/* Give back the pages of [a, b) of a file-backed zip's mapping (nothing
 * for an archive in memory: that would zero it). Always safe for a
 * read-only private file mapping, even while another thread reads it: the
 * next access faults the page in again from the page cache. */
void zip_drop(const struct zip *z, const void *a, const void *b);

#endif
