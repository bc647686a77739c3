/* SPDX-License-Identifier: MIT */
/*
 * errmsg - filling a caller's (err, errlen) message buffer, the way the
 * cache reports what went wrong: which wheel, which entry, which path, why.
 */
#ifndef SPOKE_IO_ERRMSG_H
#define SPOKE_IO_ERRMSG_H

#include <stddef.h>

/* Format into err (if given) and return code, so a failure is one line:
 * return errmsg_fail(-EIO, err, errlen, "%s: ...", ...). */
int errmsg_fail(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* strerror for -errno or errno; "error N" for spoke's own codes (<= -4096),
 * whose detail the caller's message already carries. */
const char *errmsg_str(int e, char *buf, size_t len);

#endif
