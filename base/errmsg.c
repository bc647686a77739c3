/* SPDX-License-Identifier: MIT */
/* errmsg - see errmsg.h. */
#include "base/errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errmsg_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *errmsg_str(int e, char *buf, size_t len)
{
	if (e <= -4096) {
		snprintf(buf, len, "error %d", e);
		return buf;
	}
	return strerror_r(e < 0 ? -e : e, buf, len);
}
