/* SPDX-License-Identifier: MIT */
/*
 * bytebuf - a growing byte buffer for a file built in memory before it is
 * written whole (an entry's manifest, a bytecode stamp). Out of memory is
 * sticky: the appends after it do nothing and the builder checks nomem
 * once, at the end, instead of after every append.
 */
#ifndef SPOKE_BASE_BYTEBUF_H
#define SPOKE_BASE_BYTEBUF_H

#include <stddef.h>

struct bytebuf {
	unsigned char *p; /* heap, the caller frees; NULL while empty */
	size_t len, cap;
	int nomem;        /* an append failed: the contents are incomplete */
};

/* Append n bytes of v (nothing once nomem is set). */
void bytebuf_put(struct bytebuf *b, const void *v, size_t n);

#endif
