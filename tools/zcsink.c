/*
 * zcsink - land one TCP stream in a file (or stdout) straight from the
 * kernel's pages: zcshim_recv() lends the received pages in place and
 * write() copies them once, into the page cache or the pipe.  A plain
 * receiver copies twice (recv into a buffer, then write).
 *
 *   zcsink (--listen PORT | --connect HOST:PORT) [-o FILE|-] [--size 1M] [-q] [--copy]
 *
 * --listen accepts one connection on PORT (0: any; the port is printed as
 * "PORT N" on stderr first), --connect connects out.  -o - (the default)
 * writes to stdout.  At the end it prints bytes, the share mapped (from
 * the shim's own counters) and MB/s on stderr, unless -q.  Exit 0 when
 * the stream ended cleanly and every byte was written.
 *
 * Pages map only when the sender makes them mappable (README, "When data
 * can be mapped"); otherwise zcsink still works, through one extra copy.
 * --copy receives with recv() into a buffer of --size instead, the plain
 * way, for comparison (zcbench).  Linked with libzcshim.so (it needs no
 * LD_PRELOAD).
 */
#define _GNU_SOURCE
#ifndef ZCSHIM_VERSION
#define ZCSHIM_VERSION "unknown"
#endif
#include "size.h"
#include "segread.h"
#include "statdir.h"
#include "zcshim.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listen_one(const char *port)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	socklen_t n = sizeof(a);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &n))
		return -1;
	fprintf(stderr, "PORT %d\n", ntohs(a.sin_port));
	fflush(stderr);
	int fd = accept(l, NULL, NULL);
	close(l);
	return fd;
}

static int connect_to(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = 0;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -1;
	int fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* This process's share of mapped bytes, from its own statistics segment
 * (-1: none to be found, e.g. ZCSHIM_DISABLE).  (A test run in CI read
 * 0.00% from a segment an earlier process with the same pid had left.) */
static double mapped_pct(void)
{
	char dir[512], path[1024], prefix[32];
	if (statdir_find(dir, sizeof(dir), getenv("ZCSHIM_STATS_DIR"), getenv("XDG_RUNTIME_DIR")) < 0)
		return -1;
	snprintf(prefix, sizeof(prefix), "%d-", (int)getpid());
	DIR *d = opendir(dir);
	struct dirent *de;
	double pct = -1;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		struct segview v;
		char err[128];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (segread_open(path, -1, &v, err, sizeof(err)))
			continue;
		/* Ours, mapped in this process now: not a segment left behind
		 * by an earlier process that had this pid. */
		if (!segread_live(&v)) {
			segread_close(&v);
			continue;
		}
		struct segfmt_counters t;
		segread_totals(&v, &t);
		segread_close(&v);
		if (t.bytes_mapped + t.bytes_copied)
			pct = 100.0 * (double)t.bytes_mapped / (double)(t.bytes_mapped + t.bytes_copied);
	}
	if (d)
		closedir(d);
	return pct;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *lport = NULL, *peer = NULL, *out = "-";
	size_t size = 1u << 20;
	int quiet = 0, copy = 0;
	static const struct option longs[] = {
		{ "listen", required_argument, NULL, 'L' }, { "connect", required_argument, NULL, 'C' },
		{ "output", required_argument, NULL, 'o' }, { "size", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },	    { "copy", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },	    { NULL, 0, NULL, 0 },
	};
	static const char use[] = "usage: zcsink (--listen PORT | --connect HOST:PORT) [-o FILE|-] [--size 1M] [-q] [--copy]\n";
	int c;
	uint64_t sz;
	while ((c = getopt_long(argc, argv, "o:qh", longs, NULL)) != -1) {
		switch (c) {
		case 'L': lport = optarg; break;
		case 'C': peer = optarg; break;
		case 'o': out = optarg; break;
		case 's':
			if (size_parse(optarg, 1, 1u << 30, &sz)) {
				fprintf(stderr, "zcsink: --size takes 1 to 1G, not \"%s\"\n", optarg);
				return 2;
			}
			size = (size_t)sz;
			break;
		case 'q': quiet = 1; break;
		case 'c': copy = 1; break;
		case 'V': printf("zcsink %s\n", ZCSHIM_VERSION); return 0;
		case 'h': fputs(use, stdout); return 0;
		default: fputs(use, stderr); return 2;
		}
	}
	if (optind < argc) {
		fputs(use, stderr);
		return 2;
	}
	if (!!lport == !!peer || !size) {
		fprintf(stderr, "zcsink: give one of --listen and --connect\n");
		return 2;
	}
	int ofd = strcmp(out, "-") ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 1;
	int fd = lport ? listen_one(lport) : connect_to(peer);
	if (ofd < 0 || fd < 0) {
		fprintf(stderr, "zcsink: %s: %s\n", ofd < 0 ? out : lport ? "accept" : peer, strerror(errno));
		return 1;
	}
	double t0 = now();
	unsigned long long total = 0;
	const void *p;
	ssize_t n;
	char *buf = copy ? malloc(size) : NULL;
	while ((n = copy ? recv(fd, buf, size, 0) : zcshim_recv(fd, &p, size, 0)) > 0 || (n < 0 && errno == EINTR)) {
		if (copy)
			p = buf;
		if (n > 0 && write_all(ofd, p, (size_t)n)) {
			fprintf(stderr, "zcsink: write %s: %s\n", out, strerror(errno));
			return 1;
		}
		total += n > 0 ? (unsigned long long)n : 0;
	}
	int rerr = n < 0 ? errno : 0;
	double secs = now() - t0;
	zcshim_release(fd);
	close(fd);
	if (ofd != 1 && close(ofd)) {
		fprintf(stderr, "zcsink: close %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (!quiet) {
		double pct = mapped_pct();
		char m[32] = "?";
		if (pct >= 0)
			snprintf(m, sizeof(m), "%.2f%%", pct);
		fprintf(stderr, "zcsink: %llu bytes, %s mapped, %.0f MB/s%s%s\n", total, m,
			secs > 0 ? (double)total / 1e6 / secs : 0, rerr ? ", ended by " : "", rerr ? strerror(rerr) : "");
	}
	return rerr ? 1 : 0;
}
