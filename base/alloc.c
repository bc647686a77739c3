/* SPDX-License-Identifier: MIT */
/* alloc - see alloc.h. */
#include "base/alloc.h"
#include "base/fault.h"

#include <stdlib.h>
#include <string.h>

void *xmalloc(size_t n)
{
	if (io_fault_hit(IO_OP_ALLOC))
		return NULL;
	return malloc(n ? n : 1);
}

void *xcalloc(size_t n, size_t m)
{
	if (io_fault_hit(IO_OP_ALLOC))
		return NULL;
	return calloc(n ? n : 1, m ? m : 1);
}

void *xrealloc(void *p, size_t n)
{
	if (io_fault_hit(IO_OP_ALLOC))
		return NULL;
	return realloc(p, n ? n : 1);
}

char *xstrndup(const char *s, size_t n)
{
	char *d;

	n = strnlen(s, n);
	d = xmalloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}
