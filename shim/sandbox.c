/*
 * sandbox.c - the program's own seccomp filter: noticed as it is
 * installed, and from then on the shim makes no system call of its own.
 *
 * A filter the program installs lists the calls the program makes; the
 * shim's mapped path makes others (getsockopt, recvmsg peeks, ppoll,
 * madvise, fcntl...), and a filter that kills on unlisted calls would
 * kill the program for them.  So the two ways a program installs one are
 * hooked: prctl(PR_SET_SECCOMP) and syscall(SYS_seccomp) (libseccomp's
 * seccomp_load calls one of them).  The shim steps aside *before* the
 * call (init.c: INIT_SANDBOX): every hook then passes its call through,
 * and nothing else is done.  If the call fails, it steps back in.
 *
 * Not seen: a filter installed by a raw system call instruction (not
 * through libc), and one inherited at exec (a systemd unit's
 * SystemCallFilter=, a container profile), which is the operator's: the
 * README lists the calls it must allow, and `zcstat doctor` shows the
 * process's Seccomp mode.  A read already inside the mapped path in
 * another thread when a filter is installed with SECCOMP_FILTER_FLAG_TSYNC
 * finishes that read with the calls it was making (docs/design.md, Guarantees).
 *
 * Built without sanitizer instrumentation, like maphooks.c: syscall()
 * can be called by anything at any time, before our constructor too.
 */
#define _GNU_SOURCE
#include "init.h"
#include "export.h"
#include "libc.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>


#ifndef SYS_seccomp
#define SYS_seccomp __NR_seccomp
#endif

/* The system call itself, where libc's syscall() is not known yet. */
static long raw_syscall(long n, long a, long b, long c, long d, long e, long f)
{
	long r;
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ __volatile__("syscall"
			     : "=a"(r)
			     : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ __volatile__("svc 0"
			     : "+r"(x0)
			     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			     : "memory");
	r = x0;
#else
#error "sandbox.c: add this architecture's system call instruction"
#endif
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* What an install through this call would be: 1 a filter, 2 strict
 * mode, 0 not an install (a probe for an action, a notification size). */
static uint32_t seccomp_install(long op)
{
	return op == SECCOMP_SET_MODE_FILTER ? 1 : op == SECCOMP_SET_MODE_STRICT ? 2 : 0;
}

static uint32_t prctl_install(int option, unsigned long mode)
{
	if (option != PR_SET_SECCOMP)
		return 0;
	return mode == SECCOMP_MODE_FILTER ? 1 : mode == SECCOMP_MODE_STRICT ? 2 : 0;
}

static long do_syscall(long n, long a, long b, long c, long d, long e, long f)
{
	uint32_t how = n == SYS_seccomp ? seccomp_install(a) : 0, prev = 0;
	if (how)
		prev = init_sandbox_begin(how);
	long r = libc_sym._libc_syscall.f ? libc_sym._libc_syscall.f(n, a, b, c, d, e, f)
					  : raw_syscall(n, a, b, c, d, e, f);
	if (how) {
		int saved = errno;
		init_sandbox_end(prev, r == 0);
		errno = saved;
	}
	return r;
}

static int do_prctl(int option, unsigned long a, unsigned long b, unsigned long c, unsigned long d)
{
	uint32_t how = prctl_install(option, a), prev = 0;
	if (how)
		prev = init_sandbox_begin(how);
	int r = libc_sym._libc_prctl.f ? libc_sym._libc_prctl.f(option, a, b, c, d)
				       : (int)raw_syscall(SYS_prctl, option, (long)a, (long)b, (long)c, (long)d, 0);
	if (how) {
		int saved = errno;
		init_sandbox_end(prev, r == 0);
		errno = saved;
	}
	return r;
}

/* Both take what the C library's own take: six (four) words, however many
 * the caller passed (the unused ones are never looked at).  The C names
 * are the module's; the symbols are libc's (asm labels).  The shim's own
 * syscall() calls reach this hook too, which hands them on unchanged. */
EXPORT long sandbox_syscall(long n, ...) __asm__("syscall");
EXPORT int sandbox_prctl(int option, ...) __asm__("prctl");

EXPORT long sandbox_syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	return do_syscall(n, a, b, c, d, e, f);
}

EXPORT int sandbox_prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long a = va_arg(ap, unsigned long), b = va_arg(ap, unsigned long);
	unsigned long c = va_arg(ap, unsigned long), d = va_arg(ap, unsigned long);
	va_end(ap);
	return do_prctl(option, a, b, c, d);
}
