/* SPDX-License-Identifier: MIT */
/*
 * fault - see fault.h. Counters are process-wide atomics: "the 40th call" must
 * mean the same thing whichever thread makes it, so a test can name a call
 * without knowing the schedule.
 */
#include "base/fault.h"
#include "base/errname.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES 16
/* The ERRNO name KILL: the call raises SIGKILL instead of failing, a
 * deterministic crash point for the journal's recovery tests. */
#define FAULT_KILL (-1)
/* The ERRNO part DELAY=MS: the call sleeps MS milliseconds, then runs as
 * usual; a slow syscall at a chosen point (a probe on NFS, a stalled
 * disk), for testing what other threads and a cancel do meanwhile. */
#define FAULT_DELAY (-2)
#define DELAY_MAX_MS 600000

struct rule {
	int op;
	uint64_t nth;
	int err;
	unsigned delay_ms;
};

static struct rule rules[MAX_RULES];
static int nrules;
static atomic_int armed;
static atomic_uint_least64_t calls[IO_OP__MAX + 1];

static const char *const op_names[IO_OP__MAX + 1] = {
	"clone", "link", "copy", "symlink", "mkdir", "open",
	"write", "rename", "unlink", "alloc", "uring", "any",
};

const char *io_op_name(enum io_opcode op)
{
	return (unsigned)op <= IO_OP__MAX ? op_names[op] : "?";
}

static int parse_rule(char *s, struct rule *r, char *err, size_t errlen)
{
	char *op = s, *n, *e, *end;

	n = strchr(op, ':');
	e = n ? strchr(n + 1, ':') : NULL;
	if (!n || !e) {
		snprintf(err, errlen, "'%s': expected OP:N:ERRNO", s);
		return -EINVAL;
	}
	*n++ = '\0';
	*e++ = '\0';
	r->op = -1;
	for (int i = 0; i <= IO_OP__MAX; i++)
		if (strcmp(op, op_names[i]) == 0)
			r->op = i;
	if (r->op < 0) {
		snprintf(err, errlen, "unknown io op '%s' (one of clone, link, "
			 "copy, symlink, mkdir, open, write, rename, unlink, "
			 "alloc, uring, any)", op);
		return -EINVAL;
	}
	errno = 0;
	r->nth = strtoull(n, &end, 10);
	if (errno || *end || end == n || r->nth == 0) {
		snprintf(err, errlen, "'%s': N must be a positive integer", n);
		return -EINVAL;
	}
	r->delay_ms = 0;
	if (strncmp(e, "DELAY=", 6) == 0) {
		unsigned long ms;

		errno = 0;
		ms = strtoul(e + 6, &end, 10);
		if (errno || *end || end == e + 6 || ms > DELAY_MAX_MS) {
			snprintf(err, errlen, "'%s': DELAY=MS needs "
				 "milliseconds, at most %d", e, DELAY_MAX_MS);
			return -EINVAL;
		}
		r->err = FAULT_DELAY;
		r->delay_ms = (unsigned)ms;
		return 0;
	}
	r->err = strcmp(e, "KILL") == 0 ? FAULT_KILL : errname_parse(e);
	if (r->err == 0) {
		snprintf(err, errlen, "unknown errno name '%s'", e);
		return -EINVAL;
	}
	return 0;
}

int io_fault_arm(const char *spec, char *err, size_t errlen)
{
	struct rule parsed[MAX_RULES];
	int n = 0, ret = 0;
	char *copy, *tok, *save = NULL;

	atomic_store(&armed, 0);
	nrules = 0;
	if (!spec || !*spec)
		return 0;
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_RULES) {
			snprintf(err, errlen, "more than %d rules", MAX_RULES);
			ret = -EINVAL;
			goto out;
		}
		ret = parse_rule(tok, &parsed[n++], err, errlen);
		if (ret)
			goto out;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty fault spec");
		ret = -EINVAL;
		goto out;
	}
	memcpy(rules, parsed, sizeof(parsed));
	nrules = n;
	for (int i = 0; i <= IO_OP__MAX; i++)
		atomic_store(&calls[i], 0);
	/* Release pairs with the acquire in io_fault_hit: a thread that sees
	 * armed also sees the rules written above. */
	atomic_store_explicit(&armed, 1, memory_order_release);
out:
	free(copy);
	return ret;
}

int io_fault_arm_from_env(char *err, size_t errlen)
{
	const char *spec = getenv("SPOKE_FAULT");

	if (!spec)
		return 0;
	return io_fault_arm(spec, err, errlen);
}

void io_fault_count_start(void)
{
	for (int i = 0; i <= IO_OP__MAX; i++)
		atomic_store(&calls[i], 0);
	nrules = 0;
	atomic_store_explicit(&armed, 1, memory_order_release);
}

uint64_t io_fault_calls(void)
{
	return atomic_load(&calls[IO_OP_ANY]);
}

static void delay(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	/* A signal handler (SIGINT in the CLI) must not cut it short. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int io_fault_hit(enum io_opcode op)
{
	uint64_t nth, any;

	if (!atomic_load_explicit(&armed, memory_order_acquire))
		return 0;
	nth = atomic_fetch_add(&calls[op], 1) + 1;
	any = atomic_fetch_add(&calls[IO_OP_ANY], 1) + 1;
	for (int i = 0; i < nrules; i++) {
		if ((rules[i].op == (int)op && rules[i].nth == nth) ||
		    (rules[i].op == IO_OP_ANY && rules[i].nth == any)) {
			/* SIGKILL cannot be caught: the process dies here, as
			 * under the OOM killer or a CI timeout. */
			if (rules[i].err == FAULT_KILL) {
				kill(getpid(), SIGKILL);
				return -EIO; /* not reached: SIGKILL to self */
			}
			if (rules[i].err == FAULT_DELAY) {
				delay(rules[i].delay_ms);
				return 0;
			}
			return -rules[i].err;
		}
	}
	return 0;
}
