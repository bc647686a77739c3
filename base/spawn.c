/* SPDX-License-Identifier: MIT */
/* spawn - see spawn.h. */
#include "base/spawn.h"
#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int spawn_capture(char *const argv[], int quiet, size_t max, char **out,
		  int *truncated, int *status)
{
	posix_spawn_file_actions_t fa;
	char *buf = xmalloc(max + 1), sink[4096];
	size_t got = 0;
	int fds[2], err;
	pid_t pid;

	*out = NULL;
	*truncated = 0;
	if (!buf)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO,
						 "/dev/null", O_WRONLY, 0);
	err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (err) {
		close(fds[0]);
		free(buf);
		return -err;
	}
	for (;;) {
		ssize_t n = got < max ? read(fds[0], buf + got, max - got) :
			    read(fds[0], sink, sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < max)
			got += (size_t)n;
		else
			*truncated = 1;
	}
	buf[got] = '\0';
	close(fds[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	*out = buf;
	return 0;
}
