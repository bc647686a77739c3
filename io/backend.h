/* SPDX-License-Identifier: MIT */
/*
 * backend - the batch interface every io backend implements. A caller fills
 * an array of independent operations (no op depends on another's result),
 * submits it, and reads each op's result. The plain-syscall backend
 * (backend_sync.c) runs them in order; the io_uring backend (backend_uring.c)
 * queues what the kernel has opcodes for and runs the rest as syscalls
 * between submissions. Callers never know which one they have, so a
 * fallback decided mid-batch is handled by resubmitting the failed ops with
 * a new kind: none is lost, none runs twice.
 */
#ifndef SPOKE_IO_BACKEND_H
#define SPOKE_IO_BACKEND_H

#include "io/linkops.h"

#include <stdint.h>
#include <sys/types.h>

/*
 * A backend-only kind beside enum io_kind (the linker never chooses it):
 * create dname (O_EXCL, never following a symlink) with mode as the umask
 * leaves it (no fchmod: what unpack wants), write the size bytes at data,
 * close. On failure nothing is left at dname, and step says which of the
 * three failed (a message can say "create" or "write"). replace is refused
 * (-EINVAL). Faults: one "open", then one "write" when size > 0 (per write
 * call in sync; a write the kernel takes only in part is finished there by
 * pwrite without another fault check in uring).
 */
enum { IOK_WRITE = IOK__MAX };
enum io_step { IO_STEP_CREATE = 1, IO_STEP_WRITE, IO_STEP_CLOSE };

struct io_op {
	uint8_t kind;     /* enum io_kind, or IOK_WRITE */
	uint8_t replace;  /* an existing target is replaced atomically */
	mode_t mode;      /* permission bits for created files */
	int sfd, dfd;     /* source and destination directory fds */
	const char *sname, *dname;
	const char *target; /* IOK_SYMLINK only */
	uint64_t size;
	uint8_t copy;     /* IO_COPY_* flags for IOK_COPY, in and out */
	uint8_t pinned;   /* caller's: kind decided, do not choose again */
	uint32_t user;    /* caller's index for the op */
	int res;          /* out: 0 or -errno */
	const void *data; /* IOK_WRITE: size bytes to write */
	uint8_t step;     /* out, IOK_WRITE: enum io_step of a failure */
};

struct io_backend;

struct io_backend_ops {
	const char *name;
	/* Run all n ops, filling each res. Returns 0, or -errno when the
	 * backend itself failed (then no res is meaningful and the caller
	 * may retry the batch on another backend). */
	int (*submit)(struct io_backend *b, struct io_op *ops, unsigned n);
	void (*destroy)(struct io_backend *b);
};

struct io_backend {
	const struct io_backend_ops *ops;
};

/* Same values as enum spoke_io_backend. */
enum io_choice { IO_CHOICE_AUTO = 0, IO_CHOICE_URING, IO_CHOICE_SYNC };

/* The backend for a worker: uring fails when io_uring is unavailable; auto
 * takes the faster backend for the job and never fails for lack of
 * io_uring (it quietly takes sync). */
int io_backend_open(enum io_choice choice, struct io_backend **out);
/* The choice for the unpack's writes: sync writes file by file with plain
 * syscalls; uring and auto write small files in IOK_WRITE batches, auto
 * through io_uring where it is available and by plain syscalls where not
 * (it never fails for lack of io_uring). Why auto: backend_sync.c. */
enum io_choice io_backend_unpack_choice(enum io_choice choice);
int io_backend_sync_create(struct io_backend **out);
/* -ENOSYS/-EPERM/... when io_uring is unavailable (disabled by sysctl,
 * refused by seccomp, missing opcodes): io_backend_open() then takes sync
 * for auto, and fails (failing the run) when uring was asked for. */
int io_backend_uring_create(struct io_backend **out, unsigned depth);

static inline int io_backend_submit(struct io_backend *b, struct io_op *ops,
				    unsigned n)
{
	return b->ops->submit(b, ops, n);
}

static inline void io_backend_destroy(struct io_backend *b)
{
	if (b)
		b->ops->destroy(b);
}

#endif
