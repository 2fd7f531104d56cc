/*
 * real.c - see real.h.
 */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

struct real_fns real;

void real_resolve(void)
{
	/* Plain stores of pointers: a racing thread sees NULL (and uses the
	 * syscall) or the final value, both correct. */
#define R(field, name) do { if (!real.field) *(void **)&real.field = dlsym(RTLD_NEXT, name); } while (0)
	R(read, "read");
	R(read_chk, "__read_chk");
	R(readv, "readv");
	R(recv, "recv");
	R(recv_chk, "__recv_chk");
	R(recvfrom, "recvfrom");
	R(recvfrom_chk, "__recvfrom_chk");
	R(recvmsg, "recvmsg");
	R(socket, "socket");
	R(accept, "accept");
	R(accept4, "accept4");
	R(close, "close");
	R(close_range, "close_range");
	R(dup, "dup");
	R(dup2, "dup2");
	R(dup3, "dup3");
	R(fcntl, "fcntl");
	R(fcntl64, "fcntl64");
#undef R
}

ssize_t real_read(int fd, void *buf, size_t n)
{
	return real.read ? real.read(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

ssize_t real_readv(int fd, const struct iovec *iov, int cnt)
{
	return real.readv ? real.readv(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt);
}

ssize_t real_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
	return real.recvfrom ? real.recvfrom(fd, buf, n, flags, a, al)
			     : syscall(SYS_recvfrom, fd, buf, n, flags, a, al);
}

ssize_t real_recvmsg(int fd, struct msghdr *m, int flags)
{
	return real.recvmsg ? real.recvmsg(fd, m, flags) : syscall(SYS_recvmsg, fd, m, flags);
}

int real_socket(int d, int t, int p)
{
	return real.socket ? real.socket(d, t, p) : (int)syscall(SYS_socket, d, t, p);
}

int real_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
	if (!flags && real.accept)
		return real.accept(fd, a, al);
	return real.accept4 ? real.accept4(fd, a, al, flags) : (int)syscall(SYS_accept4, fd, a, al, flags);
}

int real_close(int fd)
{
	return real.close ? real.close(fd) : (int)syscall(SYS_close, fd);
}

int real_close_range(unsigned lo, unsigned hi, int flags)
{
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
	return real.close_range ? real.close_range(lo, hi, flags)
				: (int)syscall(SYS_close_range, lo, hi, flags);
}

int real_dup(int fd)
{
	return real.dup ? real.dup(fd) : (int)syscall(SYS_dup, fd);
}

int real_dup2(int a, int b)
{
	return real.dup2 ? real.dup2(a, b) : (int)syscall(SYS_dup2, a, b);
}

int real_dup3(int a, int b, int flags)
{
	return real.dup3 ? real.dup3(a, b, flags) : (int)syscall(SYS_dup3, a, b, flags);
}

int real_fcntl_ptr(int fd, int cmd, void *arg)
{
	if (real.fcntl64)
		return real.fcntl64(fd, cmd, arg);
	if (real.fcntl)
		return real.fcntl(fd, cmd, arg);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
