/*
 * libc.h - the next definitions (libc's, or another preload's) of every
 * function the shim hooks, resolved once with dlsym(RTLD_NEXT).
 *
 * After Samba's socket_wrapper: each symbol is a typed union
 * (`_libc_read.f` to call, `.obj` for dlsym's void *), so no cast is needed
 * and the table cannot be mistaken for the hooks themselves; the shim calls
 * libc_read() and friends, never the exported read().
 *
 * A hook can run before resolution finishes (from another library's
 * constructor, or from inside dlsym itself when it calls into libc), so
 * each libc_* wrapper falls back to the raw system call while its symbol is
 * still NULL.
 */
#ifndef ZCSHIM_LIBC_H
#define ZCSHIM_LIBC_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef ssize_t (*__libc_read)(int, void *, size_t);
typedef ssize_t (*__libc___read_chk)(int, void *, size_t, size_t);
typedef ssize_t (*__libc_readv)(int, const struct iovec *, int);
typedef ssize_t (*__libc___recv_chk)(int, void *, size_t, size_t, int);
typedef ssize_t (*__libc_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*__libc___recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*__libc_recvmsg)(int, struct msghdr *, int);
typedef int (*__libc_socket)(int, int, int);
typedef int (*__libc_accept)(int, struct sockaddr *, socklen_t *);
typedef int (*__libc_accept4)(int, struct sockaddr *, socklen_t *, int);
typedef int (*__libc_connect)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*__libc_splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
typedef int (*__libc_close)(int);
typedef int (*__libc_close_range)(unsigned, unsigned, int);
typedef int (*__libc_dup)(int);
typedef int (*__libc_dup2)(int, int);
typedef int (*__libc_dup3)(int, int, int);
typedef int (*__libc_fcntl)(int, int, ...);
typedef int (*__libc_fcntl64)(int, int, ...);
typedef int (*__libc_setsockopt)(int, int, int, const void *, socklen_t);
typedef int (*__libc_fclose)(FILE *);
typedef int (*__libc_madvise)(void *, size_t, int);
typedef int (*__libc_pkey_alloc)(unsigned, unsigned);
typedef int (*__libc_sigaction)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*__libc_signal)(int, sighandler_t);
typedef sighandler_t (*__libc_sigset)(int, sighandler_t);
typedef long (*__libc_syscall)(long, ...);
typedef int (*__libc_prctl)(int, ...);
typedef int (*__libc_pthread_cancel)(pthread_t);

#define LIBC_SYMBOL(name) union { __libc_##name f; void *obj; } _libc_##name

/* The first eight, one cache line, are those a connection's hooks call:
 * the table is aligned to a line (hot.h: each line a connection touches
 * costs it a miss). */
struct __attribute__((aligned(64))) libc_symbols {
	LIBC_SYMBOL(socket);
	LIBC_SYMBOL(connect);
	LIBC_SYMBOL(accept4);
	LIBC_SYMBOL(close);
	LIBC_SYMBOL(read);
	LIBC_SYMBOL(recvfrom);
	LIBC_SYMBOL(recvmsg);
	LIBC_SYMBOL(splice);
	LIBC_SYMBOL(__read_chk);
	LIBC_SYMBOL(readv);
	LIBC_SYMBOL(__recv_chk);
	LIBC_SYMBOL(__recvfrom_chk);
	LIBC_SYMBOL(accept);
	LIBC_SYMBOL(close_range);
	LIBC_SYMBOL(dup);
	LIBC_SYMBOL(dup2);
	LIBC_SYMBOL(dup3);
	LIBC_SYMBOL(fcntl);
	LIBC_SYMBOL(fcntl64);
	LIBC_SYMBOL(setsockopt);
	LIBC_SYMBOL(fclose);
	LIBC_SYMBOL(madvise);
	LIBC_SYMBOL(pkey_alloc);
	LIBC_SYMBOL(sigaction);
	LIBC_SYMBOL(signal);
	LIBC_SYMBOL(sigset);
	LIBC_SYMBOL(syscall);
	LIBC_SYMBOL(prctl);
	LIBC_SYMBOL(pthread_cancel);
};

extern struct libc_symbols libc_sym;

/* Resolves every symbol.  Idempotent; safe to call concurrently. */
void libc_resolve(void);

ssize_t libc_read(int fd, void *buf, size_t n);

/* The pass-through read's system call, made in the caller's own frame.
 * After a system call the CPU's return predictions are gone, and every
 * frame returned through then costs a misprediction.  Measured with
 * zcbench's queued rows (4 KiB reads, 21 runs each): the hook calling
 * libc's read 1.025-1.030x plain recv() CPU, making the call itself
 * 1.015-1.020x, with the pthread_testcancel below that a program which
 * cancels itself needs (a build that asked libc only after a
 * pthread_cancel measured 1.022, not less: code layout; it is asked only
 * then now, see libc_cancel_asked).  Only where it changes nothing a
 * program can see:
 *   - libc_direct: the next read and recvfrom (RTLD_NEXT) are the C
 *     library's own, not another interposer's, which would be skipped;
 *   - the caller knows the process is single-threaded: only libc's wrapper
 *     makes a blocked read cancellable, and no other thread can cancel
 *     this one (the caller acts on a cancel it sent itself first);
 *   - x86-64 (elsewhere libc_direct stays 0).
 * Returns bytes or -errno, errno untouched. */
extern int libc_direct;

/* The program called pthread_cancel (hooked: preload.c), so a cancel may
 * be pending.  Until then none can be, and the direct read skips libc's
 * pthread_testcancel: three cache lines a read (its code, the thread's
 * descriptor, its GOT slot), each cold again after the read's wait
 * (bench/conn-lines.py).  Never cleared. */
extern int libc_cancel_asked;
int libc_pthread_cancel(pthread_t t);

static inline long libc_sys_read(int fd, void *buf, size_t n)
{
#if defined(__x86_64__)
	long r;
	__asm__ __volatile__("syscall"
			     : "=a"(r)
			     : "0"(0L /* SYS_read */), "D"((long)fd), "S"(buf), "d"(n)
			     : "rcx", "r11", "memory");
	return r;
#else
	(void)fd, (void)buf, (void)n;
	return -ENOSYS;
#endif
}

static inline long libc_sys_recv(int fd, void *buf, size_t n, int flags)
{
#if defined(__x86_64__)
	long r;
	register long r10 __asm__("r10") = flags;
	register long r8 __asm__("r8") = 0;
	register long r9 __asm__("r9") = 0;
	__asm__ __volatile__("syscall"
			     : "=a"(r)
			     : "0"(45L /* SYS_recvfrom */), "D"((long)fd), "S"(buf), "d"(n), "r"(r10), "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	return r;
#else
	(void)fd, (void)buf, (void)n, (void)flags;
	return -ENOSYS;
#endif
}

ssize_t libc_readv(int fd, const struct iovec *iov, int cnt);
ssize_t libc_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al);
ssize_t libc_recvmsg(int fd, struct msghdr *m, int flags);
int libc_socket(int d, int t, int p);
int libc_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags);
int libc_connect(int fd, const struct sockaddr *a, socklen_t al);
ssize_t libc_splice(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned flags);
int libc_close(int fd);
int libc_close_range(unsigned lo, unsigned hi, int flags);
int libc_dup(int fd);
int libc_dup2(int a, int b);
int libc_dup3(int a, int b, int flags);
int libc_fcntl(int fd, int cmd, void *arg);
int libc_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int libc_fclose(FILE *f);
int libc_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
sighandler_t libc_signal(int sig, sighandler_t h);
sighandler_t libc_sigset(int sig, sighandler_t h);

#endif
