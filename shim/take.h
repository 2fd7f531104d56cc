/*
 * take.h - the receive core: what every consumer of a socket's queue
 * shares, the transparent reads (zcread.c) and zcshim_recv() (inplace.c).
 *
 *   take_lock/take_unlock  the fd's lock with asynchronous signals blocked:
 *                      nothing inside blocks, is a cancellation point or
 *                      runs a handler, so no siglongjmp or cancellation
 *                      can leave the lock or a window behind;
 *   take_map             one TCP_ZEROCOPY_RECEIVE into a window, its
 *                      failure classified, the call counted (the socket's
 *                      error is never taken: zcwin.c, call());
 *   take_wait            recv()'s own wait, done by the kernel: a
 *                      MSG_PEEK|MSG_TRUNC recv of the read's length waits
 *                      exactly as the read would before its first byte
 *                      (blocking, SO_RCVLOWAT and its cap, SO_RCVTIMEO,
 *                      signals and stops, errors), copies and consumes
 *                      nothing, and says how much is queued;
 *   windows give their pages back through zcwin_zap (zcwin.h), which times
 *   the release for auto.
 * No state here: everything a read needs to know about the socket is
 * asked of the kernel when the read needs it.
 */
#ifndef ZCSHIM_TAKE_H
#define ZCSHIM_TAKE_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdtable.h"
#include "kzc.h"
#include "stats.h"
#include "zcwin.h"

struct take_guard {
	int masked;             /* signals were blocked */
	sigset_t old;
};

void take_lock(struct fdtable_entry *e, struct take_guard *g);
void take_unlock(struct fdtable_entry *e, struct take_guard *g);

/* One call, the lock held: map map_len bytes (page multiple) at the
 * window's next offset.  0 or -errno; *zc and *data as zcwin_receive.
 * Counts the call in d. */
int take_map(int fd, struct zcwin_win *w, size_t map_len, struct tcp_zerocopy_receive *zc, const uint8_t **data,
	   struct stats_delta *d);

/* 1 if the failure says only that this fd is not (any more) a TCP socket
 * the mapped path can serve: the real call answers. */
static inline int take_not_ours(int err)
{
	return err == -ENOTSOCK || err == -EBADF || err == -EOPNOTSUPP;
}

/* Waits as recv(fd, len, flags) would before it takes anything (flags:
 * MSG_DONTWAIT as the caller gave it).  Never MSG_WAITALL: a peek
 * consumes nothing, so one for more than the queue can hold never ends
 * (the receive window closes); a MSG_WAITALL read waits for its first
 * bytes here and for the rest after taking them (zcread.c).  iov/cnt: the
 * caller's destination (the kernel writes nothing there; tools like
 * valgrind cannot know that).  holding: the read already holds data, so
 * a cancellation must not act in this wait (the data would be lost; libc's
 * recv returns them and the thread is cancelled at its next cancellation
 * point): the raw system call, which is none.  Bytes queued (> 0), 0 at
 * EOF, or -errno (EAGAIN on a timeout, EINTR, the socket's error). */
ssize_t take_wait(int fd, const struct iovec *iov, int cnt, size_t len, int flags, int holding);

#endif
