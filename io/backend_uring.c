/* SPDX-License-Identifier: MIT */
/*
 * backend_uring - the io_uring backend: the same ops and the same results as
 * backend_sync.c, but the namespace syscalls of a whole batch (openat,
 * linkat, symlinkat, renameat, close) are queued as SQEs and submitted
 * together, in chunks of as many ops as the ring has entries. A chunk takes
 * at most four rounds: (1) the link, the symlink, or the source open with
 * the destination create linked to it; (2) the data, by FICLONE and
 * copy_file_range syscalls, which have no opcode (or by linked READ/WRITE
 * SQEs in rw mode); (3) the closes; (4) the renames of replace temporaries.
 * fchmod and the replace-time fstatat stay syscalls. One instance per
 * worker thread: nothing is shared, so nothing is locked. IOK_WRITE (the
 * unpack's files, backend.h) uses the same rounds: its create in round 1,
 * one WRITE SQE from the caller's buffer in round 2, its close in round 3.
 *
 * Fault parity: each step calls io_fault_hit() when the sync path would,
 * in the same order per op, before its SQE is queued. The rename is a
 * round of its own (not an IOSQE_IO_LINK chain after the link) because the
 * sync path counts a rename only when the link succeeded, so rename:N hits
 * the same op in both backends; likewise link:N, symlink:N, clone:N,
 * copy:N. The destination create is linked to the source open so a missing
 * source creates nothing, and its fault is checked right after the
 * source's (src0, dst0, src1, dst1, as in sync); the one difference is that
 * a source that really fails to open has had its create counted too, so
 * open:N rules after such an op land one op later than in sync. Rules on
 * "any" follow each backend's own schedule, and rw mode counts no "write".
 *
 * Copy mode: SPOKE_URING_COPY=cfr (default) or rw (READ then WRITE through
 * a 1 MiB per-backend arena, for files up to 64 KiB). Measured here, ms for
 * 20,000 ops in batches of 64, one thread, min / median of 5-15 runs;
 * kernel 6.18, 2 vCPUs shared with other jobs (load 4-5, hence the wide
 * medians), ext4 on virtio, XFS on a 1 GiB loop image with reflink=1:
 *
 *                            sync           uring cfr      uring rw
 *   ext4 hardlink, 200 dirs  223 / 349      314 / 492
 *   ext4 hardlink, one dir   295 / 391      371 / 403
 *   ext4 copy 4 KiB          1121 / 1609    1195 / 1954    1193 / 1957
 *   ext4 copy 1-20 KiB       1450 / 2034    1652 / 2291    1577 / 1778
 *   xfs clone 4 KiB          821 / 980      773 / 1029
 *   xfs copy 4 KiB           813 / 931      772 / 852      671 / 715
 *   xfs hardlink             178 / 268      259 / 328
 *
 * cfr against rw alone on ext4 (15 and 11 runs): 1-20 KiB 1363 / 1800 ms
 * and 1240 ms CPU against 1480 / 1747 ms and 1333 ms CPU; 4 KiB 785 / 1875
 * ms and 748 ms CPU against 1290 / 1802 ms and 1058 ms CPU. So cfr is the
 * default: never slower on ext4 where it matters, less CPU, and exact
 * "write" fault parity. Why io_uring does not win here: linkat, symlinkat,
 * renameat and O_CREAT opens always go to an io-wq worker, so each costs a
 * hand-off (uring used 287 ms CPU for the ext4 hardlinks, sync 201 ms),
 * which only pays when idle cores can run those workers in parallel.
 *
 * About 780 lines, longer than most files: the four rounds of a chunk and
 * the fault parity with backend_sync.c are one argument about op order,
 * and splitting the rounds apart would hide it.
 */
#include "io/backend.h"
#include "base/alloc.h"
#include "base/fault.h"
#include "io/linkops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DEPTH 64u
#define MAX_DEPTH 1024u
/* A clone or copy holds two fds from its open round to its close round, so
 * a chunk bounds them: 64 ops are 128 fds per worker, well inside the usual
 * 1024 soft limit. */
#define MAX_FD_OPS 64u
/* READ/WRITE copies: files up to RW_MAX go through a per-backend arena,
 * larger ones (and those that do not fit this chunk) use copy_file_range. */
#define RW_MAX (64u * 1024u)
#define RW_ARENA (1024u * 1024u)
/* io_uring_enter failing with EAGAIN/EBUSY and nothing in flight to wait
 * for is memory pressure; retry a while, then fail the batch (and so the
 * run: nothing falls back to plain syscalls once a ring is in use). */
#define MAX_STALLS 1000

enum copy_mode { COPY_CFR, COPY_RW };

/* Per-op state for one chunk. The r_* fields receive CQE results. */
struct uop {
	struct io_op *op;
	const char *name;	/* where the op creates: dname, or tmp */
	char *buf;		/* arena slice of an rw copy, else NULL */
	int in, out;
	int err;		/* first failure; 0 while the op goes well */
	int create_err;		/* injected fault for the create */
	uint8_t created;	/* name exists and is ours to remove */
	uint8_t closing_out;	/* out was handed to a CLOSE SQE */
	uint8_t close_err;	/* err came from closing out */
	uint8_t rw;		/* data goes by READ/WRITE SQEs */
	uint8_t wr;		/* IOK_WRITE: its WRITE SQE is queued */
	int r_first, r_create, r_read, r_write, r_cin, r_cout, r_rename;
	char tmp[NAME_MAX + 1];
};

struct uring_backend {
	struct io_backend base;
	struct io_uring ring;
	unsigned entries;	/* SQ size the kernel gave us */
	unsigned inflight;
	enum copy_mode copy;
	mode_t umask;
	struct uop *u;		/* entries slots */
	char *arena;		/* RW_ARENA bytes, allocated on first use */
	int arena_failed;
	int has_write;		/* IORING_OP_WRITE is there */
	int broken;		/* a ring error left SQEs we cannot trust */
};

/*
 * Submit everything queued and reap every completion into the int each SQE
 * points at. Only a ring that cannot make progress is an error; per-op
 * failures travel in the CQEs.
 */
static int ring_flush(struct uring_backend *b)
{
	int stalls = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned ready = io_uring_sq_ready(&b->ring), head, seen = 0;
		int r;

		if (!ready && !b->inflight)
			return 0;
		/* Waiting for inflight + ready is safe: a partial submission
		 * returns without waiting, and the loop submits the rest. */
		r = io_uring_submit_and_wait(&b->ring, b->inflight + ready);
		if (r > 0) {
			b->inflight += (unsigned)r;
		} else if ((r == -EAGAIN || r == -EBUSY) && b->inflight) {
			/* Out of request memory or CQ space: what is in
			 * flight frees both as it completes. */
			r = io_uring_wait_cqe(&b->ring, &cqe);
			if (r < 0 && r != -EINTR)
				return r;
		} else if (r < 0 && r != -EINTR && r != -EAGAIN &&
			   r != -EBUSY) {
			return r;
		}
		io_uring_for_each_cqe(&b->ring, head, cqe) {
			int *slot = io_uring_cqe_get_data(cqe);

			*slot = cqe->res;
			seen++;
		}
		io_uring_cq_advance(&b->ring, seen);
		b->inflight -= seen;
		/* A signal storm only delays; a kernel that neither takes
		 * SQEs nor completes any is a ring we cannot use. */
		if (r > 0 || seen || r == -EINTR)
			stalls = 0;
		else if (++stalls > MAX_STALLS)
			return r < 0 ? r : -EIO;
	}
}

/* An SQE, flushing a full ring first: a batch larger than the ring simply
 * becomes several rounds. need > 1 keeps a linked pair in one submission. */
static struct io_uring_sqe *get_sqe(struct uring_backend *b, unsigned need,
				    int *fatal)
{
	if (io_uring_sq_space_left(&b->ring) < need) {
		*fatal = ring_flush(b);
		if (*fatal)
			return NULL;
	}
	return io_uring_get_sqe(&b->ring);
}

static void queue_at(struct io_uring_sqe *sqe, int *slot)
{
	*slot = 0;
	io_uring_sqe_set_data(sqe, slot);
}

/* Remove something we created for an op that failed. A failed unlink has
 * nothing to add: the op's result already says what went wrong, and the
 * sync path ignores this result too. */
static void discard(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) < 0)
		return;
}

/* Linux releases the fd even when close fails; for an fd we give up on
 * there is nothing to recover. */
static void close_quiet(int fd)
{
	if (close(fd) < 0)
		return;
}

static int is_fd_kind(const struct io_op *op)
{
	return op->kind == IOK_CLONE || op->kind == IOK_COPY;
}

static void set_up(struct uop *u, struct io_op *op)
{
	struct stat st;

	memset(u, 0, offsetof(struct uop, tmp));
	u->op = op;
	u->name = op->dname;
	u->in = u->out = -1;
	if (op->kind == IOK_WRITE) {
		/* As write_new in backend_sync.c: no replace. */
		op->step = IO_STEP_CREATE;
		if (op->replace)
			u->err = -EINVAL;
		return;
	}
	if (op->replace) {
		/* As io_link_replace_at: refuse a directory before anything,
		 * so a bad kind over a directory is still -EISDIR. A syscall,
		 * not an SQE: io_uring punts statx to a worker thread, which
		 * costs more than a cached lookup. */
		if (fstatat(op->dfd, op->dname, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
			u->err = -EISDIR;
			return;
		}
		io_temp_name(u->tmp, sizeof(u->tmp), op->dname);
		u->name = u->tmp;
	}
	if (op->kind >= IOK__MAX)
		u->err = -EINVAL;
}

/* Queue the source open and destination create of a clone or copy. The
 * create is linked to the open, so it runs only if the source opened, as in
 * linkops: no file is made for a missing source. Faults are checked in the
 * sync order, source then destination. */
static int queue_opens(struct uring_backend *b, struct uop *u, int *fatal)
{
	struct io_op *op = u->op;
	struct io_uring_sqe *sqe;

	u->err = io_fault_hit(IO_OP_OPEN);
	if (u->err)
		return 0;
	u->create_err = io_fault_hit(IO_OP_OPEN);
	sqe = get_sqe(b, 2, fatal);
	if (!sqe)
		return -1;
	io_uring_prep_openat(sqe, op->sfd, op->sname,
			     O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	queue_at(sqe, &u->r_first);
	if (u->create_err)
		return 0;
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
	sqe = io_uring_get_sqe(&b->ring);
	io_uring_prep_openat(sqe, op->dfd, u->name, O_WRONLY | O_CREAT |
			     O_EXCL | O_NOFOLLOW | O_CLOEXEC, op->mode & 07777);
	queue_at(sqe, &u->r_create);
	return 0;
}

/* Round 1: what starts each op: the link, the symlink, or the opens. */
static int round_first(struct uring_backend *b, unsigned n)
{
	int fatal = 0;

	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];
		struct io_op *op = u->op;
		struct io_uring_sqe *sqe;

		if (u->err)
			continue;
		if (is_fd_kind(op)) {
			if (queue_opens(b, u, &fatal))
				return fatal;
			continue;
		}
		if (op->kind == IOK_WRITE) {
			u->err = io_fault_hit(IO_OP_OPEN);
			if (u->err)
				continue;
			sqe = get_sqe(b, 1, &fatal);
			if (!sqe)
				return fatal;
			io_uring_prep_openat(sqe, op->dfd, u->name, O_WRONLY |
					     O_CREAT | O_EXCL | O_NOFOLLOW |
					     O_CLOEXEC, op->mode & 07777);
			queue_at(sqe, &u->r_first);
			continue;
		}
		u->err = io_fault_hit(op->kind == IOK_HARDLINK ? IO_OP_LINK :
				      IO_OP_SYMLINK);
		if (u->err)
			continue;
		sqe = get_sqe(b, 1, &fatal);
		if (!sqe)
			return fatal;
		if (op->kind == IOK_HARDLINK)
			io_uring_prep_linkat(sqe, op->sfd, op->sname, op->dfd,
					     u->name, 0);
		else
			io_uring_prep_symlinkat(sqe, op->target, op->dfd,
						u->name);
		queue_at(sqe, &u->r_first);
	}
	fatal = ring_flush(b);
	if (fatal)
		return fatal;
	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];
		mode_t mode = u->op->mode & 07777;

		if (u->err)
			continue;
		if (u->r_first < 0) {
			/* A linked create was cancelled with it. */
			u->err = u->r_first;
			continue;
		}
		if (u->op->kind == IOK_WRITE) {
			/* Created with the umask applied, as sync does. */
			u->out = u->r_first;
			u->created = 1;
			u->op->step = IO_STEP_WRITE;
			continue;
		}
		if (!is_fd_kind(u->op)) {
			u->created = 1;
			continue;
		}
		u->in = u->r_first;
		if (u->create_err || u->r_create < 0) {
			u->err = u->create_err ? u->create_err : u->r_create;
			continue;
		}
		u->out = u->r_create;
		u->created = 1;
		/* io_uring has no fchmod; restore what the umask stripped
		 * exactly when linkops' create_dst does. */
		if ((mode & b->umask) && fchmod(u->out, mode) < 0)
			u->err = -errno;
	}
	return 0;
}

static int queue_rw(struct uring_backend *b, struct uop *u, size_t *used)
{
	struct io_uring_sqe *rd, *wr;
	unsigned len = (unsigned)u->op->size;
	int fatal = 0;

	u->buf = b->arena + *used;
	*used += len;
	rd = get_sqe(b, 2, &fatal);
	if (!rd)
		return fatal;
	io_uring_prep_read(rd, u->in, u->buf, len, 0);
	/* A short read fails the link, so the write never copies a stale
	 * tail; the CQEs below tell which step stopped. */
	io_uring_sqe_set_flags(rd, IOSQE_IO_LINK);
	queue_at(rd, &u->r_read);
	wr = io_uring_get_sqe(&b->ring);
	io_uring_prep_write(wr, u->out, u->buf, len, 0);
	queue_at(wr, &u->r_write);
	u->rw = 1;
	return 0;
}

/* The rest of a write the kernel took only part of: plain pwrite, which
 * also turns a short write into the real error (ENOSPC, EDQUOT). */
static int finish_write(const struct uop *u, uint64_t done)
{
	uint64_t size = u->op->size;

	while (done < size) {
		ssize_t w = pwrite(u->out, u->buf + done, (size_t)(size - done),
				   (off_t)done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		done += (uint64_t)w;
	}
	return 0;
}

/* Allocated on first use: a worker that only links never needs it. */
static int arena_ready(struct uring_backend *b)
{
	if (!b->arena && !b->arena_failed) {
		b->arena = xmalloc(RW_ARENA);
		/* Without it every copy still works by copy_file_range; no
		 * reason to fail a batch (or retry the allocation each op). */
		b->arena_failed = !b->arena;
	}
	return b->arena != NULL;
}

/* IOK_WRITE's data: one WRITE SQE (at most WRITE_MAX bytes; finish_write
 * does any rest), or pwrite where the kernel lacks the opcode. */
#define WRITE_MAX (1u << 30)

static int queue_write(struct uring_backend *b, struct uop *u)
{
	struct io_uring_sqe *sqe;
	uint64_t size = u->op->size;
	int fatal = 0;

	if (!size)
		return 0;
	u->err = io_fault_hit(IO_OP_WRITE);
	if (u->err)
		return 0;
	u->buf = (char *)(uintptr_t)u->op->data;
	if (!b->has_write) {
		u->err = finish_write(u, 0);
		return 0;
	}
	sqe = get_sqe(b, 1, &fatal);
	if (!sqe)
		return fatal;
	io_uring_prep_write(sqe, u->out, u->buf, size < WRITE_MAX ?
			    (unsigned)size : WRITE_MAX, 0);
	queue_at(sqe, &u->r_write);
	u->wr = 1;
	return 0;
}

/* Round 2: the data. FICLONE and copy_file_range have no opcode and run
 * here as syscalls; small copies in rw mode go as linked READ/WRITE. */
static int round_data(struct uring_backend *b, unsigned n)
{
	size_t used = 0;
	int fatal, any_rw = 0;

	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];
		struct io_op *op = u->op;

		if (u->err || u->out < 0)
			continue;
		if (op->kind == IOK_WRITE) {
			fatal = queue_write(b, u);
			if (fatal)
				return fatal;
			any_rw |= u->wr;
			continue;
		}
		if (op->kind == IOK_CLONE) {
			u->err = io_fault_hit(IO_OP_CLONE);
			if (!u->err && ioctl(u->out, FICLONE, u->in) < 0)
				u->err = -errno;
			continue;
		}
		if (!op->size)
			continue;
		if (b->copy == COPY_RW && !(op->copy & IO_COPY_PROBE) &&
		    op->size <= RW_MAX &&
		    op->size <= RW_ARENA - used && arena_ready(b)) {
			/* The fault check io_copy_fd_range would make. */
			u->err = io_fault_hit(IO_OP_COPY);
			if (u->err)
				continue;
			fatal = queue_rw(b, u, &used);
			if (fatal)
				return fatal;
			any_rw = 1;
			continue;
		}
		u->err = io_copy_fd_range(u->in, u->out, 0, op->size,
					  &op->copy);
	}
	if (!any_rw)
		return 0;
	fatal = ring_flush(b);
	if (fatal)
		return fatal;
	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];

		if (u->wr) {
			if (u->r_write < 0)
				u->err = u->r_write;
			else if ((uint64_t)u->r_write < u->op->size)
				u->err = finish_write(u, (uint64_t)u->r_write);
			continue;
		}
		if (!u->rw)
			continue;
		if (u->r_read < 0)
			u->err = u->r_read;
		else if ((uint64_t)u->r_read < u->op->size)
			u->err = -EIO; /* source shrank, as in copy_rw */
		else if (u->r_write < 0)
			u->err = u->r_write;
		else if ((uint64_t)u->r_write < u->op->size)
			u->err = finish_write(u, (uint64_t)u->r_write);
	}
	return 0;
}

/* Round 3: close every fd of the chunk, then remove what failed. Only the
 * destination's close result counts: a failed close of a written file can
 * be the first sign of ENOSPC on NFS. */
static int round_close(struct uring_backend *b, unsigned n)
{
	int fatal = 0;

	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];

		/* After every write of the data round, which would move it. */
		if (!u->err && u->in >= 0 && u->out >= 0 &&
		    is_fd_kind(u->op) && (u->op->copy & IO_COPY_TIMES))
			u->err = io_carry_times(u->in, u->out);
		for (int k = 0; k < 2; k++) {
			int *fd = k ? &u->out : &u->in;
			struct io_uring_sqe *sqe;

			if (*fd < 0)
				continue;
			sqe = get_sqe(b, 1, &fatal);
			if (!sqe)
				return fatal;
			io_uring_prep_close(sqe, *fd);
			queue_at(sqe, k ? &u->r_cout : &u->r_cin);
			/* The ring owns the fd now: if the ring fails,
			 * abandon_chunk must not close it (again). */
			*fd = -1;
			u->closing_out = (uint8_t)k;
		}
	}
	fatal = ring_flush(b);
	if (fatal)
		return fatal;
	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];

		if (u->closing_out && !u->err && u->r_cout < 0) {
			u->err = u->r_cout;
			u->close_err = 1;
		}
		/* A failed op leaves no file, whatever step failed: the
		 * fallback or the caller's replace creates it anew. */
		if (u->err && u->created) {
			discard(u->op->dfd, u->name);
			u->created = 0;
		}
	}
	return 0;
}

/* Round 4: rename each finished temporary over its target. */
static int round_rename(struct uring_backend *b, unsigned n)
{
	int fatal = 0, any = 0;

	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];
		struct io_uring_sqe *sqe;

		if (u->err || !u->op->replace)
			continue;
		u->err = io_fault_hit(IO_OP_RENAME);
		if (u->err) {
			discard(u->op->dfd, u->name);
			continue;
		}
		sqe = get_sqe(b, 1, &fatal);
		if (!sqe)
			return fatal;
		io_uring_prep_renameat(sqe, u->op->dfd, u->name, u->op->dfd,
				       u->op->dname, 0);
		queue_at(sqe, &u->r_rename);
		any = 1;
	}
	if (!any)
		return 0;
	fatal = ring_flush(b);
	if (fatal)
		return fatal;
	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];

		if (u->err || !u->op->replace)
			continue;
		if (u->r_rename < 0) {
			u->err = u->r_rename;
			discard(u->op->dfd, u->name);
		} else if (u->op->kind == IOK_HARDLINK) {
			/* Renaming a link over another link of the same
			 * inode succeeds and does nothing (POSIX): the
			 * temporary stays unless removed, as linkops.c
			 * does. */
			discard(u->op->dfd, u->name);
		}
	}
	return 0;
}

/* A ring that died mid-chunk: close what we hold so no fd leaks. Ops still
 * in the kernel may finish later; the caller was told no res is valid. */
static void abandon_chunk(struct uring_backend *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];

		if (u->in >= 0)
			close_quiet(u->in);
		if (u->out >= 0)
			close_quiet(u->out);
		u->in = u->out = -1;
	}
}

static int run_chunk(struct uring_backend *b, unsigned n)
{
	int fatal = round_first(b, n);

	if (!fatal)
		fatal = round_data(b, n);
	if (!fatal)
		fatal = round_close(b, n);
	if (!fatal)
		fatal = round_rename(b, n);
	if (fatal) {
		abandon_chunk(b, n);
		return fatal;
	}
	for (unsigned i = 0; i < n; i++) {
		struct uop *u = &b->u[i];

		u->op->res = u->err;
		if (u->op->kind == IOK_WRITE)
			u->op->step = !u->err ? 0 : u->close_err ?
				      IO_STEP_CLOSE : u->op->step;
	}
	return 0;
}

static int uring_submit(struct io_backend *base, struct io_op *ops,
			unsigned n)
{
	struct uring_backend *b = (struct uring_backend *)base;
	unsigned pos = 0;

	if (b->broken)
		return b->broken;
	while (pos < n) {
		unsigned m = 0, fd_ops = 0;
		int err;

		/* A chunk is as many ops as the ring has entries, fewer when
		 * that many clones/copies would hold too many fds. */
		while (pos + m < n && m < b->entries) {
			struct io_op *op = &ops[pos + m];

			int fds = is_fd_kind(op) || op->kind == IOK_WRITE;

			if (fds && fd_ops == MAX_FD_OPS)
				break;
			fd_ops += (unsigned)fds;
			set_up(&b->u[m], op);
			m++;
		}
		err = run_chunk(b, m);
		if (err) {
			/* Stale SQEs may still sit in the SQ, pointing at
			 * this chunk's slots: the caller goes to sync. */
			b->broken = err;
			return err;
		}
		pos += m;
	}
	return 0;
}

static void uring_destroy(struct io_backend *base)
{
	struct uring_backend *b = (struct uring_backend *)base;

	io_uring_queue_exit(&b->ring);
	free(b->arena);
	free(b->u);
	free(b);
}

static const struct io_backend_ops uring_ops = {
	.name = "uring",
	.submit = uring_submit,
	.destroy = uring_destroy,
};

/* cfr unless asked for rw: see the measurements at the top. */
static enum copy_mode copy_mode_from_env(void)
{
	const char *s = getenv("SPOKE_URING_COPY");

	return s && strcmp(s, "rw") == 0 ? COPY_RW : COPY_CFR;
}

/* 0 if the kernel has every opcode we queue (and the ones the engine's
 * directory work will), else -ENOSYS: a kernel older than 5.15 or a filter
 * that hides them. READ/WRITE are optional: without them rw mode is off. */
static int probe_ops(struct uring_backend *b)
{
	static const int need[] = {
		IORING_OP_OPENAT, IORING_OP_CLOSE, IORING_OP_LINKAT,
		IORING_OP_SYMLINKAT, IORING_OP_MKDIRAT, IORING_OP_RENAMEAT,
		IORING_OP_UNLINKAT,
	};
	struct io_uring_probe *p = io_uring_get_probe_ring(&b->ring);
	int err = 0;

	if (!p)
		return -ENOSYS;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(p, need[i]))
			err = -ENOSYS;
	b->has_write = io_uring_opcode_supported(p, IORING_OP_WRITE);
	if (!io_uring_opcode_supported(p, IORING_OP_READ) || !b->has_write)
		b->copy = COPY_CFR;
	io_uring_free_probe(p);
	return err;
}

int io_backend_uring_create(struct io_backend **out, unsigned depth)
{
	struct uring_backend *b;
	int err = io_fault_hit(IO_OP_URING);

	if (err)
		return err;
	if (!depth)
		depth = DEFAULT_DEPTH;
	if (depth > MAX_DEPTH)
		depth = MAX_DEPTH;
	b = xcalloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	/* SUBMIT_ALL: one bad SQE must not stall the rest of a round.
	 * COOP_TASKRUN: we always enter the kernel to wait, so completions
	 * need no interrupt. Both are 5.19+; older kernels get plain flags. */
	err = io_uring_queue_init(depth, &b->ring, IORING_SETUP_SUBMIT_ALL |
				  IORING_SETUP_COOP_TASKRUN);
	if (err == -EINVAL)
		err = io_uring_queue_init(depth, &b->ring, 0);
	if (err) {
		free(b);
		return err;
	}
	b->copy = copy_mode_from_env();
	err = probe_ops(b);
	if (!err) {
		b->entries = b->ring.sq.ring_entries;
		b->u = xcalloc(b->entries, sizeof(*b->u));
		if (!b->u)
			err = -ENOMEM;
	}
	if (err) {
		io_uring_queue_exit(&b->ring);
		free(b);
		return err;
	}
	b->umask = io_umask();
	b->base.ops = &uring_ops;
	*out = &b->base;
	return 0;
}
