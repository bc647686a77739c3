/* SPDX-License-Identifier: MIT */
/*
 * backend_sync - the plain-syscall backend: each op is one primitive from
 * linkops.c, in order. It is the baseline the io_uring backend is measured
 * against, and the fallback where io_uring is unavailable.
 */
#include "io/backend.h"
#include "base/alloc.h"
#include "base/fault.h"
#include "base/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* IOK_WRITE (backend.h): create, write, close; remove what it made if any
 * step fails. */
static int write_new(struct io_op *op)
{
	int fd, ret = io_fault_hit(IO_OP_OPEN);

	op->step = IO_STEP_CREATE;
	if (op->replace)
		return -EINVAL;
	if (ret)
		return ret;
	fd = openat(op->dfd, op->dname, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, op->mode & 07777);
	if (fd < 0)
		return -errno;
	op->step = IO_STEP_WRITE;
	ret = op->size ? fd_write_all(fd, op->data, (size_t)op->size) : 0;
	if (close(fd) < 0 && !ret) {
		op->step = IO_STEP_CLOSE;
		ret = -errno;
	}
	if (ret && unlinkat(op->dfd, op->dname, 0) < 0)
		return ret; /* the op's failure says it; nothing to add */
	if (!ret)
		op->step = 0;
	return ret;
}

static int sync_submit(struct io_backend *b, struct io_op *ops, unsigned n)
{
	(void)b;
	for (unsigned i = 0; i < n; i++) {
		struct io_op *op = &ops[i];

		if (op->kind == IOK_WRITE) {
			op->res = write_new(op);
			continue;
		}
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

/*
 * The unpack's writes (docs/CACHE.md "io_uring for the unpack's writes"):
 * cold install of the 100,000-file set, 4 interleaved runs each on the
 * loaded 2-core machine, unpack phase min / median: sync 20.6 / 29.3 s
 * (CPU 15.2 / 15.4 s for the whole install), the same batches through the
 * sync backend 24.1 / 26.3 s (CPU 13.7 / 15.5 s), io_uring 15.3 / 16.8 s
 * (CPU 12.2 / 14.4 s). So auto is io_uring here, unlike the linker's
 * links: these are new files written from memory, where a batch of
 * creates, writes and closes in one submission saves a syscall pair per
 * file and the writes overlap the next batch's inflating. Where io_uring
 * is unavailable, auto writes the batches with plain syscalls.
 */
enum io_choice io_backend_unpack_choice(enum io_choice choice)
{
	return choice;
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
