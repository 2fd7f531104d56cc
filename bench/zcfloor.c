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
 * mapped read of that size would.  What cannot be mapped (the straggler
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
 */
#define _GNU_SOURCE
#ifndef ZCSHIM_VERSION
#define ZCSHIM_VERSION "unknown"
#endif
#include "size.h"
#include "page.h"
#include "zcwin.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static int connect_to(const char *host, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	return fd;
}

/* One read's worth: -1 at EOF or error, else bytes taken.  The call is the
 * shim's own (zcwin_receive): no copybuf, so an unmappable straggler is
 * copied by a recv of its own, as the shim copies it. */
static uint64_t checksum;

static long one_read(int fd, struct zcwin_win *w, size_t size, uint8_t *buf, int copy, uint64_t *mapped)
{
	size_t want = size < w->size ? size : w->size, map = want & ~(size_t)(PAGE - 1);
	struct tcp_zerocopy_receive zc;
	const uint8_t *data;
	if (zcwin_receive(fd, w, map, &zc, &data))
		return -1;	/* EIO: EOF */
	if (copy == 1 && zc.length)
		memcpy(buf, data, zc.length);
	if (copy == 2)
		for (size_t i = 0; i + 8 <= zc.length; i += 8)
			checksum += *(const uint64_t *)(data + i);
	*mapped += zc.length;
	long got = (long)zc.length;
	if (!got) {
		/* Nothing mapped: copy what must be skipped, or wait. */
		size_t n = zc.recv_skip_hint && zc.recv_skip_hint < size ? zc.recv_skip_hint : size;
		ssize_t t = recv(fd, buf, n, zc.recv_skip_hint || zc.inq ? 0 : MSG_PEEK);
		if (t <= 0)
			return -1;
		got = zc.recv_skip_hint || zc.inq ? t : 0;
	}
	if (zc.inq == 0)
		zcwin_settle(w);
	return got;
}

int main(int argc, char **argv)
{
	int port = 0, copy = 0;
	const char *host = "127.0.0.1";
	size_t size = 1u << 20, window = 2u << 20;
	static const struct option longs[] = {
		{ "port", required_argument, NULL, 'p' },   { "host", required_argument, NULL, 'H' },
		{ "size", required_argument, NULL, 's' },   { "window", required_argument, NULL, 'w' },
		{ "touch", required_argument, NULL, 't' },  { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] = "usage: zcfloor --port P [--host ADDR] [--size 1M] [--touch none|copy|sum] [--window 2M]\n";
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
	if (optind < argc || port <= 0) {
		fputs(use, stderr);
		return 2;
	}
	zcwin_configure(window);
	if (!zcwin_kernel()->supported) {
		fprintf(stderr, "zcfloor: no TCP_ZEROCOPY_RECEIVE here\n");
		return 1;
	}
	int fd = connect_to(host, port);
	struct zcwin_win *w = zcwin_acquire();
	uint8_t *buf = malloc(size);
	if (fd < 0 || !w || !buf) {
		perror("zcfloor");
		return 1;
	}
	memset(buf, 0, size);
	uint64_t total = 0, mapped = 0;
	long got;
	while ((got = one_read(fd, w, size, buf, copy, &mapped)) >= 0)
		total += (uint64_t)got;
	printf("bytes=%llu mapped=%llu sum=%016llx\n", (unsigned long long)total, (unsigned long long)mapped,
	       (unsigned long long)checksum);
	return 0;
}
