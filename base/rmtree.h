/* SPDX-License-Identifier: MIT */
/*
 * rmtree - remove a directory tree below a directory fd, the one copy of
 * this walk (the cache's removals, a rollback's subtrees, a commit's
 * backups). It never follows a symlink, holds one fd per level, makes a
 * directory it may not read or write removable (it is the caller's), and
 * rescans a directory that one readdir pass did not empty. Rollback and
 * recovery pass RMTREE_NOFAULT: their syscalls must not be failed by an
 * injected fault (base/fault.h), or the undo of a fault would break too.
 * A keep() callback lets undo leave entries that are not its own; their
 * directories then stay too (not empty), which is not an error.
 */
#ifndef SPOKE_BASE_RMTREE_H
#define SPOKE_BASE_RMTREE_H

#include <stdint.h>
#include <sys/stat.h>

enum {
	RMTREE_NOFAULT = 1, /* plain syscalls: no io_fault_hit() */
};

struct rmtree {
	int flags;
	int depth_max;     /* deeper: -ELOOP (0: 4096) */
	uint64_t removed;  /* paths removed so far (files and directories) */
	uint64_t kept;     /* entries keep() said to leave */
	/* Optional: nonzero leaves the entry name (lstat st) below dfd, and,
	 * for a directory, does not descend into it. */
	int (*keep)(void *arg, int dfd, const char *name,
		    const struct stat *st);
	void *arg;
};

/* Remove name below dfd (a file, symlink or directory with everything
 * in it). 0 (a missing name included), or the first -errno. With keep(),
 * a directory left non-empty by kept entries is not an error. */
int rmtree_at(struct rmtree *o, int dfd, const char *name);

#endif
