/*
 * init.h - the shim's start-up: configuration from the environment, the
 * libc symbols, every module's set-up, fork handling, and the per-thread
 * re-entrancy guard that start-up and the fork handler raise so that the
 * calls they make into hooked functions pass straight through.
 *
 * A hook can run before the constructor (another library's constructor,
 * or dlsym calling back into us): every hook asks init_ready() first, which
 * starts the shim on first use and says "not ready" while it is starting.
 */
#ifndef ZCSHIM_INIT_H
#define ZCSHIM_INIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "state.h"

/* Around the program's own install of a seccomp filter (or strict mode):
 * begin steps the shim aside before the call, so no system call of its
 * own reaches the filter; end with the call's outcome keeps it aside, or
 * puts back the state begin returned after a failed call. */
uint32_t init_sandbox_begin(uint32_t how);
void init_sandbox_end(uint32_t prev, int installed);

void init_start(void);

/* 1 when the shim serves calls; starts it on first use. */
static inline int init_ready(void)
{
	uint32_t s = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s == INIT_DONE, 1))
		return 1;
	if (s == INIT_NONE) {
		init_start();
		return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_DONE;
	}
	return 0;
}

/* Where another copy of the shim comes first in the process (init.c:
 * another_copy_first), its in-place API, which this copy's forwards to;
 * else NULL. */
extern ssize_t (*init_first_recv)(int fd, const void **data, size_t max, int flags);
extern int (*init_first_release)(int fd);

/* 1 when the shim may change its state for a call that changes the
 * process's fds or sockets (close, dup, socket, accept, setsockopt...):
 * it is ready, and this is not a vfork child.  A vfork child runs in its
 * parent's memory, with fds of its own: its close or dup2 must not change
 * what the parent's shim knows (a parent thread blocked reading the
 * socket took the close for its own: EBADF).  Only a multithreaded
 * process asks the kernel (one getpid): a single-threaded parent sleeps
 * through its vfork child and finds at worst entries forgotten, which its
 * next read of them classifies again. */
extern pid_t init_pid;
static inline int init_lifecycle(void)
{
	if (!init_ready())
		return 0;
	return __libc_single_threaded || (pid_t)syscall(SYS_getpid) == __atomic_load_n(&init_pid, __ATOMIC_RELAXED);
}

/* Nonzero while this thread is inside start-up or the fork handler. */
int init_guarded(void);

#endif
