/* SPDX-License-Identifier: MIT */
/*
 * rss - run one command and report its whole-process wall time and peak
 * resident set size, for the spoke benchmark. The clock (CLOCK_MONOTONIC)
 * starts just before fork and stops when wait4 returns, so the figure covers
 * exec, dynamic loading, the work and exit, the same for every strategy.
 * Peak RSS is ru_maxrss of the child from wait4 (KiB). With -t SECONDS the
 * child (and its process group) is killed after that long and the status is
 * reported as "timeout". SIGINT and SIGTERM are passed on to the child's
 * process group. The child inherits stdin/stdout/stderr.
 *
 * Usage: rss [-o FILE] [-t SECONDS] -- CMD [ARG...]
 * Writes one JSON line to FILE (default stderr):
 *   {"wall":1.234567,"maxrss_kb":5120,"exit":0,"signal":0,"timeout":false}
 * and exits 0 if the command exited 0, else 1 (127 if it could not start,
 * 128+N after passing on signal N).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out, interrupted;
static volatile pid_t child_pid;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child_pid > 0) {
		kill(-child_pid, SIGKILL);
		kill(child_pid, SIGKILL);
	}
}

/* The child runs in its own process group (so a timeout reaches its
 * helpers), which a terminal's Ctrl-C does not reach: pass it on. */
static void on_stop(int sig)
{
	interrupted = sig;
	if (child_pid > 0)
		kill(-child_pid, sig);
}

static double now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
		fprintf(stderr, "rss: clock_gettime: %s\n", strerror(errno));
		exit(127);
	}
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: rss [-o FILE] [-t SECONDS] -- CMD [ARG...]\n");
	exit(127);
}

int main(int argc, char **argv)
{
	const char *out_path = NULL;
	unsigned timeout = 0;
	struct rusage ru;
	int status = 0, opt;
	double t0, t1;
	pid_t pid;
	FILE *out;

	while ((opt = getopt(argc, argv, "+o:t:")) != -1) {
		switch (opt) {
		case 'o':
			out_path = optarg;
			break;
		case 't': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v == 0 || v > 86400)
				usage();
			timeout = (unsigned)v;
			break;
		}
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		if (timeout && sigaction(SIGALRM, &sa, NULL) < 0) {
			fprintf(stderr, "rss: sigaction: %s\n", strerror(errno));
			return 127;
		}
		sa.sa_handler = on_stop;
		if (sigaction(SIGINT, &sa, NULL) < 0 ||
		    sigaction(SIGTERM, &sa, NULL) < 0) {
			fprintf(stderr, "rss: sigaction: %s\n", strerror(errno));
			return 127;
		}
	}

	t0 = now();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "rss: fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		struct sigaction dfl;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		setpgid(0, 0); /* so a timeout kills helpers too */
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "rss: exec %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	if (timeout)
		alarm(timeout);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "rss: wait4 %d: %s\n", (int)pid,
				strerror(errno));
			return 127;
		}
	}
	t1 = now();
	alarm(0);

	if (out_path) {
		out = fopen(out_path, "w");
		if (!out) {
			fprintf(stderr, "rss: open %s: %s\n", out_path,
				strerror(errno));
			return 127;
		}
	} else {
		out = stderr;
	}
	fprintf(out,
		"{\"wall\":%.6f,\"maxrss_kb\":%ld,\"exit\":%d,\"signal\":%d,"
		"\"timeout\":%s}\n",
		t1 - t0, ru.ru_maxrss,
		WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		WIFSIGNALED(status) ? WTERMSIG(status) : 0,
		timed_out ? "true" : "false");
	if (out != stderr && fclose(out) != 0) {
		fprintf(stderr, "rss: write %s: %s\n", out_path, strerror(errno));
		return 127;
	}
	if (interrupted)
		return 128 + interrupted;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return 127;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
