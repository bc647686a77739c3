/* SPDX-License-Identifier: MIT */
/*
 * testlib - the little the C tests share: liburing-style results (exit 0
 * pass, 1 fail, 77 skip), a CHECK macro that names the failing expression
 * and line, and temporary directories removed at exit.
 */
#ifndef SPOKE_TESTLIB_H
#define SPOKE_TESTLIB_H

#include <stdarg.h>
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

/* The cache tests' form: a failed check says what differed, printf-style:
 * CHECKF(ret == 0, "unpack: %s", err). */
static inline void __attribute__((format(printf, 3, 4), noreturn))
t_die(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(T_FAIL);
}

#define DIE(line, ...) t_die(__FILE__, line, __VA_ARGS__)
#define CHECKF(cond, ...)                                                    \
	do {                                                                 \
		if (!(cond))                                                 \
			DIE(__LINE__, __VA_ARGS__);                          \
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
