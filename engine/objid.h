/* SPDX-License-Identifier: MIT */
/*
 * objid - the identity of a filesystem object a transaction creates: its
 * device, inode number and birth time. The inode number alone is not
 * enough, since a filesystem reuses the number of a deleted inode at once
 * (ext4 hands the same number to the next file made in that directory);
 * the birth time (statx STATX_BTIME, which no syscall can set) tells the
 * object spoke made from a later one at the same name and number. The
 * linker reports the objects it makes (engine/walk.h), the transaction
 * journals them (engine/txn.h), and recovery removes only paths that are
 * still one of them (docs/RELIABILITY.md, "What recovery removes").
 */
#ifndef SPOKE_ENGINE_OBJID_H
#define SPOKE_ENGINE_OBJID_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

struct objid {
	uint64_t dev, ino;
	int64_t btime; /* ns since the epoch; 0: the filesystem has none */
};

static inline void objid_of(const struct statx *sx, struct objid *out)
{
	out->dev = makedev(sx->stx_dev_major, sx->stx_dev_minor);
	out->ino = sx->stx_ino;
	out->btime = (sx->stx_mask & STATX_BTIME) ?
		     (int64_t)sx->stx_btime.tv_sec * 1000000000 +
		     sx->stx_btime.tv_nsec : 0;
}

/* The identity of name below dfd (AT_EMPTY_PATH with "": dfd itself),
 * never following a symlink. 0 or -errno. */
static inline int objid_at(int dfd, const char *name, struct objid *out)
{
	struct statx sx;

	if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH),
		  STATX_INO | STATX_BTIME, &sx) < 0)
		return -errno;
	objid_of(&sx, out);
	return 0;
}

#endif
