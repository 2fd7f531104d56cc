/*
 * real.h - the next definitions (libc's, or another preload's) of every
 * function the shim hooks, resolved once with dlsym(RTLD_NEXT).
 *
 * A hook can run before resolution finishes (from another library's
 * constructor, or from inside dlsym itself when it calls into libc), so
 * each real_* wrapper falls back to the raw system call while its pointer
 * is still NULL.  Internal code calls these, never the exported hooks.
 */
#ifndef ZCSHIM_REAL_H
#define ZCSHIM_REAL_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct real_fns {
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*socket)(int, int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
};

extern struct real_fns real;

/* Resolves every pointer.  Idempotent; safe to call concurrently. */
void real_resolve(void);

ssize_t real_read(int fd, void *buf, size_t n);
ssize_t real_readv(int fd, const struct iovec *iov, int cnt);
ssize_t real_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al);
ssize_t real_recvmsg(int fd, struct msghdr *m, int flags);
int real_socket(int d, int t, int p);
int real_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags);
int real_close(int fd);
int real_close_range(unsigned lo, unsigned hi, int flags);
int real_dup(int fd);
int real_dup2(int a, int b);
int real_dup3(int a, int b, int flags);
int real_fcntl_ptr(int fd, int cmd, void *arg);

#endif
