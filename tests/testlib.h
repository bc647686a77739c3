/* SPDX-License-Identifier: MIT */
/*
 * testlib - the little the C tests share: liburing-style results (exit 0
 * pass, 1 fail, 77 skip), a CHECK macro that names the failing expression
 * and line, and temporary directories removed at exit.
 */
#ifndef SPOKE_TESTLIB_H
#define SPOKE_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,        \
				__LINE__, #cond);                            \
			exit(T_FAIL);                                        \
		}                                                            \
	} while (0)

#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);          \
		if (_a != _b) {                                              \
			fprintf(stderr, "FAIL %s:%d: %s == %lld, want %s == "\
				"%lld\n", __FILE__, __LINE__, #a, _a, #b, _b);\
			exit(T_FAIL);                                        \
		}                                                            \
	} while (0)

static char t_tmpdir[256];

static void t_rmtmp(void)
{
	char cmd[300];

	if (t_tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: cannot remove %s\n", t_tmpdir);
	}
}

/* A fresh directory under /tmp, removed at exit. */
static inline const char *t_mktemp(void)
{
	snprintf(t_tmpdir, sizeof(t_tmpdir), "/tmp/spoke-ctest.XXXXXX");
	if (!mkdtemp(t_tmpdir)) {
		perror("mkdtemp");
		exit(T_FAIL);
	}
	atexit(t_rmtmp);
	return t_tmpdir;
}

#endif
