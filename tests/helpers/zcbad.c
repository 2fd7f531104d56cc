/*
 * zcbad - bad input, differential: every call below must return the same
 * value and errno with and without the shim, the process must survive,
 * and no data may be lost where plain libc loses none.
 *
 *   zcbad
 *
 * Prints one line per case: the call, its result and errno, and for TCP
 * reads whether the bytes were the right ones.  TCP cases get a fresh
 * connection with 64 KiB queued, sent with MSG_ZEROCOPY so that the shim's
 * mapped path is in play.  The test compares the transcript with and
 * without the shim.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <linux/sockios.h>

#define KB 1024u

static void show(const char *what, ssize_t r, int e)
{
	if (r < 0)
		printf("%-44s -1 %s\n", what, strerrorname_np(e) ? strerrorname_np(e) : "?");
	else
		printf("%-44s %zd\n", what, r);
}

static int tx_keep[4096], ntx;

/* A connected pair with n pattern bytes queued at rx. */
static int tcp_with(size_t n)
{
	int port, l = listen_loopback(0, &port);
	int rx = connect_loopback(port, 0), tx = accept(l, NULL, NULL), one = 1;
	close(l);
	setsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	if (n) {
		uint8_t *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		pat_fill(b, 0, n);
		zc_send_all(tx, b, n);
		int q = 0;
		while (q < (int)n) {
			struct pollfd p = { .fd = rx, .events = POLLIN };
			poll(&p, 1, 100);
			ioctl(rx, SIOCINQ, &q);
		}
	}
	tx_keep[ntx++ % 4096] = tx;	/* peer stays open: no EOF */
	return rx;
}

/* What is left queued at fd, checked from stream offset off: bytes intact? */
static const char *rest_ok(int fd, uint64_t off)
{
	static uint8_t b[256 * KB];
	ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN ? "rest: none" : "rest: error";
	return pat_check(b, off, (size_t)r) == (size_t)r ? "rest: intact" : "rest: WRONG";
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	static uint8_t buf[256 * KB];
	ssize_t r;
	char what[128];

	/* ---- fds that are not connected TCP sockets ---- */
	r = read(-1, buf, 100); show("read fd -1", r, errno);
	r = read(4000, buf, 100); show("read closed fd", r, errno);
	r = recv(4000, buf, 100, 0); show("recv closed fd", r, errno);
	{
		char path[] = "/tmp/zcbad-XXXXXX";
		int f = mkstemp(path);
		write_all(f, "file contents", 13);
		lseek(f, 0, SEEK_SET);
		r = read(f, buf, sizeof(buf)); show("read regular file", r, errno);
		r = recv(f, buf, 100, 0); show("recv regular file", r, errno);
		close(f);
		unlink(path);
	}
	{
		int p[2];
		if (pipe(p))
			die("pipe");
		write_all(p[1], "pipe", 4);
		r = read(p[0], buf, 100 * KB); show("read pipe 100K", r, errno);
		r = recv(p[0], buf, 100, MSG_DONTWAIT); show("recv pipe", r, errno);
		close(p[0]);
		close(p[1]);
	}
	{
		int e = eventfd(3, 0);
		r = read(e, buf, 8); show("read eventfd", r, errno);
		r = read(e, buf, 4); show("read eventfd short", r, errno);
		close(e);
	}
	{
		int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in s = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t l = sizeof(s);
		bind(a, (struct sockaddr *)&s, sizeof(s));
		getsockname(a, (struct sockaddr *)&s, &l);
		sendto(b, "datagram", 8, 0, (struct sockaddr *)&s, sizeof(s));
		r = recv(a, buf, 100 * KB, 0); show("recv UDP 100K", r, errno);
		r = recv(a, buf, 100 * KB, MSG_DONTWAIT); show("recv UDP empty", r, errno);
		close(a);
		close(b);
	}
	{
		int u[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, u);
		write_all(u[1], "unix", 4);
		r = read(u[0], buf, 100 * KB); show("read unix stream 100K", r, errno);
		close(u[0]);
		close(u[1]);
	}
	{
		int port, l = listen_loopback(0, &port);
		fcntl(l, F_SETFL, O_NONBLOCK);
		r = read(l, buf, 100 * KB); show("read listening TCP", r, errno);
		r = recv(l, buf, 100 * KB, 0); show("recv listening TCP", r, errno);
		close(l);
	}
	{
		int t = socket(AF_INET, SOCK_STREAM, 0);
		r = read(t, buf, 100 * KB); show("read unconnected TCP", r, errno);
		close(t);
	}
	{
		/* Still connecting: a listener whose backlog is full drops our
		 * SYN, so a non-blocking connect stays in SYN_SENT. */
		int port, l = listen_loopback(0, &port);
		listen(l, 0);
		int c1 = connect_loopback(port, 0);	/* fills a backlog of 0 */
		int t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int cr = connect(t, (struct sockaddr *)&a, sizeof(a));
		show("connect with a full backlog", cr, errno);
		r = read(t, buf, 100 * KB); show("read TCP still connecting", r, errno);
		r = recv(t, buf, 100 * KB, 0); show("recv TCP still connecting", r, errno);
		close(t);
		close(c1);
		close(l);
	}
	{
		int rx = tcp_with(64 * KB);
		shutdown(rx, SHUT_RD);
		r = read(rx, buf, 100 * KB); show("read after shutdown(SHUT_RD)", r, errno);
		close(rx);
	}

	/* ---- buffers ---- */
	{
		int rx = tcp_with(64 * KB);
		r = read(rx, NULL, 0); show("read NULL len 0", r, errno);
		void *volatile null = NULL;
		r = read(rx, null, 64 * KB); show("read NULL len 64K", r, errno);
		printf("  %s\n", rest_ok(rx, 0));
		close(rx);
	}
	{
		int rx = tcp_with(64 * KB);
		uint8_t *ro = mmap(NULL, 128 * KB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r = read(rx, ro, 128 * KB); show("read into read-only mapping", r, errno);
		printf("  %s\n", rest_ok(rx, 0));
		close(rx);
	}
	{
		/* 64K queued, a buffer of 128K whose second half is PROT_NONE:
		 * plain recv fills 64K and succeeds; so must the shim */
		int rx = tcp_with(64 * KB);
		uint8_t *m = mmap(NULL, 128 * KB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(m + 64 * KB, 64 * KB, PROT_NONE);
		r = read(rx, m, 128 * KB); show("read len past the buffer's mapping", r, errno);
		if (r > 0)
			printf("  bytes %s\n", pat_check(m, 0, (size_t)r) == (size_t)r ? "intact" : "WRONG");
		printf("  %s\n", rest_ok(rx, r > 0 ? (uint64_t)r : 0));
		close(rx);
	}

	/* ---- lengths ---- */
	size_t lens[] = { 0, 1, 4095, 4096, 4097, 65536, SSIZE_MAX };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int rx = tcp_with(64 * KB);
		size_t n = lens[i];
		/* SSIZE_MAX: the kernel writes at most what is queued (64K) */
		r = recv(rx, buf, n, MSG_DONTWAIT);
		snprintf(what, sizeof(what), "recv len %zu", n);
		show(what, r, errno);
		if (r > 0 && pat_check(buf, 0, (size_t)r) != (size_t)r)
			printf("  bytes WRONG\n");
		printf("  %s\n", rest_ok(rx, r > 0 ? (uint64_t)r : 0));
		close(rx);
	}

	/* ---- flags, alone and in pairs ---- */
	struct { int f; const char *n; } fl[] = {
		{ MSG_PEEK, "PEEK" }, { MSG_OOB, "OOB" }, { MSG_WAITALL, "WAITALL" }, { MSG_DONTWAIT, "DONTWAIT" },
		{ MSG_TRUNC, "TRUNC" }, { MSG_ERRQUEUE, "ERRQUEUE" }, { MSG_CMSG_CLOEXEC, "CMSG_CLOEXEC" },
		{ MSG_NOSIGNAL, "NOSIGNAL" },
	};
	int nf = (int)(sizeof(fl) / sizeof(fl[0]));
	for (int i = 0; i < nf; i++)
		for (int j = i; j < nf; j++) {
			int f = fl[i].f | fl[j].f;
			if ((f & MSG_WAITALL) && !(f & (MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC | MSG_OOB | MSG_ERRQUEUE)))
				f |= 0;	/* 64K queued and asked: WAITALL completes */
			int rx = tcp_with(64 * KB);
			fcntl(rx, F_SETFL, O_NONBLOCK);	/* no case may hang */
			r = recv(rx, buf, 64 * KB, f);
			int e = errno;
			if (i == j)
				snprintf(what, sizeof(what), "recv 64K %s", fl[i].n);
			else
				snprintf(what, sizeof(what), "recv 64K %s|%s", fl[i].n, fl[j].n);
			show(what, r, e);
			uint64_t consumed = r > 0 && !(f & MSG_PEEK) && !(f & MSG_ERRQUEUE) ? (uint64_t)r : 0;
			if (r > 0 && !(f & MSG_TRUNC) && !(f & MSG_ERRQUEUE) && pat_check(buf, 0, (size_t)r) != (size_t)r)
				printf("  bytes WRONG\n");
			printf("  %s\n", rest_ok(rx, consumed));
			close(rx);
		}

	/* ---- iovec counts ---- */
	static struct iovec iov[IOV_MAX + 1];
	int counts[] = { 0, 1, 16, IOV_MAX, IOV_MAX + 1 };
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		int n = counts[c];
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = buf + (size_t)i * 64;
			iov[i].iov_len = i % 3 == 1 ? 0 : 64;	/* some zero-length entries */
		}
		int rx = tcp_with(64 * KB);
		r = readv(rx, iov, n);
		snprintf(what, sizeof(what), "readv %d iovecs", n);
		show(what, r, errno);
		printf("  %s\n", rest_ok(rx, r > 0 ? (uint64_t)r : 0));
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		close(rx);
		rx = tcp_with(64 * KB);
		r = recvmsg(rx, &m, MSG_DONTWAIT);
		snprintf(what, sizeof(what), "recvmsg %d iovecs", n);
		show(what, r, errno);
		printf("  %s\n", rest_ok(rx, r > 0 ? (uint64_t)r : 0));
		close(rx);
	}
	printf("survived\n");
	return 0;
}
