/* SPDX-License-Identifier: MIT */
/*
 * backend_sync - the plain-syscall backend: each op is one primitive from
 * linkops.c, in order. It is the baseline the io_uring backend is measured
 * against, and the fallback where io_uring is unavailable.
 */
#include "io/backend.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdlib.h>

static int sync_submit(struct io_backend *b, struct io_op *ops, unsigned n)
{
	(void)b;
	for (unsigned i = 0; i < n; i++) {
		struct io_op *op = &ops[i];

		op->res = (op->replace ? io_link_replace_at : io_link_at)(
			op->kind, op->sfd, op->sname, op->dfd, op->dname,
			op->target, op->mode, op->size, &op->copy);
	}
	return 0;
}

static void sync_destroy(struct io_backend *b)
{
	free(b);
}

static const struct io_backend_ops sync_ops = {
	.name = "sync",
	.submit = sync_submit,
	.destroy = sync_destroy,
};

int io_backend_sync_create(struct io_backend **out)
{
	struct io_backend *b = xmalloc(sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->ops = &sync_ops;
	*out = b;
	return 0;
}

/*
 * What auto picks. Measured on the 2-core reference machine (docs/
 * BENCHMARKS.md, io/backend_uring.c): io_uring hands linkat, symlinkat,
 * renameat and creating opens to kernel io-wq workers, which costs CPU and
 * pays off only with idle cores; sync was 20-45% faster for hardlinks and
 * within noise for clone and copy. So auto is sync on every mode until a
 * measurement says otherwise; where a mode prefers uring and io_uring is
 * unavailable (sysctl, seccomp), auto quietly takes sync.
 */
static int auto_prefers_uring(void)
{
	return 0;
}

int io_backend_open(enum io_choice choice, struct io_backend **out)
{
	int err;

	if (choice == IO_CHOICE_SYNC ||
	    (choice == IO_CHOICE_AUTO && !auto_prefers_uring()))
		return io_backend_sync_create(out);
	err = io_backend_uring_create(out, 256);
	if (err && choice == IO_CHOICE_AUTO)
		err = io_backend_sync_create(out);
	return err;
}
