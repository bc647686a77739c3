/* SPDX-License-Identifier: MIT */
/* dirfd - see dirfd.h. */
#include "base/dirfd.h"
#include "base/path.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void dirfd_init(struct dirfd_cache *c)
{
	c->fd = -1;
	c->root[0] = c->rel[0] = '\0';
}

int dirfd_get(struct dirfd_cache *c, const char *root, const char *rel,
	      size_t rl)
{
	size_t n = strlen(root);

	if (rl >= sizeof(c->rel) || n >= sizeof(c->root))
		return -ENAMETOOLONG;
	if (c->fd >= 0 && !strcmp(c->root, root) &&
	    !strncmp(c->rel, rel, rl) && c->rel[rl] == '\0')
		return c->fd;
	dirfd_forget(c);
	memcpy(c->root, root, n + 1);
	memcpy(c->rel, rel, rl);
	c->rel[rl] = '\0';
	c->fd = path_open_below(c->root, c->rel);
	return c->fd;
}

void dirfd_forget(struct dirfd_cache *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
