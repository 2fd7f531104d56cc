/*
 * kzc.c - see kzc.h.
 */
#define _GNU_SOURCE
#include "kzc.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int kzc_transient(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM || e == EAGAIN;
}

/* Pre-5.7 kernels take exactly 16 or 24 bytes.  On a listening socket the
 * right size fails with ENOTCONN, a wrong one with EINVAL. */
static unsigned exact_len(int fd)
{
	struct tcp_zerocopy_receive zc;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const unsigned tries[] = { KZC_LEN_ERR, KZC_LEN_BASE };
	if (syscall(SYS_bind, fd, &sin, sizeof(sin)) || syscall(SYS_listen, fd, 1))
		return 0;
	for (unsigned i = 0; i < 2; i++) {
		socklen_t len = tries[i];
		memset(&zc, 0, sizeof(zc));
		if (syscall(SYS_getsockopt, fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &len) && errno == ENOTCONN)
			return tries[i];
	}
	return 0;
}

void kzc_probe(struct kzc_info *out)
{
	/* A larger optlen than the kernel's struct, zero-filled: kernels since
	 * 5.7 clamp it and write back their own size; older ones insist on
	 * their exact size and fail with EINVAL. */
	struct { struct tcp_zerocopy_receive zc; unsigned char pad[64]; } buf;
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(out, 0, sizeof(*out));
	if (fd < 0) {
		out->why = errno;
		return;
	}
	memset(&buf, 0, sizeof(buf));
	socklen_t len = sizeof(buf);
	long r = syscall(SYS_getsockopt, fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &buf, &len);
	int e = r ? errno : 0;
	if (len < sizeof(buf) && len >= KZC_LEN_BASE)
		out->optlen = len;
	else if (r && e == EINVAL)
		out->optlen = exact_len(fd);
	if (r && (e == ENOPROTOOPT || e == EOPNOTSUPP || e == EPERM || e == EACCES)) {
		out->why = e;
	} else if (!out->optlen) {
		out->why = e ? e : EINVAL;
	} else {
		/* The option exists; make sure a window can be mapped too. */
		void *p = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			out->why = errno;
		} else {
			syscall(SYS_munmap, p, 4096);
			out->supported = 1;
		}
	}
	syscall(SYS_close, fd);
}
