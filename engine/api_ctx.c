/* SPDX-License-Identifier: MIT */
/*
 * api_ctx - the public side of spoke_ctx (spoke.h "context"): creation,
 * run options, the last error's detail, cancel; and the names of return
 * values and the version. The run-time side (recording a failure, logging)
 * is engine/ctx.c.
 */
#include "engine/ctx.h"
#include "engine/wheelcache.h"
#include "base/alloc.h"
#include "io/linkops.h"

#include <errno.h>
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

/* A switch, not a table indexed from a sentinel: a code added to spoke.h
 * without a name here reads "unknown error", never a wrong neighbour. */
static const char *spoke_err_name(int code)
{
	switch ((enum spoke_err)code) {
	case SPOKE_OK:
		return "success";
	case SPOKE_E_BASE:
		break;
	case SPOKE_E_USAGE:
		return "invalid argument or option";
	case SPOKE_E_UNSUPPORTED:
		return "link mode not supported here (and fallback disabled)";
	case SPOKE_E_BADWHEEL:
		return "malformed wheel";
	case SPOKE_E_UNSAFE_PATH:
		return "path escapes its root";
	case SPOKE_E_CONFLICT:
		return "conflicting paths";
	case SPOKE_E_HASH:
		return "content does not match RECORD";
	case SPOKE_E_CANCELED:
		return "canceled";
	case SPOKE_E_NOT_INSTALLED:
		return "distribution not installed";
	case SPOKE_E_LOCKED:
		return "environment locked by another process";
	case SPOKE_E_CORRUPT:
		return "corrupt cache entry or journal";
	case SPOKE_E_NOMEM:
		return "out of memory";
	case SPOKE_E_PROTECTED:
		return "would replace a protected environment file";
	}
	return NULL;
}

const char *spoke_strerror(int code)
{
	const char *name = spoke_err_name(code);

	if (name)
		return name;
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown error";
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
	ctx->err_wheel = -1;
	io_init();
	return ctx;
}

void spoke_ctx_free(spoke_ctx *ctx)
{
	if (!ctx)
		return;
	wheelfetch_forget(ctx);
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

int spoke_ctx_error_wheel(const spoke_ctx *ctx)
{
	return ctx->err_wheel;
}
