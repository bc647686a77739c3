/* SPDX-License-Identifier: MIT */
/*
 * ctx - the inside of spoke_ctx: run options, the cancel flag and the first
 * error of a run. Workers report failures here; the first one wins, so the
 * message a user sees names the failure that stopped the run, not one of the
 * many "canceled" that follow it. The public setters and getters are
 * engine/api_ctx.c.
 */
#ifndef SPOKE_ENGINE_CTX_H
#define SPOKE_ENGINE_CTX_H

#include "spoke.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

struct spoke_ctx {
	enum spoke_link_mode link_mode;
	enum spoke_io_backend io;
	unsigned jobs;
	int no_fallback;
	int verify;
	char *cache_dir;
	spoke_log_fn log_fn;
	void *log_user;
	spoke_progress_fn progress_fn;
	void *progress_user;
	atomic_int cancel;

	pthread_mutex_t lock; /* error fields and log/progress serialisation */
	int failed;           /* an error is recorded for this run */
	int err_code, err_errno;
	int err_wheel; /* plan index the error belongs to, or -1 */
	char err_path[PATH_MAX];
	char err_msg[PATH_MAX + 512];
	struct wheelfetch *fetch; /* the run's fetch (wheelfetch.c), or NULL */
	atomic_llong lookup_ns;   /* this run's time finding cache entries */
};

/* Start of a run: forget the last error and any old cancel request, and
 * arm $SPOKE_FAULT on the first run of the process. 0, or SPOKE_E_USAGE
 * (recorded) for a malformed SPOKE_FAULT: a typo must not silently test
 * nothing. */
int ctx_begin(spoke_ctx *ctx);
/* The public form of a return value: -ENOMEM becomes SPOKE_E_NOMEM, the
 * one out-of-memory code spoke.h promises; everything else is unchanged.
 * A public function returning a value it did not get from ctx_fail passes
 * it through this. */
int ctx_code(int code);
/* Record a failure (first one wins) and return ctx_code(code). err_errno
 * may be 0; path may be NULL. The message is "'path': strerror" when fmt is
 * NULL; it is stored escaped (name_escape: control bytes as \xHH), the
 * path as given. */
int ctx_fail(spoke_ctx *ctx, int code, int err_errno, const char *path,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The last step of a public run: its return value in public form
 * (ctx_code), recorded as the context's error when nothing was (a helper
 * that returned -errno without ctx_fail), so the return value and
 * spoke_ctx_error_code() agree. */
int ctx_end(spoke_ctx *ctx, int ret);
int ctx_failed(spoke_ctx *ctx);
/* Record from's error in ctx as it stands (first one wins, as ctx_fail):
 * a failure kept aside (wheelfetch.c) reported later exactly as made. */
void ctx_copy_error(spoke_ctx *ctx, spoke_ctx *from);
/* A new context with ctx's options (link mode, io, jobs, verify, log
 * callback): one piece of a run that keeps its own failure until the run
 * reaches it in order (ctx_copy_error). NULL when out of memory. */
spoke_ctx *ctx_private(spoke_ctx *ctx);
void ctx_log(spoke_ctx *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* CLOCK_MONOTONIC in ns: the phase timings of a run. */
long long ctx_now_ns(void);
static inline int ctx_canceled(spoke_ctx *ctx)
{
	return atomic_load_explicit(&ctx->cancel, memory_order_relaxed);
}

#endif
