/* SPDX-License-Identifier: MIT */
/*
 * t_batch - the batch policy (engine/batch.c) on a scripted fake backend:
 * a probe that fails "unsupported", EEXIST on the probe, EXDEV for the
 * second method of auto, ENOSPC mid-batch, a failing backend, a stop while
 * a probe is held. For each: the method every op ends with, that no op is
 * lost or done twice, the counters, the error, and that no probe is left
 * held (a probe left PROBING hangs every other thread of the run).
 */
#include "engine/batch.h"
#include "testlib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NOPS 150 /* more than one batch's worth when split by the caller */

struct rule {
	int user;  /* op index, -1 any */
	int kind;  /* io kind, -1 any */
	int err;   /* -errno it returns */
	int times; /* how many calls it hits; 0: every one */
	int left;
};

struct fake {
	struct io_backend b;
	struct rule rules[8];
	int nrules;
	unsigned calls[NOPS][IOK__MAX];
	unsigned done[NOPS];
	int done_kind[NOPS];
	unsigned submits, max_n;
	unsigned fail_submit;  /* this submit (1-based) fails the backend */
	unsigned stop_submit;  /* this submit sets the abort flag */
	atomic_int *abort;
	struct attempt_pair *pair;
	int probing_seen;      /* a submit of >1 ops while a state was PROBING */
	int cfr_refuse;        /* copy_file_range: -1 refused for all ops,
				* else refused for op cfr_refuse - 1 only */
	unsigned cfr_calls;
};

static int fake_submit(struct io_backend *b, struct io_op *ops, unsigned n)
{
	struct fake *f = (struct fake *)b;

	f->submits++;
	if (n > f->max_n)
		f->max_n = n;
	if (f->submits == f->fail_submit)
		return -EIO;
	if (f->submits == f->stop_submit)
		atomic_store(f->abort, 1);
	for (int k = 0; k < IOK__MAX && n > 1; k++)
		if (atomic_load(&f->pair->state[k]) == ATT_PROBING)
			f->probing_seen = 1;
	for (unsigned i = 0; i < n; i++) {
		struct io_op *op = &ops[i];

		op->res = 0;
		f->calls[op->user][op->kind]++;
		for (int r = 0; r < f->nrules; r++) {
			struct rule *ru = &f->rules[r];

			if ((ru->user >= 0 && ru->user != (int)op->user) ||
			    (ru->kind >= 0 && ru->kind != op->kind))
				continue;
			if (ru->times && !ru->left)
				continue;
			if (ru->times)
				ru->left--;
			op->res = ru->err;
			break;
		}
		if (op->res == 0 && op->kind == IOK_COPY &&
		    !(op->copy & IO_COPY_NO_CFR)) {
			f->cfr_calls++;
			op->copy |= f->cfr_refuse == -1 ||
				    f->cfr_refuse == (int)op->user + 1 ?
				    IO_COPY_CFR_REFUSED : IO_COPY_CFR_OK;
		}
		if (op->res == 0) {
			f->done[op->user]++;
			f->done_kind[op->user] = op->kind;
		}
	}
	return 0;
}

static void fake_destroy(struct io_backend *b)
{
	(void)b;
}

static const struct io_backend_ops fake_ops = {
	.name = "fake",
	.submit = fake_submit,
	.destroy = fake_destroy,
};

static void name_dst(const void *where, const char *dname, char *buf,
		     size_t len)
{
	snprintf(buf, len, "%s/%s", (const char *)where, dname ? dname : "");
}

static struct fake fk;
static struct attempt_table table;
static struct attempt_pair *pair;
static spoke_ctx *ctx;
static struct spoke_report *rep;
static atomic_int abort_flag;
static uint64_t count[SPOKE_COUNT__MAX];
static struct io_op ops[NOPS];
static char names[NOPS][16];

static void add_rule(int user, int kind, int err, int times)
{
	fk.rules[fk.nrules++] = (struct rule){ user, kind, err, times, times };
}

static void setup(enum spoke_link_mode mode)
{
	if (rep)
		spoke_report_free(rep);
	if (pair)
		attempt_table_destroy(&table);
	memset(&fk, 0, sizeof(fk));
	fk.b.ops = &fake_ops;
	fk.abort = &abort_flag;
	CHECK_EQ(attempt_table_init(&table), 0);
	pair = attempt_pair_get(&table, 1, 2);
	fk.pair = pair;
	CHECK_EQ(ctx_begin(ctx), 0);
	ctx->link_mode = mode;
	ctx->no_fallback = 0;
	rep = report_create();
	CHECK(rep != NULL);
	atomic_store(&abort_flag, 0);
	memset(count, 0, sizeof(count));
}

/* Run n fresh ops in batches of BATCH_MAX, as the walk does. */
static int run(unsigned n)
{
	struct batch_env e = {
		.ctx = ctx, .rep = rep, .io = &fk.b, .abort = &abort_flag,
		.count = count, .dst_path = name_dst, .where = "/dst",
	};
	int ret = 0;

	for (unsigned base = 0; base < n && !ret; base += BATCH_MAX) {
		unsigned m = n - base < BATCH_MAX ? n - base : BATCH_MAX;

		for (unsigned i = 0; i < m; i++) {
			struct io_op *op = &ops[base + i];

			memset(op, 0, sizeof(*op));
			snprintf(names[base + i], sizeof(names[0]), "f%u",
				 base + i);
			op->sname = op->dname = names[base + i];
			op->size = 10;
			op->user = base + i;
		}
		ret = batch_run(&e, pair, ops + base, m);
	}
	return ret;
}

static void no_probe_held(void)
{
	for (int k = 0; k < IOK__MAX; k++)
		CHECK(atomic_load(&pair->state[k]) != ATT_PROBING);
	CHECK(!fk.probing_seen);
}

/* Every op done exactly once, with kind want (-1: don't check). */
static void all_done_once(unsigned n, int want)
{
	for (unsigned u = 0; u < n; u++) {
		CHECK_EQ(fk.done[u], 1);
		if (want >= 0)
			CHECK_EQ(fk.done_kind[u], want);
	}
	CHECK_EQ(count[SPOKE_COUNT_FILES], n);
}

static unsigned total_calls(int kind)
{
	unsigned t = 0;

	for (unsigned u = 0; u < NOPS; u++)
		t += fk.calls[u][kind];
	return t;
}

int main(void)
{
	CHECK((ctx = spoke_ctx_create()) != NULL);

	/* Clone refused at the probe: one failed call, everyone copies. */
	setup(SPOKE_LINK_CLONE);
	add_rule(-1, IOK_CLONE, -EOPNOTSUPP, 0);
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_COPY);
	CHECK_EQ(total_calls(IOK_CLONE), 1);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 1);
	CHECK_EQ(count[SPOKE_COUNT_COPIED], NOPS);
	CHECK_EQ(rep->nfallbacks, 1);
	no_probe_held();

	/* auto across filesystems: clone and hardlink each fail once. */
	setup(SPOKE_LINK_AUTO);
	add_rule(-1, IOK_CLONE, -EXDEV, 0);
	add_rule(-1, IOK_HARDLINK, -EXDEV, 0);
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_COPY);
	CHECK_EQ(total_calls(IOK_CLONE), 1);
	CHECK_EQ(total_calls(IOK_HARDLINK), 1);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 2);
	CHECK_EQ(rep->nfallbacks, 2);
	no_probe_held();

	/* auto on one filesystem without clone: hardlinks after one probe. */
	setup(SPOKE_LINK_AUTO);
	add_rule(-1, IOK_CLONE, -EOPNOTSUPP, 0);
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_HARDLINK);
	CHECK_EQ(count[SPOKE_COUNT_HARDLINKED], NOPS);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 1);
	no_probe_held();

	/* EEXIST on the probe: replaced with the same method, the probe
	 * kept until it answers; not a failed attempt. */
	setup(SPOKE_LINK_CLONE);
	add_rule(0, IOK_CLONE, -EEXIST, 1);
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_CLONE);
	CHECK_EQ(count[SPOKE_COUNT_REPLACED], 1);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 0);
	CHECK_EQ(fk.calls[0][IOK_CLONE], 2);
	no_probe_held();

	/* EEXIST on the probe, and the replace is refused: still one
	 * failed call, the op copies over the old file. */
	setup(SPOKE_LINK_CLONE);
	add_rule(0, IOK_CLONE, -EEXIST, 1);
	add_rule(-1, IOK_CLONE, -EOPNOTSUPP, 0);
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_COPY);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 1);
	CHECK_EQ(count[SPOKE_COUNT_REPLACED], 1);
	no_probe_held();

	/* ENOSPC mid-batch: the error comes back, recorded, the run is
	 * stopped, and nothing after it is done twice. */
	setup(SPOKE_LINK_COPY);
	add_rule(70, IOK_COPY, -ENOSPC, 0);
	CHECK_EQ(run(NOPS), -ENOSPC);
	CHECK(atomic_load(&abort_flag));
	CHECK(ctx_failed(ctx));
	CHECK(strstr(ctx->err_msg, "/dst/f70") != NULL);
	for (unsigned u = 0; u < NOPS; u++)
		CHECK(fk.done[u] <= 1);
	CHECK_EQ(fk.done[70], 0);
	no_probe_held();

	/* ENOSPC on the probe itself: abandoned, not decided. */
	setup(SPOKE_LINK_CLONE);
	add_rule(0, IOK_CLONE, -ENOSPC, 1);
	CHECK_EQ(run(NOPS), -ENOSPC);
	CHECK_EQ(atomic_load(&pair->state[IOK_CLONE]), ATT_INITIAL);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 0);

	/* The backend itself fails: the error is returned, no probe held. */
	setup(SPOKE_LINK_CLONE);
	fk.fail_submit = 1;
	CHECK_EQ(run(NOPS), -EIO);
	CHECK_EQ(atomic_load(&pair->state[IOK_CLONE]), ATT_INITIAL);
	CHECK(ctx_failed(ctx));

	/* The run stops while the probe is held (EEXIST, about to retry):
	 * the probe must be given back, or every waiter spins forever. */
	setup(SPOKE_LINK_HARDLINK);
	add_rule(0, IOK_HARDLINK, -EEXIST, 1);
	fk.stop_submit = 1;
	CHECK_EQ(run(NOPS), 0);
	CHECK_EQ(atomic_load(&pair->state[IOK_HARDLINK]), ATT_INITIAL);
	CHECK_EQ(fk.submits, 1);

	/* --no-fallback: the refused probe is an error, decided. */
	setup(SPOKE_LINK_CLONE);
	ctx->no_fallback = 1;
	add_rule(-1, IOK_CLONE, -EOPNOTSUPP, 0);
	CHECK_EQ(run(NOPS), SPOKE_E_UNSUPPORTED);
	CHECK_EQ(atomic_load(&pair->state[IOK_CLONE]), ATT_FALLBACK);
	CHECK_EQ(total_calls(IOK_COPY), 0);

	/* Clone works, then one file refuses it: the pair switches for the
	 * rest of the run (issue 12). Op 5 is in the batch after the probe:
	 * the ops submitted with it were cloned, it and every later op are
	 * copied, and clone is never called again. */
	setup(SPOKE_LINK_CLONE);
	add_rule(5, IOK_CLONE, -EOPNOTSUPP, 1);
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, -1);
	CHECK_EQ(fk.done_kind[5], IOK_COPY);
	CHECK_EQ(fk.done_kind[BATCH_MAX], IOK_COPY);
	CHECK_EQ(total_calls(IOK_CLONE), BATCH_MAX);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 1);
	CHECK_EQ(count[SPOKE_COUNT_CLONED], BATCH_MAX - 1);
	CHECK_EQ(count[SPOKE_COUNT_COPIED], NOPS - BATCH_MAX + 1);
	CHECK_EQ(rep->nfallbacks, 1);
	CHECK_EQ(atomic_load(&pair->state[IOK_CLONE]), ATT_FALLBACK);
	no_probe_held();

	/* The same under auto: the switch goes to hardlink, probed once. */
	setup(SPOKE_LINK_AUTO);
	add_rule(5, IOK_CLONE, -EOPNOTSUPP, 1);
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, -1);
	CHECK_EQ(fk.done_kind[5], IOK_HARDLINK);
	CHECK_EQ(count[SPOKE_COUNT_HARDLINKED], NOPS - BATCH_MAX + 1);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 1);
	no_probe_held();

	/* copy_file_range refused (EXDEV across filesystems): one call, the
	 * pair remembers it, every file still copied once. */
	setup(SPOKE_LINK_COPY);
	fk.cfr_refuse = -1;
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_COPY);
	CHECK_EQ(fk.cfr_calls, 1);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 1);
	CHECK_EQ(atomic_load(&pair->state[IOK_COPY]), ATT_FALLBACK);
	no_probe_held();

	/* copy_file_range works, then one file has it refused: switched. */
	setup(SPOKE_LINK_COPY);
	fk.cfr_refuse = 10 + 1;
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_COPY);
	CHECK_EQ(fk.cfr_calls, BATCH_MAX);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 1);
	no_probe_held();

	/* auto across filesystems: clone, hardlink and copy_file_range
	 * each fail once. */
	setup(SPOKE_LINK_AUTO);
	add_rule(-1, IOK_CLONE, -EXDEV, 0);
	add_rule(-1, IOK_HARDLINK, -EXDEV, 0);
	fk.cfr_refuse = -1;
	CHECK_EQ(run(NOPS), 0);
	all_done_once(NOPS, IOK_COPY);
	CHECK_EQ(fk.cfr_calls, 1);
	CHECK_EQ(count[SPOKE_COUNT_FAILED_ATTEMPTS], 3);
	no_probe_held();

	/* Canceled while another thread holds the probe: nothing is
	 * submitted and the cancel is the run's error (t_attempt checks
	 * that a waiter already waiting gives up). */
	setup(SPOKE_LINK_CLONE);
	{
		struct attempt_probe other;

		CHECK_EQ(attempt_choose(pair, SPOKE_LINK_CLONE, 0, NULL,
					&ops[0].kind, &ops[0].copy, &other), 0);
		CHECK(attempt_probe_held(&other));
		spoke_ctx_cancel(ctx);
		CHECK_EQ(run(NOPS), 0);
		CHECK_EQ(fk.submits, 0);
		CHECK_EQ(ctx->err_code, SPOKE_E_CANCELED);
		attempt_probe_close(&other, ATT_PROBE_ABANDONED);
	}

	spoke_report_free(rep);
	attempt_table_destroy(&table);
	spoke_ctx_free(ctx);
	return T_PASS;
}
