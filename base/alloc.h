/* SPDX-License-Identifier: MIT */
/*
 * alloc - the one allocation wrapper. Every heap allocation in libspoke goes
 * through here so that SPOKE_FAULT=alloc:N:ENOMEM can fail the Nth one and a
 * test can show that running out of memory is an error, not a crash.
 */
#ifndef SPOKE_IO_ALLOC_H
#define SPOKE_IO_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);           /* NULL on failure (never aborts) */
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
