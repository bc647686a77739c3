/* SPDX-License-Identifier: MIT */
/*
 * fault - deterministic fault injection for tests and field reproduction.
 *
 * SPOKE_FAULT=OP:N:ERRNO[,OP:N:ERRNO...] makes the Nth call (1-based, counted
 * across all threads of the process) of io primitive OP fail with ERRNO. Every
 * io primitive calls io_fault_hit() before its syscall, so one injected fault
 * lands on exactly one call, whichever backend runs it. The ERRNO name KILL
 * makes that call send SIGKILL to the process instead: a crash at a chosen
 * point, for testing recovery; DELAY=MS makes it sleep MS milliseconds and
 * then run as usual: a slow call at a chosen point. When nothing is armed the check is one
 * relaxed load, so the normal binary carries it at no cost.
 */
#ifndef SPOKE_IO_FAULT_H
#define SPOKE_IO_FAULT_H

#include <stddef.h>
#include <stdint.h>

enum io_opcode {
	IO_OP_CLONE = 0,
	IO_OP_LINK,
	IO_OP_COPY,
	IO_OP_SYMLINK,
	IO_OP_MKDIR,
	IO_OP_OPEN,
	IO_OP_WRITE,
	IO_OP_RENAME,
	IO_OP_UNLINK,
	IO_OP_ALLOC,
	IO_OP_URING,   /* io_uring set-up, to test the fallback to sync */
	IO_OP__MAX,
	IO_OP_ANY = IO_OP__MAX /* only in specs: the Nth call of any kind */
};

/* Parse and arm a spec (replaces any armed one). 0, or -EINVAL with a
 * message naming the bad part in err. An empty or NULL spec disarms. */
int io_fault_arm(const char *spec, char *err, size_t errlen);
/* Arm from $SPOKE_FAULT; 0 when unset. */
int io_fault_arm_from_env(char *err, size_t errlen);
/* 0, or the injected -errno for this call of op. */
int io_fault_hit(enum io_opcode op);
/* Calls counted since arming (all ops); counting runs only while armed or
 * after io_fault_count_start(), for the fault sweep's dry run. */
uint64_t io_fault_calls(void);
void io_fault_count_start(void);
const char *io_op_name(enum io_opcode op);

#endif
