/*
 * libzcfault.so - failure points for the shim's fault tests.
 *
 * Preloaded beside the shim (LD_PRELOAD=libzcfault.so, with zcstat adding
 * the shim), it interposes getsockopt and mmap, which the shim calls:
 *   ZCFAULT_ERRNO=EINVAL|ENOMEM|EFAULT|ENOPROTOOPT
 *   ZCFAULT_AFTER=N    TCP_ZEROCOPY_RECEIVE fails with that errno after N
 *                      successful calls (the kernel never sees it: no data
 *                      is consumed, as with a real early failure)
 *   ZCFAULT_MMAP=ENOMEM  read-only shared mmaps (socket windows) fail
 *   ZCFAULT_STALL=N    every Nth TCP_ZEROCOPY_RECEIVE answers "nothing
 *                      mapped, nothing to skip" with the data still queued
 *                      (inq from SIOCINQ), as the kernel now and then does
 *                      on loopback away from any urgent mark; the kernel
 *                      is not asked, so nothing is consumed
 * Nothing else changes, and zcstat itself is left alone.  Test-only; never
 * part of the shim.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <stddef.h>

static int err_of(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "EINVAL")) return EINVAL;
	if (!strcmp(s, "ENOMEM")) return ENOMEM;
	if (!strcmp(s, "EFAULT")) return EFAULT;
	if (!strcmp(s, "ENOPROTOOPT")) return ENOPROTOOPT;
	return 0;
}

__attribute__((visibility("default"))) int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	static int (*real)(int, int, int, void *, socklen_t *);
	static long calls;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "getsockopt");
	if (level == IPPROTO_TCP && name == TCP_ZEROCOPY_RECEIVE && getenv("ZCFAULT_STALL")) {
		static long n;
		struct tcp_zerocopy_receive *zc = val;
		int inq = 0;
		if (__atomic_add_fetch(&n, 1, __ATOMIC_RELAXED) % atol(getenv("ZCFAULT_STALL")) == 0 &&
		    *len >= offsetof(struct tcp_zerocopy_receive, err) && !ioctl(fd, SIOCINQ, &inq) && inq > 0) {
			zc->length = 0;
			zc->recv_skip_hint = 0;
			zc->inq = (unsigned)inq;
			if (*len >= offsetof(struct tcp_zerocopy_receive, flags))
				zc->copybuf_len = 0;
			return 0;
		}
	}
	if (level == IPPROTO_TCP && name == TCP_ZEROCOPY_RECEIVE) {
		int e = err_of(getenv("ZCFAULT_ERRNO"));
		const char *after = getenv("ZCFAULT_AFTER");
		if (e && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) > (after ? atol(after) : 0)) {
			errno = e;
			return -1;
		}
	}
	return real(fd, level, name, val, len);
}

__attribute__((visibility("default"))) void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "mmap");
	/* zcstat maps segments read-only too: it is the observer, not the patient */
	if (fd >= 0 && prot == PROT_READ && (flags & MAP_SHARED) && err_of(getenv("ZCFAULT_MMAP")) &&
	    strcmp(program_invocation_short_name, "zcstat")) {
		errno = err_of(getenv("ZCFAULT_MMAP"));
		return MAP_FAILED;
	}
	return real(addr, len, prot, flags, fd, off);
}
