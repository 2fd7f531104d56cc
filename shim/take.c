/*
 * take.c - see take.h.
 */
#define _GNU_SOURCE
#include "take.h"
#include "libc.h"
#include "sigwatch.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

void take_lock(struct fdtable_entry *e, struct take_guard *g)
{
	/* Only a handler can jump out of here: with none installed, blocking
	 * signals would cost two system calls for nothing (sigwatch.h). */
	g->masked = sigwatch_guard();
	if (g->masked)
		syscall(SYS_rt_sigprocmask, SIG_BLOCK, &sigwatch_async, &g->old, _NSIG / 8);
	fdtable_lock(e);
}

void take_unlock(struct fdtable_entry *e, struct take_guard *g)
{
	fdtable_unlock(e);
	if (g->masked)
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &g->old, NULL, _NSIG / 8);
}

int take_map(int fd, struct zcwin_win *w, size_t map_len, struct tcp_zerocopy_receive *zc, const uint8_t **data,
	   struct stats_delta *d)
{
	int r = zcwin_receive(fd, w, map_len, zc, data);
	d->zc_calls++;
	if (r < 0) {
		/* EIO is EOF, ENOTCONN/ENOTSOCK/EBADF/EOPNOTSUPP are about this
		 * fd: only other errors count against the mapped path itself. */
		if (r != -EIO && r != -ENOTCONN && !take_not_ours(r))
			zcwin_call_failed(-r);
		return r;
	}
	zcwin_call_failed(0);
	return 0;
}

ssize_t take_wait(int fd, const struct iovec *iov, int cnt, size_t len, int flags, int holding)
{
	/* The first few elements of the destination, the rest named by one
	 * element more: the kernel sums the lengths and, with MSG_TRUNC,
	 * touches none of them. */
	struct iovec v[5];
	size_t cov = 0;
	int n = 0;
	for (; n < 4 && n < cnt && cov < len; n++) {
		v[n] = iov[n];
		if (v[n].iov_len > len - cov)
			v[n].iov_len = len - cov;
		cov += v[n].iov_len;
	}
	if (cov < len)
		v[n++] = (struct iovec){ NULL, len - cov };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)n };
	int f = MSG_PEEK | MSG_TRUNC | (flags & MSG_DONTWAIT);
	ssize_t p;
	if (n == 1)	/* recvfrom: no msghdr to copy, no iovec array to import */
		p = holding ? syscall(SYS_recvfrom, fd, v[0].iov_base, v[0].iov_len, f, NULL, NULL)
			    : libc_recvfrom(fd, v[0].iov_base, v[0].iov_len, f, NULL, NULL);
	else
		p = holding ? syscall(SYS_recvmsg, fd, &m, f) : libc_recvmsg(fd, &m, f);
	return p < 0 ? -errno : p;
}

