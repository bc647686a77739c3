/* SPDX-License-Identifier: MIT */
/* fdio - see fdio.h. */
#include "base/fdio.h"
#include "base/fault.h"

#include <errno.h>
#include <unistd.h>

int fd_write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		int err = io_fault_hit(IO_OP_WRITE);
		ssize_t w;

		if (err)
			return err;
		w = write(fd, c, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}
