/*
 * libc.c - see libc.h.
 */
#define _GNU_SOURCE
#include "libc.h"
#include "hot.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct libc_symbols libc_sym;
HOT int libc_direct;
HOT int libc_cancel_asked;

/* 1 if the next read and recvfrom are the C library's own.  (dladdr
 * would say so too, at 190,000 instructions a start-up: it walks every
 * symbol of libc.) */
static int next_is_libc(void)
{
	void *h = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
	if (!h)
		return 0;
	int same = libc_sym._libc_read.obj && dlsym(h, "read") == libc_sym._libc_read.obj &&
		   libc_sym._libc_recvfrom.obj && dlsym(h, "recvfrom") == libc_sym._libc_recvfrom.obj;
	dlclose(h);
	return same;
}

void libc_resolve(void)
{
	/* Plain stores of pointers: a racing thread sees NULL (and uses the
	 * syscall) or the final value, both correct. */
#define RESOLVE(name) do { if (!libc_sym._libc_##name.obj) libc_sym._libc_##name.obj = dlsym(RTLD_NEXT, #name); } while (0)
	RESOLVE(read);
	RESOLVE(__read_chk);
	RESOLVE(readv);
	RESOLVE(__recv_chk);
	RESOLVE(recvfrom);
	RESOLVE(__recvfrom_chk);
	RESOLVE(recvmsg);
	RESOLVE(socket);
	RESOLVE(accept);
	RESOLVE(accept4);
	RESOLVE(connect);
	RESOLVE(splice);
	RESOLVE(close);
	RESOLVE(close_range);
	RESOLVE(dup);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(fcntl);
	RESOLVE(fcntl64);
	RESOLVE(setsockopt);
	RESOLVE(fclose);
	RESOLVE(madvise);
	RESOLVE(pkey_alloc);
	RESOLVE(sigaction);
	RESOLVE(signal);
	RESOLVE(sigset);
	RESOLVE(syscall);
	RESOLVE(prctl);
	RESOLVE(pthread_cancel);
#undef RESOLVE
#if defined(__x86_64__)
	libc_direct = next_is_libc();
#endif
}

#define NEXT(name) libc_sym._libc_##name.f

ssize_t libc_read(int fd, void *buf, size_t n)
{
	return NEXT(read) ? NEXT(read)(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

ssize_t libc_readv(int fd, const struct iovec *iov, int cnt)
{
	return NEXT(readv) ? NEXT(readv)(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt);
}

ssize_t libc_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
	return NEXT(recvfrom) ? NEXT(recvfrom)(fd, buf, n, flags, a, al)
			      : syscall(SYS_recvfrom, fd, buf, n, flags, a, al);
}

ssize_t libc_recvmsg(int fd, struct msghdr *m, int flags)
{
	return NEXT(recvmsg) ? NEXT(recvmsg)(fd, m, flags) : syscall(SYS_recvmsg, fd, m, flags);
}

int libc_socket(int d, int t, int p)
{
	return NEXT(socket) ? NEXT(socket)(d, t, p) : (int)syscall(SYS_socket, d, t, p);
}

int libc_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
	if (!flags && NEXT(accept))
		return NEXT(accept)(fd, a, al);
	return NEXT(accept4) ? NEXT(accept4)(fd, a, al, flags) : (int)syscall(SYS_accept4, fd, a, al, flags);
}

int libc_connect(int fd, const struct sockaddr *a, socklen_t al)
{
	return NEXT(connect) ? NEXT(connect)(fd, a, al) : (int)syscall(SYS_connect, fd, a, al);
}

ssize_t libc_splice(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned flags)
{
	return NEXT(splice) ? NEXT(splice)(in, oin, out, oout, len, flags)
			    : syscall(SYS_splice, in, oin, out, oout, len, flags);
}

int libc_close(int fd)
{
	return NEXT(close) ? NEXT(close)(fd) : (int)syscall(SYS_close, fd);
}

int libc_close_range(unsigned lo, unsigned hi, int flags)
{
	return NEXT(close_range) ? NEXT(close_range)(lo, hi, flags) : (int)syscall(SYS_close_range, lo, hi, flags);
}

int libc_dup(int fd)
{
	return NEXT(dup) ? NEXT(dup)(fd) : (int)syscall(SYS_dup, fd);
}

int libc_dup2(int a, int b)
{
	return NEXT(dup2) ? NEXT(dup2)(a, b) : (int)syscall(SYS_dup2, a, b);
}

int libc_dup3(int a, int b, int flags)
{
	return NEXT(dup3) ? NEXT(dup3)(a, b, flags) : (int)syscall(SYS_dup3, a, b, flags);
}

int libc_fcntl(int fd, int cmd, void *arg)
{
	if (NEXT(fcntl64))
		return NEXT(fcntl64)(fd, cmd, arg);
	if (NEXT(fcntl))
		return NEXT(fcntl)(fd, cmd, arg);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

int libc_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return NEXT(setsockopt) ? NEXT(setsockopt)(fd, level, name, val, len)
				: (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

int libc_pthread_cancel(pthread_t t)
{
	if (!NEXT(pthread_cancel))
		libc_resolve();
	return NEXT(pthread_cancel) ? NEXT(pthread_cancel)(t) : ENOSYS;
}

int libc_fclose(FILE *f)
{
	if (NEXT(fclose))
		return NEXT(fclose)(f);
	/* Only reachable before resolution, where no app stream can exist
	 * that libc would not close itself. */
	errno = ENOSYS;
	return EOF;
}

/* No system-call fallback for these: the kernel's rt_sigaction needs libc's
 * restorer.  glibc exports __sigaction itself for that case. */
extern int __sigaction(int, const struct sigaction *, struct sigaction *);

int libc_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!NEXT(sigaction))
		libc_resolve();
	return NEXT(sigaction) ? NEXT(sigaction)(sig, act, old) : __sigaction(sig, act, old);
}

sighandler_t libc_signal(int sig, sighandler_t h)
{
	if (!NEXT(signal))
		libc_resolve();
	if (NEXT(signal))
		return NEXT(signal)(sig, h);
	struct sigaction a = { .sa_handler = h, .sa_flags = SA_RESTART }, o;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, sig);
	return __sigaction(sig, &a, &o) ? SIG_ERR : o.sa_handler;
}

sighandler_t libc_sigset(int sig, sighandler_t h)
{
	if (!NEXT(sigset))
		libc_resolve();
	return NEXT(sigset) ? NEXT(sigset)(sig, h) : libc_signal(sig, h);
}
