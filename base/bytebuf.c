/* SPDX-License-Identifier: MIT */
/*
 * bytebuf - see bytebuf.h. Capacity doubles from 4 KiB, so a buffer of
 * n bytes costs O(log n) reallocations.
 */
#include "base/bytebuf.h"
#include "base/alloc.h"

#include <string.h>

void bytebuf_put(struct bytebuf *b, const void *v, size_t n)
{
	if (b->nomem || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *p;

		while (cap < b->len + n)
			cap *= 2;
		if (!(p = xrealloc(b->p, cap))) {
			b->nomem = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}
