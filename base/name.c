/* SPDX-License-Identifier: MIT */
/* name - see name.h. */
#include "base/name.h"
#include "base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int name_has_control(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 1;
		/* U+0080..U+009F encode as C2 80..C2 9F */
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
	}
	return 0;
}

int name_folds_to_prefix(const char *s, const char *prefix)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;

	while (*prefix) {
		utf8proc_int32_t cp, fold[32];
		utf8proc_ssize_t len, n;
		int bound = 0;

		if (!*p || *p == '/')
			return 0;
		len = utf8proc_iterate(p, -1, &cp);
		if (len <= 0)
			return 0;
		p += len;
		n = utf8proc_decompose_char(cp, fold, 32, UTF8PROC_CASEFOLD |
					    UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
					    UTF8PROC_IGNORE, &bound);
		if (n < 0 || n > 32)
			return 0;
		for (utf8proc_ssize_t i = 0; i < n && *prefix; i++)
			if (fold[i] != (unsigned char)*prefix++)
				return 0;
	}
	return 1;
}

char *name_nfc(const char *s, int *invalid)
{
	utf8proc_uint8_t *out = NULL;
	utf8proc_ssize_t r;
	char *copy;

	if (invalid)
		*invalid = 0;
	r = utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
			 UTF8PROC_NULLTERM | UTF8PROC_STABLE |
				 UTF8PROC_COMPOSE);
	if (r < 0) {
		if (invalid && r != UTF8PROC_ERROR_NOMEM)
			*invalid = 1;
		return NULL;
	}
	/* Hand back memory from our own allocator, so callers free one kind
	 * and the fault-injection tests can fail this allocation too. */
	copy = xstrdup((const char *)out);
	free(out);
	return copy;
}

static const char *escape(char *out, size_t n, const char *s, int backslash)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (!n)
		return out;
	while (*p && o + 1 < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t len = utf8proc_iterate(p, -1, &cp);
		int ctl = len <= 0 || cp < 0x20 || cp == 0x7f ||
			  (cp >= 0x80 && cp <= 0x9f);

		if ((backslash && *p == '\\') || ctl) {
			if (o + 5 > n)
				break;
			if (*p == '\\')
				o += (size_t)snprintf(out + o, n - o, "\\\\");
			else
				o += (size_t)snprintf(out + o, n - o, "\\x%02x",
						      *p);
			p++;
			continue;
		}
		if (o + (size_t)len >= n)
			break;
		memcpy(out + o, p, (size_t)len);
		o += (size_t)len;
		p += len;
	}
	out[o] = '\0';
	return out;
}

const char *name_escape(char *out, size_t n, const char *s)
{
	return escape(out, n, s, 1);
}

const char *name_escape_controls(char *out, size_t n, const char *s)
{
	return escape(out, n, s, 0);
}
