/* SPDX-License-Identifier: MIT */
/*
 * treelink - where a symlink of an unpacked wheel tree really resolves.
 * A link is recreated as it is, so once installed its target is read
 * relative to the install subtree it lands in (site-packages for the wheel
 * root, the scheme directory for a .data/<key>). A lexical check of the
 * target is not enough: "up -> .." and then "x -> up/../.." looks like it
 * stays inside but leaves. So the target is resolved component by
 * component against the tree itself, following every symlink of the tree
 * it passes through (with a bound on their number, which also ends
 * loops), and refused if any step leaves the subtree.
 */
#ifndef SPOKE_ENGINE_TREELINK_H
#define SPOKE_ENGINE_TREELINK_H

#include <stddef.h>

/* More links than this on one resolution is a loop, as for the kernel's
 * ELOOP (which allows 40). */
#define TREELINK_HOPS_MAX 40

/* What the tree has at rel (relative to the subtree root): */
enum { TREELINK_NONE, TREELINK_DIR, TREELINK_LINK, TREELINK_OTHER };
/* One of the above, with a link's content in link (NUL-terminated, at
 * most linklen - 1 bytes), or -errno when the tree cannot be read. The
 * tree is a cache entry's manifest (layout.c), not the filesystem. */
typedef int (*treelink_look_fn)(void *user, const char *rel, char *link,
				size_t linklen);

/* The link at rel (relative to the subtree root, which look describes; the
 * link itself is not read, target is its content). excluded: a top-level
 * name of the subtree that is not installed with it (the wheel's .data
 * directory), or NULL. Returns 1 when every step stays inside, 0 when not
 * (*why says how, a static string), or -errno when the tree cannot be
 * read. */
int treelink_inside(treelink_look_fn look, void *user, const char *rel,
		    const char *target, const char *excluded,
		    const char **why);

#endif
