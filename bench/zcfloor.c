/*
 * zcfloor - the floor under the shim's mapped path: what the kernel's
 * page-table work (and one copy) costs on this machine, with no shim.
 *
 *   zcfloor --port P [--host ADDR] [--size 1M] [--touch none|copy|sum] [--window 2M]
 *
 * Connects to ADDR:P (127.0.0.1 by default) and receives until EOF with bare
 * TCP_ZEROCOPY_RECEIVE calls through the shim's own window code
 * (shim/zcwin.c: the same 2 MiB-aligned window ring, the same call, zap
 * once per trip round the ring), asking for --size bytes per call as a
 * mapped read of that size would, each piece copied where that read's
 * bytes would go in a --size buffer.  What cannot be mapped (the straggler
 * behind a run of pages) is taken, as the shim takes it, by a recv() of
 * what the kernel says to skip.
 *   --touch none: the pages are released untouched (the pure cost of
 *                 inserting, zapping and freeing them);
 *   --touch copy: each mapped run is also memcpy'd into a --size buffer,
 *                 which is all any map-then-copy receiver must add: the
 *                 floor zcbench holds the shim to;
 *   --touch sum:  each mapped run is added up in place, 64 bits at a time
 *                 (the floor under zcshim_recv with zcapi's sum).
 * Prints "bytes=N mapped=M" on stdout.  Preconditions: Linux >= 5.7 (inq),
 * a sender that makes pages mappable (zcsend --mode zerocopy).
 * Used by `make bench`; run by hand beside a `zcsend --bytes 1G --mode
 * zerocopy --mss 4108`, pinned: `taskset -c 1 build/zcfloor --port P`.
 *
 *   zcfloor --port P --pull N --ab [--size 64K]   (against `zcsend --pull`)
 *
 * The floor and the shim side by side in one process, on one stream:
 * asks for N bytes at a time, waits until they are all queued, then
 * drains them in blocks (4 reads, at least 1 MiB), alternating between
 * read() -- the shim's mapped path when it is preloaded, plain read()
 * when not -- and the floor's own calls, which no hook sees (a raw
 * recvfrom for stragglers).  Prints the CPU time and bytes of each kind
 * ("ab_hooked_ns=T ab_hooked_bytes=B ab_raw_ns=T ab_raw_bytes=B
 * ab_raw_mapped=M", raw being the floor, M what it mapped of B): their
 * ratio per byte is shim/floor at the same moment, on the same queue,
 * with the sender idle (zcbench's queued floor rows; they show what share
 * each mapped).
 *
 *   zcfloor --port P --seq N --ab [--size 256K]   (against `zcsend --serve-forever`)
 *
 * The same for short connections: N connections one after another, each
 * waited for until all its data is queued (the peer's FIN), then read to
 * its end and closed, alternating between libc's socket, connect, read
 * and close (the shim's, when preloaded) and the floor's: raw system
 * calls and the bare mapping loop.  Timed per connection from socket()
 * to close(), the wait left out (zcbench's conns floor rows); one
 * connection each way runs first, untimed.
 */
#define _GNU_SOURCE
#ifndef ZCSHIM_VERSION
#define ZCSHIM_VERSION "unknown"
#endif
#include "size.h"
#include "page.h"
#include "pull.h"
#include "zcwin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>


static int connect_to(const char *host, int port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	/* --pull: room for a whole request (FORCE passes rmem_max as root). */
	if (fd >= 0 && rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	return fd;
}

/* One piece of a stream read in reads of `size` bytes: -1 at EOF or error,
 * else bytes taken.  The call is the shim's own (zcwin_receive): no
 * copybuf, so an unmappable straggler is copied by a recv of its own, as
 * the shim copies it.  Each call asks for `size` bytes, across the reads'
 * ends (a bare loop has no read boundaries to lose its page alignment
 * at), and each piece lands in a `size` buffer at `*off`, where a read's
 * next bytes would go, wrapping at its end: a floor that put every piece
 * at buf's start copied into a destination as small as one run between
 * stragglers (64 KiB of a 1 MiB read from a default-MSS sender), which
 * stays in cache where a read's 1 MiB does not (docs/benchmarks.md, run
 * O). */
static uint64_t checksum;

static long one_read(int fd, struct zcwin_win *w, size_t size, size_t *off, uint8_t *buf, int copy,
		     uint64_t *mapped)
{
	size_t want = size < w->size ? size : w->size, map = want & ~(size_t)(PAGE - 1), room = size - *off;
	struct tcp_zerocopy_receive zc;
	const uint8_t *data;
	if (zcwin_receive(fd, w, map, &zc, &data))
		return -1;	/* EIO: EOF */
	if (copy == 1 && zc.length) {
		size_t first = zc.length < room ? zc.length : room;
		memcpy(buf + *off, data, first);
		memcpy(buf, data + first, zc.length - first);
	}
	if (copy == 2)
		for (size_t i = 0; i + 8 <= zc.length; i += 8)
			checksum += *(const uint64_t *)(data + i);
	*mapped += zc.length;
	long got = (long)zc.length;
	if (!got) {
		/* Nothing mapped: copy what must be skipped, or wait. */
		size_t n = zc.recv_skip_hint && zc.recv_skip_hint < room ? zc.recv_skip_hint : room;
		int take = zc.recv_skip_hint || zc.inq;
		/* Raw: under a preloaded shim (--ab) no hook may see it. */
		ssize_t t = syscall(SYS_recvfrom, fd, buf + *off, n, take ? 0 : MSG_PEEK, NULL, NULL);
		if (t <= 0)
			return -1;
		got = take ? t : 0;
	}
	if (zc.inq == 0)
		zcwin_settle(w);
	*off = (*off + (size_t)got) % size;
	return got;
}

static void request_and_wait(int fd, uint32_t n)
{
	if (pull_request(fd, n)) {
		perror("zcfloor: pull request");
		exit(1);
	}
}

/* --pull N --ab: bursts of N queued bytes drained in blocks, read() and the
 * floor in turn (each burst starting with the other kind). */
static int pull_ab(int fd, struct zcwin_win *w, size_t size, uint8_t *buf, uint32_t pull)
{
	uint64_t ns[2] = { 0, 0 }, bytes[2] = { 0, 0 }, mapped = 0;
	uint64_t block = 4 * (uint64_t)size > (1u << 20) ? 4 * (uint64_t)size : 1u << 20;
	int raw = 1;
	for (int eof = 0; !eof;) {
		request_and_wait(fd, pull);
		raw = !raw;
		for (uint64_t left = pull; left && !eof; raw = !raw) {
			uint64_t t0 = pull_thread_ns(), got = 0;
			size_t off = 0;
			while (got < block && got < left) {
				long r = raw ? one_read(fd, w, size, &off, buf, 1, &mapped) : (long)read(fd, buf, size);
				if (r <= 0) {
					eof = 1;
					break;
				}
				got += (uint64_t)r;
			}
			ns[raw] += pull_thread_ns() - t0;
			bytes[raw] += got;
			left -= got < left ? got : left;
		}
	}
	printf("ab_hooked_ns=%llu ab_hooked_bytes=%llu ab_raw_ns=%llu ab_raw_bytes=%llu ab_raw_mapped=%llu bytes=%llu\n",
	       (unsigned long long)ns[0], (unsigned long long)bytes[0], (unsigned long long)ns[1],
	       (unsigned long long)bytes[1], (unsigned long long)mapped, (unsigned long long)(bytes[0] + bytes[1]));
	return 0;
}

/* One connection of --seq: made, drained and closed through libc or
 * (raw) the floor's own calls; its thread CPU, the wait for its data
 * (until the FIN is queued) left out.  -1 if it failed. */
static long one_conn(const char *host, int port, int raw, struct zcwin_win *w, size_t size, uint8_t *buf,
		     uint64_t *ns, uint64_t *mapped)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int big = 8 << 20;	/* room for the whole connection queued */
	inet_pton(AF_INET, host, &a.sin_addr);
	uint64_t t0 = pull_thread_ns();
	int fd = raw ? (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
		     : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	raw ? syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big))
	    : setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	if (raw ? syscall(SYS_connect, fd, (struct sockaddr *)&a, sizeof(a)) : connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	uint64_t w0 = pull_thread_ns();
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	while (!(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		if (syscall(SYS_ppoll, &p, 1, NULL, NULL, 0) < 0 && errno != EINTR)
			return -1;
	t0 += pull_thread_ns() - w0;
	size_t off = 0;
	long total = 0, r;
	while ((r = raw ? one_read(fd, w, size, &off, buf, 1, mapped) : (long)read(fd, buf, size)) > 0)
		total += r;
	raw ? syscall(SYS_close, fd) : close(fd);
	*ns = pull_thread_ns() - t0;
	return total;
}

/* --seq N --ab: N connections, libc's and the floor's in turn (pairs
 * starting each way in turn, as zcrecv --seq --ab alternates). */
static int seq_ab(const char *host, int port, int n, struct zcwin_win *w, size_t size, uint8_t *buf)
{
	uint64_t ns[2] = { 0, 0 }, bytes[2] = { 0, 0 }, mapped = 0, untimed = 0;
	/* The first connection each way untimed (c -2, -1): the process's
	 * one-time costs (libc's lazy binding, the shim's first use of its
	 * tables, the window's first pages) are not a connection's. */
	for (int c = -2; c < n; c++) {
		int raw = c < 0 ? c + 2 : (c & 1) ^ ((c >> 1) & 1);
		uint64_t t;
		long got = one_conn(host, port, raw, w, size, buf, &t, c < 0 ? &untimed : &mapped);
		if (got < 0) {
			perror("zcfloor: connection");
			return 1;
		}
		if (c < 0)
			continue;
		ns[raw] += t;
		bytes[raw] += (uint64_t)got;
	}
	printf("ab_hooked_ns=%llu ab_hooked_bytes=%llu ab_raw_ns=%llu ab_raw_bytes=%llu ab_raw_mapped=%llu bytes=%llu "
	       "conns=%d\n",
	       (unsigned long long)ns[0], (unsigned long long)bytes[0], (unsigned long long)ns[1],
	       (unsigned long long)bytes[1], (unsigned long long)mapped, (unsigned long long)(bytes[0] + bytes[1]), n);
	return 0;
}

int main(int argc, char **argv)
{
	int port = 0, copy = 0, ab = 0, seq = 0;
	uint64_t pull = 0;
	const char *host = "127.0.0.1";
	size_t size = 1u << 20, window = 2u << 20;
	static const struct option longs[] = {
		{ "port", required_argument, NULL, 'p' },   { "host", required_argument, NULL, 'H' },
		{ "size", required_argument, NULL, 's' },   { "window", required_argument, NULL, 'w' },
		{ "touch", required_argument, NULL, 't' },  { "pull", required_argument, NULL, 'P' },
		{ "ab", no_argument, NULL, 'a' },           { "seq", required_argument, NULL, 'S' },           { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] = "usage: zcfloor --port P [--host ADDR] [--size 1M] [--touch none|copy|sum] [--window 2M]\n"
				  "       zcfloor --port P --pull N --ab [--size 1M] [--window 2M]\n"
				  "       zcfloor --port P --seq N --ab [--size 1M] [--window 2M]\n";
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'H': host = optarg; break;
		case 's':
		case 'w':
			if (size_parse(optarg, PAGE, 1u << 30, &v)) {
				fprintf(stderr, "zcfloor: --%s takes 4K to 1G, not \"%s\"\n", c == 's' ? "size" : "window", optarg);
				return 2;
			}
			*(c == 's' ? &size : &window) = (size_t)v;
			break;
		case 'P':
			if (size_parse(optarg, PAGE, 1u << 30, &pull)) {
				fprintf(stderr, "zcfloor: --pull takes 4K to 1G, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'a': ab = 1; break;
		case 'S': seq = atoi(optarg); break;
		case 't':
			copy = !strcmp(optarg, "copy") ? 1 : !strcmp(optarg, "sum") ? 2 : !strcmp(optarg, "none") ? 0 : -1;
			if (copy < 0) {
				fputs(use, stderr);
				return 2;
			}
			break;
		case 'V': printf("zcfloor %s\n", ZCSHIM_VERSION); return 0;
		case 'h': fputs(use, stdout); return 0;
		default: fputs(use, stderr); return 2;
		}
	}
	if (optind < argc || port <= 0 || seq < 0 || (ab && !pull == !seq) || (!ab && (pull || seq))) {
		fputs(use, stderr);
		return 2;
	}
	zcwin_configure(window);
	if (!zcwin_kernel()->supported) {
		fprintf(stderr, "zcfloor: no TCP_ZEROCOPY_RECEIVE here\n");
		return 1;
	}
	int fd = seq ? 0 : connect_to(host, port, (int)(pull * 2));
	struct zcwin_win *w = zcwin_acquire();
	uint8_t *buf = aligned_alloc(PAGE, size);
	if (fd < 0 || !w || !buf) {
		perror("zcfloor");
		return 1;
	}
	memset(buf, 0, size);
	if (seq)
		return seq_ab(host, port, seq, w, size, buf);
	if (ab)
		return pull_ab(fd, w, size, buf, (uint32_t)pull);
	uint64_t total = 0, mapped = 0;
	size_t off = 0;
	long got;
	while ((got = one_read(fd, w, size, &off, buf, copy, &mapped)) >= 0)
		total += (uint64_t)got;
	printf("bytes=%llu mapped=%llu sum=%016llx\n", (unsigned long long)total, (unsigned long long)mapped,
	       (unsigned long long)checksum);
	return 0;
}
