/* SPDX-License-Identifier: MIT */
/*
 * ctx - spoke_ctx options, error state, version and spoke_strerror. See ctx.h.
 */
#include "engine/ctx.h"
#include "base/alloc.h"
#include "base/fault.h"
#include "io/linkops.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STR2(x) #x
#define STR(x) STR2(x)

const char *spoke_version(void)
{
	return STR(SPOKE_VERSION_MAJOR) "." STR(SPOKE_VERSION_MINOR) "." STR(
		SPOKE_VERSION_PATCH);
}

int spoke_version_number(void)
{
	return SPOKE_VERSION_NUMBER;
}

const char *spoke_strerror(int code)
{
	static const char *const names[] = {
		[-(SPOKE_E_USAGE - SPOKE_E_BASE)] = "invalid argument or option",
		[-(SPOKE_E_UNSUPPORTED - SPOKE_E_BASE)] =
			"link mode not supported here (and fallback disabled)",
		[-(SPOKE_E_BADWHEEL - SPOKE_E_BASE)] = "malformed wheel",
		[-(SPOKE_E_UNSAFE_PATH - SPOKE_E_BASE)] =
			"path escapes its root",
		[-(SPOKE_E_CONFLICT - SPOKE_E_BASE)] = "conflicting paths",
		[-(SPOKE_E_HASH - SPOKE_E_BASE)] =
			"content does not match RECORD",
		[-(SPOKE_E_CANCELED - SPOKE_E_BASE)] = "canceled",
		[-(SPOKE_E_NOT_INSTALLED - SPOKE_E_BASE)] =
			"distribution not installed",
		[-(SPOKE_E_LOCKED - SPOKE_E_BASE)] =
			"environment locked by another process",
		[-(SPOKE_E_CORRUPT - SPOKE_E_BASE)] = "corrupt cache entry or journal",
		[-(SPOKE_E_NOMEM - SPOKE_E_BASE)] = "out of memory",
		[-(SPOKE_E_PROTECTED - SPOKE_E_BASE)] =
			"would replace a protected environment file",
	};

	if (code == 0)
		return "success";
	if (code < SPOKE_E_BASE && code > SPOKE_E_LAST)
		return names[-(code - SPOKE_E_BASE)];
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown error";
}

static int fault_status;

static void fault_arm_once(void)
{
	char err[256];

	fault_status = io_fault_arm_from_env(err, sizeof(err));
}

spoke_ctx *spoke_ctx_create(void)
{
	spoke_ctx *ctx = xcalloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
		free(ctx);
		return NULL;
	}
	ctx->verify = 1;
	io_init();
	return ctx;
}

void spoke_ctx_free(spoke_ctx *ctx)
{
	if (!ctx)
		return;
	pthread_mutex_destroy(&ctx->lock);
	free(ctx->cache_dir);
	free(ctx);
}

int spoke_ctx_set_link_mode(spoke_ctx *ctx, enum spoke_link_mode mode)
{
	if ((unsigned)mode > SPOKE_LINK_SYMLINK)
		return SPOKE_E_USAGE;
	ctx->link_mode = mode;
	return 0;
}

int spoke_ctx_set_jobs(spoke_ctx *ctx, unsigned jobs)
{
	if (jobs > 1024)
		return SPOKE_E_USAGE;
	ctx->jobs = jobs;
	return 0;
}

int spoke_ctx_set_io(spoke_ctx *ctx, enum spoke_io_backend io)
{
	if ((unsigned)io > SPOKE_IO_SYNC)
		return SPOKE_E_USAGE;
	ctx->io = io;
	return 0;
}

int spoke_ctx_set_no_fallback(spoke_ctx *ctx, int on)
{
	ctx->no_fallback = !!on;
	return 0;
}

int spoke_ctx_set_verify(spoke_ctx *ctx, int on)
{
	ctx->verify = !!on;
	return 0;
}

int spoke_ctx_set_log(spoke_ctx *ctx, spoke_log_fn fn, void *user)
{
	ctx->log_fn = fn;
	ctx->log_user = user;
	return 0;
}

int spoke_ctx_set_progress(spoke_ctx *ctx, spoke_progress_fn fn, void *user)
{
	ctx->progress_fn = fn;
	ctx->progress_user = user;
	return 0;
}

int spoke_ctx_set_cache_dir(spoke_ctx *ctx, const char *dir)
{
	char *copy = NULL, cwd[PATH_MAX];

	/* Entry paths handed to the linker must not depend on the cwd. */
	if (dir && *dir && dir[0] != '/') {
		size_t n;

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = strlen(cwd) + strlen(dir) + 2;
		copy = xmalloc(n);
		if (!copy)
			return SPOKE_E_NOMEM;
		snprintf(copy, n, "%s/%s", cwd, dir);
	} else if (dir && !(copy = xstrdup(dir))) {
		return SPOKE_E_NOMEM;
	}
	free(ctx->cache_dir);
	ctx->cache_dir = copy;
	return 0;
}

void spoke_ctx_cancel(spoke_ctx *ctx)
{
	atomic_store(&ctx->cancel, 1);
}

int spoke_ctx_error_code(const spoke_ctx *ctx)
{
	return ctx->err_code;
}

int spoke_ctx_error_errno(const spoke_ctx *ctx)
{
	return ctx->err_errno;
}

const char *spoke_ctx_error_path(const spoke_ctx *ctx)
{
	return ctx->err_path;
}

const char *spoke_ctx_error_message(const spoke_ctx *ctx)
{
	return ctx->err_msg;
}

int ctx_begin(spoke_ctx *ctx)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	char err[256];
	pthread_mutex_lock(&ctx->lock);
	ctx->failed = 0;
	ctx->err_code = 0;
	ctx->err_errno = 0;
	ctx->err_path[0] = '\0';
	ctx->err_msg[0] = '\0';
	pthread_mutex_unlock(&ctx->lock);
	atomic_store(&ctx->cancel, 0);
	pthread_once(&once, fault_arm_once);
	if (fault_status) {
		io_fault_arm(getenv("SPOKE_FAULT"), err, sizeof(err));
		return ctx_fail(ctx, SPOKE_E_USAGE, EINVAL, NULL,
				"invalid SPOKE_FAULT: %s", err);
	}
	return 0;
}

int ctx_fail(spoke_ctx *ctx, int code, int err_errno, const char *path,
	     const char *fmt, ...)
{
	va_list ap;

	if (err_errno < 0)
		err_errno = -err_errno;
	pthread_mutex_lock(&ctx->lock);
	if (ctx->failed)
		goto out;
	ctx->failed = 1;
	ctx->err_code = code;
	ctx->err_errno = err_errno;
	snprintf(ctx->err_path, sizeof(ctx->err_path), "%s", path ? path : "");
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(ctx->err_msg, sizeof(ctx->err_msg), fmt, ap);
		va_end(ap);
	} else if (path) {
		snprintf(ctx->err_msg, sizeof(ctx->err_msg), "'%s': %s", path,
			 spoke_strerror(err_errno ? -err_errno : code));
	} else {
		snprintf(ctx->err_msg, sizeof(ctx->err_msg), "%s",
			 spoke_strerror(err_errno ? -err_errno : code));
	}
out:
	pthread_mutex_unlock(&ctx->lock);
	return code;
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
	char msg[PATH_MAX + 512];
	va_list ap;

	if (!ctx->log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&ctx->lock);
	ctx->log_fn(ctx->log_user, level, msg);
	pthread_mutex_unlock(&ctx->lock);
}
