/*
 * zcnozc - run a program on a "kernel" without TCP_ZEROCOPY_RECEIVE.
 *
 *   zcnozc [--mmap] CMD [ARGS...]
 *
 * Installs a seccomp filter that makes getsockopt(IPPROTO_TCP,
 * TCP_ZEROCOPY_RECEIVE) fail with ENOPROTOOPT, as on a kernel older than
 * 4.18 (--mmap instead: read-only shared mmaps, the shape of a socket
 * window, fail with EPERM), then execs CMD (the filter is inherited).  The
 * shim must pass everything through, say so once, and report
 * kernel_zerocopy false.
 */
#define _GNU_SOURCE
#include "common.h"

#include <seccomp.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	int mm = argc > 1 && !strcmp(argv[1], "--mmap");
	argv += mm;
	argc -= mm;
	if (argc < 2)
		die("usage: zcnozc [--mmap] CMD [ARGS...]");
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		die("seccomp_init failed");
	int r;
	if (mm)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mmap), 2, SCMP_A2(SCMP_CMP_EQ, PROT_READ),
				     SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_SHARED, MAP_SHARED));
	else
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOPROTOOPT), SCMP_SYS(getsockopt), 2,
				     SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP), SCMP_A2(SCMP_CMP_EQ, TCP_ZEROCOPY_RECEIVE));
	if (r || (r = seccomp_load(ctx)))
		die("seccomp: %s", strerror(-r));
	seccomp_release(ctx);
	execvp(argv[1], argv + 1);
	die("exec %s: %s", argv[1], strerror(errno));
}
