/* SPDX-License-Identifier: MIT */
/*
 * spawn - run a program and take what it prints: the one posix_spawn,
 * pipe, read-to-the-end and waitpid sequence that every "ask the
 * interpreter" step shares. Reading goes on past what is kept, so the
 * child never blocks on a full pipe while it is waited for.
 */
#ifndef SPOKE_BASE_SPAWN_H
#define SPOKE_BASE_SPAWN_H

#include <stddef.h>

/* Run argv[0] (a path) with argv, stdout captured: at most max bytes are
 * kept, NUL-terminated, in a heap buffer *out (free()); *truncated is set
 * when it printed more. stderr goes to /dev/null when quiet. *status is
 * waitpid's. 0, or -errno when the program could not be started (nothing
 * to free then), -ENOMEM. */
int spawn_capture(char *const argv[], int quiet, size_t max, char **out,
		  int *truncated, int *status);

#endif
