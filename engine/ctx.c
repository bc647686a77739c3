/* SPDX-License-Identifier: MIT */
/*
 * ctx - the run-time side of spoke_ctx: the start of a run, the first
 * failure of a run and log messages. See ctx.h; the public setters and
 * getters are engine/api_ctx.c.
 */
#include "engine/ctx.h"
#include "engine/wheelcache.h"
#include "base/fault.h"
#include "base/name.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fault_status;

static void fault_arm_once(void)
{
	char err[256];

	fault_status = io_fault_arm_from_env(err, sizeof(err));
}

int ctx_begin(spoke_ctx *ctx)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	char err[256];

	pthread_mutex_lock(&ctx->lock);
	ctx->failed = 0;
	ctx->err_code = 0;
	ctx->err_errno = 0;
	ctx->err_wheel = -1;
	ctx->err_path[0] = '\0';
	ctx->err_msg[0] = '\0';
	pthread_mutex_unlock(&ctx->lock);
	atomic_store(&ctx->cancel, 0);
	atomic_store(&ctx->lookup_ns, 0);
	wheelfetch_forget(ctx);
	pthread_once(&once, fault_arm_once);
	if (fault_status) {
		io_fault_arm(getenv("SPOKE_FAULT"), err, sizeof(err));
		return ctx_fail(ctx, SPOKE_E_USAGE, EINVAL, NULL,
				"invalid SPOKE_FAULT: %s", err);
	}
	return 0;
}

int ctx_code(int code)
{
	return code == -ENOMEM ? SPOKE_E_NOMEM : code;
}

int ctx_fail(spoke_ctx *ctx, int code, int err_errno, const char *path,
	     const char *fmt, ...)
{
	char msg[sizeof(ctx->err_msg)];
	va_list ap;

	code = ctx_code(code);
	if (err_errno < 0)
		err_errno = -err_errno;
	if (code == SPOKE_E_NOMEM && !err_errno)
		err_errno = ENOMEM;
	pthread_mutex_lock(&ctx->lock);
	if (ctx->failed)
		goto out;
	ctx->failed = 1;
	ctx->err_code = code;
	ctx->err_errno = err_errno;
	snprintf(ctx->err_path, sizeof(ctx->err_path), "%s", path ? path : "");
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	} else if (path) {
		snprintf(msg, sizeof(msg), "'%s': %s", path,
			 spoke_strerror(err_errno ? -err_errno : code));
	} else {
		snprintf(msg, sizeof(msg), "%s",
			 spoke_strerror(err_errno ? -err_errno : code));
	}
	/* Messages carry names from wheels and trees: a newline or an
	 * escape sequence in one must not reach the host's terminal. */
	name_escape_controls(ctx->err_msg, sizeof(ctx->err_msg), msg);
out:
	pthread_mutex_unlock(&ctx->lock);
	return code;
}

long long ctx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

spoke_ctx *ctx_private(spoke_ctx *ctx)
{
	spoke_ctx *pc = spoke_ctx_create();

	if (!pc)
		return NULL;
	pc->link_mode = ctx->link_mode;
	pc->io = ctx->io;
	pc->jobs = ctx->jobs;
	pc->verify = ctx->verify;
	pc->log_fn = ctx->log_fn;
	pc->log_user = ctx->log_user;
	return pc;
}

void ctx_copy_error(spoke_ctx *ctx, spoke_ctx *from)
{
	pthread_mutex_lock(&from->lock);
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->failed && from->failed) {
		ctx->failed = 1;
		ctx->err_code = from->err_code;
		ctx->err_errno = from->err_errno;
		memcpy(ctx->err_path, from->err_path, sizeof(ctx->err_path));
		memcpy(ctx->err_msg, from->err_msg, sizeof(ctx->err_msg));
	}
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_unlock(&from->lock);
}

int ctx_end(spoke_ctx *ctx, int ret)
{
	wheelfetch_forget(ctx);
	if (ret < 0 && !ctx_failed(ctx))
		return ctx_fail(ctx, ret, ret > -4096 ? -ret : 0, NULL, NULL);
	return ctx_code(ret);
}

int ctx_failed(spoke_ctx *ctx)
{
	int f;

	pthread_mutex_lock(&ctx->lock);
	f = ctx->failed;
	pthread_mutex_unlock(&ctx->lock);
	return f;
}

void ctx_log(spoke_ctx *ctx, int level, const char *fmt, ...)
{
	char msg[PATH_MAX + 512], shown[PATH_MAX + 512];
	va_list ap;

	if (!ctx->log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	name_escape_controls(shown, sizeof(shown), msg);
	pthread_mutex_lock(&ctx->lock);
	ctx->log_fn(ctx->log_user, level, shown);
	pthread_mutex_unlock(&ctx->lock);
}
