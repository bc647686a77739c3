/* SPDX-License-Identifier: MIT */
/*
 * batch - see batch.h. This is the subtlest code of the linker: a probe is
 * held by one op at a time, at ops[start], from the submit that makes it
 * until it settles; every path out of batch_run() closes it.
 */
#include "engine/batch.h"
#include "base/errname.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int batch_stopped(spoke_ctx *ctx, atomic_int *abort)
{
	if (atomic_load_explicit(abort, memory_order_relaxed))
		return 1;
	if (ctx_canceled(ctx)) {
		atomic_store(abort, 1);
		ctx_fail(ctx, SPOKE_E_CANCELED, 0, NULL, "canceled");
		return 1;
	}
	return 0;
}

static int fail(const struct batch_env *e, const char *dname, int err,
		const char *what)
{
	char path[PATH_MAX];

	e->dst_path(e->where, dname, path, sizeof(path));
	atomic_store(e->abort, 1);
	return ctx_fail(e->ctx, err, err, path, "%s '%s': %s", what, path,
			strerror(-err));
}

static void count_done(const struct batch_env *e, const struct io_op *op)
{
	static const int by_kind[IOK__MAX] = {
		[IOK_CLONE] = SPOKE_COUNT_CLONED,
		[IOK_HARDLINK] = SPOKE_COUNT_HARDLINKED,
		[IOK_COPY] = SPOKE_COUNT_COPIED,
		[IOK_SYMLINK] = SPOKE_COUNT_SYMLINKED,
	};

	batch_count(e->count, by_kind[op->kind], 1);
	if (op->replace)
		batch_count(e->count, SPOKE_COUNT_REPLACED, 1);
	if (op->target && op->sname == NULL)
		return; /* a symlink recreated from the source tree */
	batch_count(e->count, SPOKE_COUNT_FILES, 1);
	batch_count(e->count, SPOKE_COUNT_BYTES, op->size);
}

/* op failed "unsupported": switch the pair (or refuse, with --no-fallback).
 * probe is the held probe when op made it. After a successful probe the
 * first such failure switches the pair as a failed probe would, so a
 * method that stopped working is not tried again file after file. */
static int on_unsupported(const struct batch_env *e, struct attempt_pair *pair,
			  struct io_op *op, struct attempt_probe *probe)
{
	spoke_ctx *ctx = e->ctx;
	enum io_kind kind = op->kind, next = attempt_next(ctx->link_mode, kind);
	char path[PATH_MAX], ebuf[16];
	const char *from = attempt_kind_name(kind);
	int switched;

	batch_count(e->count, SPOKE_COUNT_FAILED_ATTEMPTS, 1);
	e->dst_path(e->where, op->dname, path, sizeof(path));
	switched = attempt_probe_held(probe) || attempt_demote(pair, kind);
	attempt_probe_close(probe, ATT_PROBE_FALLBACK);
	if (ctx->no_fallback) {
		atomic_store(e->abort, 1);
		return ctx_fail(ctx, SPOKE_E_UNSUPPORTED, op->res, path,
				"%s not supported for '%s' (%s: %s) and "
				"fallback is disabled", from, path,
				errname(op->res, ebuf), strerror(-op->res));
	}
	if (switched) {
		report_add_fallback(e->rep, from, attempt_kind_name(next),
				    op->res, path);
		/* Falling back is what auto means: news, not a warning.
		 * A mode the caller chose that does not work here is. */
		ctx_log(ctx, ctx->link_mode == SPOKE_LINK_AUTO ?
			SPOKE_LOG_INFO : SPOKE_LOG_WARN,
			"%s failed for '%s' (%s: %s); using %s for the rest of "
			"this run on this filesystem pair", from, path,
			errname(op->res, ebuf), strerror(-op->res),
			attempt_kind_name(next));
	}
	op->kind = next;
	/* The pair has switched, so the op chooses again (auto may now
	 * probe hardlink). Without shared state (the pair table was full)
	 * it keeps the next method for itself. */
	op->pinned = !pair || atomic_load_explicit(&pair->state[kind],
						   memory_order_acquire) !=
				      ATT_FALLBACK;
	return 0;
}

/* What a copy op taught about copy_file_range on this pair: a refusal
 * switches the pair to read/write (the file itself was copied that way);
 * a success answers a probe. A probe that learned nothing stays held. */
static void learn_copy(const struct batch_env *e, struct attempt_pair *pair,
		       const struct io_op *op, struct attempt_probe *probe)
{
	char path[PATH_MAX];

	if (op->copy & IO_COPY_CFR_REFUSED) {
		batch_count(e->count, SPOKE_COUNT_FAILED_ATTEMPTS, 1);
		if (attempt_probe_held(probe) ||
		    attempt_demote(pair, IOK_COPY)) {
			e->dst_path(e->where, op->dname, path, sizeof(path));
			ctx_log(e->ctx, SPOKE_LOG_DEBUG,
				"copy_file_range refused for '%s'; copying "
				"with read/write for the rest of this run on "
				"this filesystem pair", path);
		}
		attempt_probe_close(probe, ATT_PROBE_FALLBACK);
	} else if (op->copy & IO_COPY_CFR_OK) {
		attempt_probe_close(probe, ATT_PROBE_OK);
	}
}

/* Settle one op whose result is in op->res: 0 when done, 1 to resubmit
 * (op rewritten: replace, or another kind), <0 fatal. probe is held only
 * when op made it; it is closed here unless op retries the same method. */
static int settle(const struct batch_env *e, struct attempt_pair *pair,
		  struct io_op *op, struct attempt_probe *probe)
{
	int cls = err_classify(op->res, op->kind == IOK_HARDLINK);
	int from_tree = op->target && !op->sname;

	if (op->kind == IOK_COPY)
		learn_copy(e, pair, op, probe);
	if (cls == ERR_OK) {
		/* A copy probe still held learned nothing (no
		 * copy_file_range call was made): the next copy asks. */
		attempt_probe_close(probe, op->kind == IOK_COPY ?
					   ATT_PROBE_ABANDONED : ATT_PROBE_OK);
		count_done(e, op);
		return 0;
	}
	if (cls == ERR_EXISTS && !op->replace && e->taken) {
		char path[PATH_MAX];

		attempt_probe_close(probe, ATT_PROBE_ABANDONED);
		e->dst_path(e->where, op->dname, path, sizeof(path));
		e->taken(e->taken_arg, path);
		atomic_store(e->abort, 1);
		return ctx_fail(e->ctx, op->res, op->res, path, "cannot create "
				"'%s': something else appeared there during "
				"the run (another installer?); it was left in "
				"place", path);
	}
	if (cls == ERR_EXISTS && !op->replace) {
		/* Says nothing about whether the method works: keep any
		 * probe and retry the same method over the old file. */
		op->replace = 1;
		op->pinned = 1;
		return 1;
	}
	if (cls == ERR_UNSUPPORTED && op->kind != IOK_COPY && !from_tree) {
		int err = on_unsupported(e, pair, op, probe);

		return err ? err : 1;
	}
	attempt_probe_close(probe, ATT_PROBE_ABANDONED);
	return fail(e, op->dname, op->res,
		    op->replace ? "cannot replace" : "cannot create");
}

static void swap_ops(struct io_op *a, struct io_op *b)
{
	struct io_op tmp = *a;

	*a = *b;
	*b = tmp;
}

static int env_stopped(void *arg)
{
	const struct batch_env *e = arg;

	return batch_stopped(e->ctx, e->abort);
}

int batch_run(const struct batch_env *e, struct attempt_pair *pair,
	      struct io_op *ops, unsigned n)
{
	struct attempt_stop stop = { env_stopped, (void *)e };
	struct attempt_probe probe = ATTEMPT_NO_PROBE;
	unsigned start = 0;
	int ret = 0;

	while (start < n && !batch_stopped(e->ctx, e->abort)) {
		unsigned m, end, i = start;

		/* Choose for every op not pinned, up to the first that wins
		 * a probe; a probe still held (its op is replacing) keeps
		 * its op at ops[start]. Waiting for another thread's probe
		 * ends when the run stops. */
		for (; !attempt_probe_held(&probe) && i < n; i++) {
			if (ops[i].pinned)
				continue;
			if (attempt_choose(pair, e->ctx->link_mode,
					   ops[i].size ? 0 :
					   ATTEMPT_NO_COPY_PROBE, &stop,
					   &ops[i].kind, &ops[i].copy, &probe))
				goto out;
			if (attempt_probe_held(&probe))
				break;
		}
		if (attempt_probe_held(&probe))
			swap_ops(&ops[start], &ops[i]);
		m = attempt_probe_held(&probe) ? 1 : n - start;
		for (i = start; i < start + m; i++) {
			ops[i].copy &= IO_COPY_NO_CFR | IO_COPY_PROBE;
			if (e->times)
				ops[i].copy |= IO_COPY_TIMES;
		}
		ret = io_backend_submit(e->io, ops + start, m);
		if (ret) {
			ret = fail(e, NULL, ret, "io backend failed in");
			break;
		}
		end = start + m;
		/* Settled ops move behind start; retries stay ahead of it. */
		for (i = start; i < end; i++) {
			int r = settle(e, pair, &ops[i], &probe);

			if (r < 0) {
				ret = r;
				goto out;
			}
			if (r == 0)
				swap_ops(&ops[i], &ops[start++]);
			else
				ops[i].res = 0;
		}
	}
out:
	attempt_probe_close(&probe, ATT_PROBE_ABANDONED);
	return ret;
}
