/* SPDX-License-Identifier: MIT */
/*
 * treelink - see treelink.h. The resolution keeps two strings: cur, the
 * directory reached so far (relative to the subtree root, "" for the root
 * itself, every component a real directory of the tree), and rest, what is
 * left to walk. A symlink met on the way is replaced by its target in
 * rest, resolved from the link's own directory, as the kernel does.
 *
 * A component the tree does not have (or has as a file) cannot be looked
 * at: after the install something else may stand there (another wheel's
 * link, the environment's). So no ".." may follow it; the names after it
 * are only appended. A dangling link that just names something missing is
 * allowed, as pip allows it.
 */
#include "engine/treelink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void cut_last(char *cur)
{
	char *slash = strrchr(cur, '/');

	if (slash)
		*slash = '\0';
	else
		cur[0] = '\0';
}

int treelink_inside(treelink_look_fn look, void *user, const char *rel,
		    const char *target, const char *excluded,
		    const char **why)
{
	char cur[PATH_MAX], rest[PATH_MAX], next_rest[PATH_MAX];
	char link[PATH_MAX];
	const char *r;
	int hops = 0, unknown = 0, kind;

	*why = NULL;
	if (!*target) {
		*why = "is empty";
		return 0;
	}
	if (target[0] == '/') {
		*why = "is absolute";
		return 0;
	}
	if (strlen(rel) >= sizeof(cur) || strlen(target) >= sizeof(rest)) {
		*why = "is too long";
		return 0;
	}
	strcpy(cur, rel);
	cut_last(cur); /* the link's directory */
	strcpy(rest, target);
	r = rest;
	while (*r) {
		size_t n = strcspn(r, "/"), clen = strlen(cur);
		const char *next = r + n + (r[n] == '/');
		ssize_t len;

		if (n == 0 || (n == 1 && r[0] == '.')) {
			r = next;
			continue;
		}
		if (n == 2 && r[0] == '.' && r[1] == '.') {
			if (unknown) {
				*why = "goes back up ('..') from a name the "
				       "tree does not have as a directory";
				return 0;
			}
			if (!clen) {
				*why = "leaves its install directory";
				return 0;
			}
			cut_last(cur);
			r = next;
			continue;
		}
		if (clen + n + 2 > sizeof(cur)) {
			*why = "is too long";
			return 0;
		}
		if (clen)
			cur[clen++] = '/';
		memcpy(cur + clen, r, n);
		cur[clen + n] = '\0';
		if (!clen && excluded && strcmp(cur, excluded) == 0) {
			*why = "points into the .data directory, which is not "
			       "installed";
			return 0;
		}
		if (unknown) {
			r = next;
			continue;
		}
		kind = look(user, cur, link, sizeof(link));
		if (kind < 0)
			return kind;
		if (kind != TREELINK_LINK) {
			unknown = kind != TREELINK_DIR;
			r = next;
			continue;
		}
		if (++hops > TREELINK_HOPS_MAX) {
			*why = "goes through too many symlinks (a loop)";
			return 0;
		}
		len = (ssize_t)strlen(link);
		if (!len || link[0] == '/') {
			*why = len ? "goes through a symlink to an absolute "
				     "path" : "goes through an empty symlink";
			return 0;
		}
		cut_last(cur); /* a link's target is read from its directory */
		if ((size_t)len + 1 + strlen(next) >= sizeof(next_rest)) {
			*why = "is too long once its symlinks are followed";
			return 0;
		}
		memcpy(next_rest, link, (size_t)len);
		next_rest[len] = '/';
		strcpy(next_rest + len + 1, next);
		strcpy(rest, next_rest);
		r = rest;
	}
	return 1;
}
