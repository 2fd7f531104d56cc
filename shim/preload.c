/*
 * preload.c - the exported receive, fd-lifecycle, signal() and
 * pthread_cancel hooks of libzcshim.so, and nothing else.  The other
 * exports: the hooks that must work before start-up (maphooks.c,
 * sighooks.c, sandbox.c) and the in-place API (inplace.c).
 *
 * Each hook has three layers (after Samba's socket_wrapper): the real
 * function (libc.c), a static function with the logic, and the exported
 * one-line wrapper.  The first thing every logic function does is ask
 * whether the fd is ours; if not, it returns the real call after one table
 * lookup.
 *
 * Run any dynamically linked program under the shim:
 *     LD_PRELOAD=build/libzcshim.so ./app
 * or, with a report of what took the zero-copy path:
 *     build/zcstat -- ./app
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "callsite.h"
#include "export.h"
#include "fdtable.h"
#include "libc.h"
#include "memok.h"
#include "peer.h"
#include "policy.h"
#include "init.h"
#include "sigwatch.h"
#include "stats.h"
#include "zcread.h"
#include "zcwin.h"


/* The fd's entry if it is a TCP socket the shim serves, else NULL. */
static inline struct fdtable_entry *ours(int fd)
{
	if (!init_ready())
		return NULL;
	struct fdtable_entry *e = fdtable_get(fd);
	if (!e || fdtable_kind(fd, e) != FDTABLE_TCP)
		return NULL;
	return e;
}


/* ---- receive --------------------------------------------------------- */

/* read and recv hand one buffer to zcread_read_buf, which describes it as
 * one iovec (the read path knows only iovec arrays) unless the read is
 * small enough to pass straight through. */
static ssize_t do_read(int fd, void *buf, size_t n)
{
	struct fdtable_entry *e = ours(fd);
	if (!e)
		return libc_read(fd, buf, n);
	return zcread_read_buf(ZCREAD_READ, fd, e, buf, n, 0, NULL, NULL);
}

static ssize_t do_read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen && libc_sym._libc___read_chk.f)
		return libc_sym._libc___read_chk.f(fd, buf, n, buflen);	/* reports the overflow */
	return do_read(fd, buf, n);
}

static ssize_t do_readv(int fd, const struct iovec *iov, int cnt)
{
	struct fdtable_entry *e = ours(fd);
	if (!e)
		return libc_readv(fd, iov, cnt);
	struct zcread_req rq = { .op = ZCREAD_READV, .fd = fd, .iov = iov, .iovcnt = cnt };
	return zcread_ret(zcread_read(&rq, e, -1, -1));
}

static ssize_t do_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	struct fdtable_entry *e = ours(fd);
	if (!e)
		return libc_recvfrom(fd, buf, n, flags, from, fromlen);
	return zcread_read_buf(ZCREAD_RECVFROM, fd, e, buf, n, flags, from, fromlen);
}

static ssize_t do_recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen && libc_sym._libc___recv_chk.f)
		return libc_sym._libc___recv_chk.f(fd, buf, n, buflen, flags);
	return do_recvfrom(fd, buf, n, flags, NULL, NULL);
}

static ssize_t do_recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			       struct sockaddr *from, socklen_t *fromlen)
{
	if (n > buflen && libc_sym._libc___recvfrom_chk.f)
		return libc_sym._libc___recvfrom_chk.f(fd, buf, n, buflen, flags, from, fromlen);
	return do_recvfrom(fd, buf, n, flags, from, fromlen);
}

/* Sockets that arrive by SCM_RIGHTS take fd numbers an entry may still
 * describe (an fd closed behind the shim's back): start them afresh. */
static void forget_passed(struct msghdr *m)
{
	int saved = errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			fdtable_forget(fd);
		}
	}
	errno = saved;
}

static ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct fdtable_entry *e = ours(fd);
	if (!e) {
		ssize_t r = libc_recvmsg(fd, msg, flags);
		if (r >= 0 && msg->msg_controllen && init_ready())
			forget_passed(msg);
		return r;
	}
	struct zcread_req rq = { .op = ZCREAD_RECVMSG, .fd = fd, .flags = flags, .msg = msg };
	return zcread_ret(zcread_read(&rq, e, -1, -1));
}

/* splice() from a TCP socket: the kernel's own path (no copy through
 * user space), which the shim leaves alone and only counts, so zcstat can
 * say where those bytes went (HAProxy, socat and the like). */
static ssize_t do_splice(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned flags)
{
	struct fdtable_entry *e = ours(in);
	if (!e)
		return libc_splice(in, oin, out, oout, len, flags);
	int token = fdtable_consume_begin(e);	/* others consume meanwhile (take.c) */
	ssize_t r = libc_splice(in, oin, out, oout, len, flags);
	int saved = errno;
	fdtable_consume_end(token);
	if (r > 0)
		zcread_spliced(in, e, (size_t)r);
	errno = saved;
	return r;
}

/* ---- lifecycle ------------------------------------------------------- */

static int is_tcp_args(int domain, int type, int protocol)
{
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & 0xff) == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP);
}

static int do_socket(int domain, int type, int protocol)
{
	int fd = libc_socket(domain, type, protocol);
	if (fd >= 0 && init_lifecycle()) {
		if (is_tcp_args(domain, type, protocol))
			fdtable_set_tcp(fd, type & SOCK_NONBLOCK);
		else
			fdtable_forget(fd);
	}
	return fd;
}

/* Where the program asks for no address, the kernel is handed a buffer
 * of the shim's: the peer comes with the call, no getpeername later. */
static int do_accept4(int lfd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct sockaddr_storage own;
	socklen_t own_len = sizeof(own);
	int ours = !addr && !len && init_ready();
	int fd = libc_accept4(lfd, ours ? (struct sockaddr *)&own : addr, ours ? &own_len : len, flags);
	if (fd >= 0 && init_lifecycle()) {
		int saved = errno;
		fdtable_accepted(lfd, fd, flags & SOCK_NONBLOCK);
		struct fdtable_entry *e = fdtable_get(fd);
		if (e && fdtable_kind(fd, e) == FDTABLE_TCP) {
			/* The program's own buffer is not read: how much of it
			 * the kernel could fill was not said before the call
			 * (reading *len then could fault where libc returns
			 * EFAULT); its peer is asked for once, at the first read
			 * (stats.c). */
			peer_accepted(lfd, fd);
			policy_met_peer(&e->hints, ours ? peer_note(fd, (struct sockaddr *)&own, own_len, 0) : 0);
		}
		errno = saved;
	}
	return fd;
}

static int do_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int r = libc_connect(fd, addr, len);
	if ((r == 0 || errno == EINPROGRESS) && init_lifecycle()) {
		int saved = errno;
		struct fdtable_entry *e = fdtable_get(fd);
		if (e && __atomic_load_n(&e->kind, __ATOMIC_RELAXED) == FDTABLE_TCP) {
			policy_met_peer(&e->hints, peer_note(fd, addr, len, 1));
		}
		errno = saved;
	}
	return r;
}

/* The last TCP socket is gone: release what the windows still map. */
static void trim_if_idle(void)
{
	if (fdtable_tcp_open() == 0)
		zcwin_trim();
}

/* The entry is forgotten before the real close, never after: once the
 * number is free, another thread may accept a new socket on it, and a late
 * forget would wipe that socket's fresh entry (and make a read of it that
 * is waiting see a close that never happened to it).  Forgetting an fd
 * that turns out not to be open costs nothing. */
static int do_close(int fd)
{
	int on = init_lifecycle();
	if (on && memok_fd_is(fd)) {
		errno = EBADF;	/* not the program's: plain libc has no such fd */
		return -1;
	}
	if (on) {
		int saved = errno;
		fdtable_forget(fd);
		errno = saved;
	}
	int r = libc_close(fd);
	if (on) {
		int saved = errno;
		trim_if_idle();
		errno = saved;
	}
	return r;
}

static int do_close_range(unsigned lo, unsigned hi, int flags)
{
	int on = !(flags & CLOSE_RANGE_CLOEXEC) && init_lifecycle();
	if (on) {
		fdtable_forget_range(lo, hi);
		memok_fds_gone(lo, hi);
	}
	int r = libc_close_range(lo, hi, flags);
	if (on && r == 0)
		trim_if_idle();
	return r;
}

static int after_dup(int oldfd, int newfd)
{
	if (newfd >= 0 && newfd != oldfd && init_lifecycle()) {
		int saved = errno;
		memok_fd_gone(newfd);	/* dup2 or dup3 over the shim's own */
		fdtable_dup(oldfd, newfd);
		errno = saved;
	}
	return newfd;
}

static int do_dup(int fd) { return after_dup(fd, libc_dup(fd)); }
static int do_dup2(int a, int b) { return after_dup(a, libc_dup2(a, b)); }
static int do_dup3(int a, int b, int flags) { return after_dup(a, libc_dup3(a, b, flags)); }

static int do_fcntl(int fd, int cmd, void *arg)
{
	int r = libc_fcntl(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		after_dup(fd, r);
	else if (cmd == F_SETFL && r == 0 && init_lifecycle())
		fdtable_flags_changed(fd);
	return r;
}

static int do_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int r = libc_setsockopt(fd, level, name, val, len);
	if (r == 0 && init_lifecycle())
		fdtable_setsockopt(fd, level, name, val, len);
	return r;
}

/* fclose closes its fd inside libc, where no hook sees it. */
static int do_fclose(FILE *f)
{
	if (f && init_lifecycle()) {
		int saved = errno, fd = fileno(f);
		if (fd >= 0)
			fdtable_forget(fd);
		errno = saved;
	}
	return libc_fclose(f);
}

/* ---- threads ---------------------------------------------------------- */

/* From now on a cancel may be pending: the direct read asks libc first
 * (libc.h: libc_cancel_asked).  Set before the cancel is sent. */
static int do_pthread_cancel(pthread_t t)
{
	__atomic_store_n(&libc_cancel_asked, 1, __ATOMIC_SEQ_CST);
	return libc_pthread_cancel(t);
}

/* ---- exported -------------------------------------------------------- */

/* ---- signal dispositions (sigwatch.h) --------------------------------- */

static void note_handler(int sig, sighandler_t h)
{
	struct sigaction a = { .sa_handler = h };
	sigwatch_note(sig, &a);
}

static sighandler_t do_signal(int sig, sighandler_t h)
{
	note_handler(sig, h);
	return libc_signal(sig, h);
}

static sighandler_t do_sigset(int sig, sighandler_t h)
{
	note_handler(sig, h);
	return libc_sigset(sig, h);
}

EXPORT ssize_t read(int fd, void *buf, size_t n) { return do_read(fd, buf, n); }
EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) { return do_read_chk(fd, buf, n, buflen); }
EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) { return do_readv(fd, iov, cnt); }
EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) { return do_recvfrom(fd, buf, n, flags, NULL, NULL); }
EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags) { return do_recv_chk(fd, buf, n, buflen, flags); }
EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al) { return do_recvfrom(fd, buf, n, flags, a, al); }
EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *a, socklen_t *al) { return do_recvfrom_chk(fd, buf, n, buflen, flags, a, al); }
EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) { return do_recvmsg(fd, msg, flags); }
EXPORT int socket(int domain, int type, int protocol) { return do_socket(domain, type, protocol); }
EXPORT int accept(int fd, struct sockaddr *a, socklen_t *al) { return do_accept4(fd, a, al, 0); }
EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *al, int flags) { return do_accept4(fd, a, al, flags); }
EXPORT int connect(int fd, const struct sockaddr *a, socklen_t al) { return do_connect(fd, a, al); }
EXPORT ssize_t splice(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned flags) { return do_splice(in, oin, out, oout, len, flags); }
EXPORT int close(int fd) { return do_close(fd); }
EXPORT int close_range(unsigned lo, unsigned hi, int flags) { return do_close_range(lo, hi, flags); }
EXPORT sighandler_t signal(int sig, sighandler_t h) { return do_signal(sig, h); }
EXPORT sighandler_t sigset(int sig, sighandler_t h) { return do_sigset(sig, h); }
EXPORT int dup(int fd) { return do_dup(fd); }
EXPORT int dup2(int a, int b) { return do_dup2(a, b); }
EXPORT int dup3(int a, int b, int flags) { return do_dup3(a, b, flags); }

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len) { return do_setsockopt(fd, level, name, val, len); }
EXPORT int fclose(FILE *f) { return do_fclose(f); }
EXPORT int pthread_cancel(pthread_t t) { return do_pthread_cancel(t); }
