/* SPDX-License-Identifier: MIT */
/*
 * path - lexical path helpers. Paths are absolute and normalised ("/a/b",
 * no ".", "..", "//" or trailing "/"), so "is this inside the environment"
 * and "what is this relative to site-packages" are string operations that
 * never follow a link; path_open_below() is the one that touches the
 * filesystem, and it refuses links.
 */
#ifndef SPOKE_BASE_PATH_H
#define SPOKE_BASE_PATH_H

#include <stddef.h>

/* a + "/" + b, normalised (b may hold ".."; an absolute b replaces a).
 * NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
/* p made absolute against the working directory and normalised. */
char *path_absolute(const char *p);
/* Normalise an absolute path in place; ".." above "/" stays at "/". */
void path_normalize(char *p);
/* 1 if p is root or lies below it. */
int path_under(const char *root, const char *p);
/* to relative to the directory from (both normalised): "../../bin/x". */
char *path_relative(const char *from, const char *to);
/* The parent of a normalised path, in place ("/" stays "/"). */
void path_dirname(char *p);
const char *path_basename(const char *p);

/* Open the directory rel (relative, normalised, may be "") below root
 * without following a symlink below root: fd or -errno (-ENOTDIR/-ELOOP
 * when a component is not a real directory). */
int path_open_below(const char *root, const char *rel);
/* The same below an open directory: openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or where the kernel lacks it one O_NOFOLLOW open
 * per component. A symlink anywhere on the way: -ELOOP. */
int path_open_beneath(int dfd, const char *rel);

#endif
