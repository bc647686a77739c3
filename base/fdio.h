/* SPDX-License-Identifier: MIT */
/*
 * fdio - a whole-buffer write on a file descriptor: the loop that
 * retries short writes and EINTR, written once. Every write counts
 * as one IO_OP_WRITE call for fault injection (base/fault.h), so a sweep
 * can fail each of them.
 */
#ifndef SPOKE_BASE_FDIO_H
#define SPOKE_BASE_FDIO_H

#include <stddef.h>

/* Write all len bytes of p: 0 or -errno. */
int fd_write_all(int fd, const void *p, size_t len);

#endif
