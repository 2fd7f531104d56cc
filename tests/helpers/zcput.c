/*
 * zcput - a client that uploads the pattern stream to a daemon (redis,
 * nginx...) the way a fast sender would, and checks what comes back.
 *
 *   zcput --port P [--mode plain|zerocopy] [--mss 4108] --bytes N
 *         [--head STR] [--tail STR] [--expect STR]
 *   zcput --port P --fetch-head STR --bytes N [--skip-to STR]
 *
 * Upload: connects to 127.0.0.1:P, sends STR (the request up to the body;
 * "\r" and "\n" in it are taken as CR and LF), then N bytes of the pattern
 * stream (pattern.h) with plain send() or MSG_ZEROCOPY (its completions
 * read from the error queue before the buffer is let go), then the tail,
 * then reads the reply until it holds --expect (exit 0, "reply ok") or the
 * connection ends (exit 1, the reply printed).
 * Fetch: sends STR, skips the reply up to and including --skip-to, then
 * checks the next N bytes against the pattern ("fetched N ok").
 * The body's bytes are the stream's from offset 0, so the daemon's copy is
 * checked byte for byte wherever it lands.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

#include <getopt.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <sys/mman.h>

/* "\r" and "\n" as the two characters each (kept for the process's life). */
static char *unescape(const char *s)
{
	static char pool[8][4096];
	static int used;
	if (strlen(s) >= sizeof(pool[0]) || used == 8)
		die("argument too long, or too many");
	char *o = pool[used++], *p = o;
	for (; *s; s++) {
		if (s[0] == '\\' && (s[1] == 'r' || s[1] == 'n')) {
			*p++ = s[1] == 'r' ? '\r' : '\n';
			s++;
		} else {
			*p++ = *s;
		}
	}
	*p = 0;
	return o;
}

/* Waits until every MSG_ZEROCOPY send up to id has completed. */
static void reap_all(int fd, uint32_t sends)
{
	uint32_t done = 0;
	while (done < sends) {
		char ctl[128];
		struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		if (recvmsg(fd, &m, MSG_ERRQUEUE) < 0) {
			struct pollfd p = { .fd = fd, .events = 0 };
			poll(&p, 1, 100);
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err *e = (struct sock_extended_err *)CMSG_DATA(c);
			if (e->ee_origin == SO_EE_ORIGIN_ZEROCOPY)
				done += e->ee_data - e->ee_info + 1;
		}
	}
}

static void send_body(int fd, uint64_t n, int zerocopy)
{
	size_t chunk = 1u << 20;
	uint8_t *b = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	pat_fill(b, 0, n);
	uint32_t sends = 0;
	for (uint64_t at = 0; at < n;) {
		size_t len = n - at < chunk ? (size_t)(n - at) : chunk;
		ssize_t w = send(fd, b + at, len, zerocopy ? MSG_ZEROCOPY : 0);
		if (w < 0 && (errno == EINTR || errno == ENOBUFS)) {
			if (errno == ENOBUFS)
				reap_all(fd, sends);
			continue;
		}
		if (w < 0)
			die("send: %s", strerror(errno));
		sends += zerocopy;
		at += (uint64_t)w;
	}
	if (zerocopy)
		reap_all(fd, sends);
	munmap(b, n ? n : 1);
}

/* Reads until the reply holds want (1) or the peer ends it (0). */
static int await(int fd, const char *want, char *buf, size_t cap)
{
	size_t have = 0;
	while (have < cap - 1) {
		ssize_t r = read(fd, buf + have, cap - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		if (strstr(buf, want))
			return 1;
	}
	buf[have] = 0;
	return 0;
}

static int fetch(int fd, const char *skip_to, uint64_t n)
{
	char c, tail[64] = { 0 };
	size_t sl = strlen(skip_to), k = 0;
	while (k < sl || memcmp(tail + sizeof(tail) - 1 - sl, skip_to, sl)) {
		if (read(fd, &c, 1) != 1)
			die("the reply ended before \"%s\"", skip_to);
		memmove(tail, tail + 1, sizeof(tail) - 2);
		tail[sizeof(tail) - 2] = c;
		k++;
	}
	uint8_t *b = malloc(1 << 20);
	for (uint64_t at = 0; at < n;) {
		size_t want = n - at < (1u << 20) ? (size_t)(n - at) : (1u << 20);
		ssize_t r = read(fd, b, want);
		if (r <= 0)
			die("fetched %llu of %llu bytes", (unsigned long long)at, (unsigned long long)n);
		if (pat_check(b, at, (size_t)r) != (size_t)r)
			die("fetched bytes differ near offset %llu", (unsigned long long)at);
		at += (uint64_t)r;
	}
	printf("fetched %llu ok\n", (unsigned long long)n);
	return 0;
}

int main(int argc, char **argv)
{
	int port = 0, mss = 0, zerocopy = 0, c;
	uint64_t n = 0;
	const char *head = "", *tail = "", *expect = NULL, *fetch_head = NULL, *skip_to = NULL;
	static const struct option longs[] = {
		{ "port", required_argument, NULL, 'p' },	{ "mode", required_argument, NULL, 'm' },
		{ "mss", required_argument, NULL, 'M' },	{ "bytes", required_argument, NULL, 'b' },
		{ "head", required_argument, NULL, 'h' },	{ "tail", required_argument, NULL, 't' },
		{ "expect", required_argument, NULL, 'e' },	{ "fetch-head", required_argument, NULL, 'f' },
		{ "skip-to", required_argument, NULL, 's' },	{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'm': zerocopy = !strcmp(optarg, "zerocopy"); break;
		case 'M': mss = atoi(optarg); break;
		case 'b': n = parse_size(optarg); break;
		case 'h': head = unescape(optarg); break;
		case 't': tail = unescape(optarg); break;
		case 'e': expect = unescape(optarg); break;
		case 'f': fetch_head = unescape(optarg); break;
		case 's': skip_to = unescape(optarg); break;
		default: die("usage: zcput --port P [--mode plain|zerocopy] [--mss N] --bytes N [--head S] [--tail S] "
			     "[--expect S] | --fetch-head S --skip-to S --bytes N");
		}
	}
	if (!port)
		die("need --port");
	int fd = connect_loopback(port, mss);
	if (fetch_head) {
		write_all(fd, fetch_head, strlen(fetch_head));
		return fetch(fd, skip_to ? skip_to : "", n);
	}
	int one = 1;
	if (zerocopy && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY: %s", strerror(errno));
	write_all(fd, head, strlen(head));
	send_body(fd, n, zerocopy);
	write_all(fd, tail, strlen(tail));
	char reply[4096];
	if (!expect) {
		shutdown(fd, SHUT_WR);
		await(fd, "\x01never", reply, sizeof(reply));
		printf("%s", reply);
		return 0;
	}
	if (await(fd, expect, reply, sizeof(reply))) {
		printf("reply ok\n");
		return 0;
	}
	printf("reply without \"%s\": %s\n", expect, reply);
	return 1;
}
