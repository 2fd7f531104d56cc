/*
 * common.h - small pieces shared by the test helper programs (header-only:
 * each helper is a single-file program).  Not linked into the shim.
 */
#ifndef ZCSHIM_HELPER_COMMON_H
#define ZCSHIM_HELPER_COMMON_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((noreturn, format(printf, 1, 2))) static inline void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* "256M", "64k", "4096". */
static inline uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end || end == s)
		die("bad size '%s'", s);
	return v;
}

/* Address for listen/connect: 127.0.0.1 unless a helper was told otherwise
 * (--bind / --host, for runs between two hosts). */
static const char *helper_addr = "127.0.0.1";
/* SO_RCVBUF for connect_loopback's socket, set before connect so the
 * window scale covers it (0: the kernel's default). */
static int helper_rcvbuf;

/* A listening TCP socket on helper_addr, port 0 (the kernel picks). */
static inline int listen_loopback(int mss, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (mss && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)))
		die("TCP_MAXSEG %d: %s", mss, strerror(errno));
	struct sockaddr_in a = { .sin_family = AF_INET };
	if (inet_pton(AF_INET, helper_addr, &a.sin_addr) != 1)
		die("bad IPv4 address %s", helper_addr);
	socklen_t l = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024) ||
	    getsockname(fd, (struct sockaddr *)&a, &l))
		die("bind/listen: %s", strerror(errno));
	*port = ntohs(a.sin_port);
	return fd;
}

static inline int connect_loopback(int port, int mss)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (mss && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)))
		die("TCP_MAXSEG %d: %s", mss, strerror(errno));
	/* FORCE passes net.core.rmem_max where the caller may (CAP_NET_ADMIN). */
	if (helper_rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &helper_rcvbuf, sizeof(helper_rcvbuf)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &helper_rcvbuf, sizeof(helper_rcvbuf)))
		die("SO_RCVBUF %d: %s", helper_rcvbuf, strerror(errno));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, helper_addr, &a.sin_addr) != 1)
		die("bad IPv4 address %s", helper_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect to port %d: %s", port, strerror(errno));
	return fd;
}

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

/* Sends all n bytes with MSG_ZEROCOPY (plain send when notification memory
 * is full), then drains whatever completions are queued.  The caller keeps
 * the buffer untouched until the receiver has consumed the data: on
 * loopback the receiver is handed these very pages. */
static inline void zc_send_all(int fd, const uint8_t *b, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = send(fd, b + done, n - done, MSG_ZEROCOPY | MSG_NOSIGNAL);
		if (w < 0 && errno == ENOBUFS)
			w = send(fd, b + done, n - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("send: %s", strerror(errno));
		done += (size_t)w;
	}
	char ctl[128];
	struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	while (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
		m.msg_controllen = sizeof(ctl);
}

/* This process's RssFile in kB (file-backed resident pages, which include
 * pages mapped from sockets), or -1. */
static inline long rss_file_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssFile: %ld kB", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* Open fds of this process (entries of /proc/self/fd, its own dir fd too). */
static inline int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		/* The shim's one descriptor of its own (shim/memok.h), held
		 * from the first mapped read on, is not a leak. */
		char path[300], to[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		ssize_t k = readlink(path, to, sizeof(to) - 1);
		if (k > 0 && (to[k] = 0, !strncmp(to, "/proc/", 6)) && k > 5 && !strcmp(to + k - 5, "/maps"))
			continue;
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* Reads exactly n bytes unless EOF or an error comes first: what it got. */
static inline size_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static inline void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write: %s", strerror(errno));
		c += w;
		n -= (size_t)w;
	}
}

#endif
