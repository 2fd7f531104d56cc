/*
 * init.h - the shim's start-up: configuration from the environment, the
 * libc symbols, every module's set-up, fork handling, and the per-thread
 * re-entrancy guard that start-up and the fork handler raise so that the
 * calls they make into hooked functions pass straight through.
 *
 * A hook can run before the constructor (another library's constructor,
 * or dlsym calling back into us): every hook asks zci_ready() first, which
 * starts the shim on first use and says "not ready" while it is starting.
 */
#ifndef ZCSHIM_INIT_H
#define ZCSHIM_INIT_H

#include <stdint.h>

enum { ZCI_NONE, ZCI_RUNNING, ZCI_DONE, ZCI_OFF };
extern uint32_t zci_state;

void zci_start(void);

/* 1 when the shim serves calls; starts it on first use. */
static inline int zci_ready(void)
{
	uint32_t s = __atomic_load_n(&zci_state, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s == ZCI_DONE, 1))
		return 1;
	if (s == ZCI_NONE) {
		zci_start();
		return __atomic_load_n(&zci_state, __ATOMIC_ACQUIRE) == ZCI_DONE;
	}
	return 0;
}

/* Where another copy of the shim comes first in the process (init.c:
 * another_copy_first), its in-place API, which this copy's forwards to;
 * else NULL. */
#include <stddef.h>
#include <sys/types.h>
extern ssize_t (*zci_first_recv)(int fd, const void **data, size_t max, int flags);
extern int (*zci_first_release)(int fd);

/* Nonzero while this thread is inside start-up or the fork handler. */
int zci_guarded(void);

#endif
