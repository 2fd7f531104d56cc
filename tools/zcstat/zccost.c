/*
 * zccost.c - what a mapped read and a copied read cost on this host, by a
 * short loopback self-test (zcstat doctor, when no process under
 * ZCSHIM_MODE=auto has measured it).
 *
 * A sender thread sends ZCC_BYTES with MSG_ZEROCOPY at MSS 4108 (every
 * segment one whole page, so everything maps); the calling thread
 * receives it once the way the shim serves a read (map a window with
 * TCP_ZEROCOPY_RECEIVE, copy the pages out) and once with recv(), and
 * its own CPU time is taken for each.  Rounds alternate; medians.
 */
#define _GNU_SOURCE
#include "zccost.h"
#include "kzc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ZCC_BYTES (32u << 20)
#define ZCC_READ (1u << 20)
#define ZCC_WINDOW (2u << 20)
#define ZCC_CHUNK (256u << 10)
#define ZCC_ROUNDS 3

struct sender {
	int fd;
	const char *data;
};

static void *send_all(void *arg)
{
	struct sender *s = arg;
	int on = 1;
	int flags = setsockopt(s->fd, SOL_SOCKET, SO_ZEROCOPY, &on, sizeof(on)) ? 0 : MSG_ZEROCOPY;
	/* Each byte of the buffer is sent once and never written again, so
	 * the completions need not be awaited before the next send. */
	for (size_t off = 0; off < ZCC_BYTES;) {
		ssize_t n = send(s->fd, s->data + off, ZCC_CHUNK, flags);
		if (n < 0 && errno == ENOBUFS)
			n = send(s->fd, s->data + off, ZCC_CHUNK, 0);
		if (n < 0 && errno != EINTR)
			break;
		off += n > 0 ? (size_t)n : 0;
	}
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

static double thread_cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A connected pair on loopback, the accepted end at MSS 4108. */
static int pair(int *rx, int *tx)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), mss = 4108, r = 0;
	*rx = *tx = -1;
	if (l < 0)
		return -errno;
	setsockopt(l, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &al) ||
	    (*rx = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 || connect(*rx, (struct sockaddr *)&a, sizeof(a)) ||
	    (*tx = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		r = -errno;
		if (*rx >= 0)
			close(*rx);
	}
	close(l);
	return r;
}

/* Map a window, copy what mapped into buf, recv() what did not.  The
 * next call at the same address zaps the pages of the last. */
static int mapped_read_all(int fd, unsigned optlen, char *buf, uint64_t *mapped)
{
	void *win = mmap(NULL, ZCC_WINDOW, PROT_READ, MAP_SHARED, fd, 0);
	if (win == MAP_FAILED)
		return -errno;
	int r = 0;
	for (;;) {
		struct tcp_zerocopy_receive zc = { .address = (uint64_t)(uintptr_t)win, .length = ZCC_READ };
		socklen_t len = optlen;
		if (getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &len)) {
			if (errno != EIO)
				r = -errno;
			break;	/* EIO: end of stream */
		}
		if (zc.length) {
			memcpy(buf, win, zc.length);
			*mapped += zc.length;
			continue;
		}
		if (!zc.recv_skip_hint) {	/* nothing queued yet (EOF is EIO) */
			struct pollfd p = { .fd = fd, .events = POLLIN };
			poll(&p, 1, -1);
			continue;
		}
		size_t want = zc.recv_skip_hint < ZCC_READ ? zc.recv_skip_hint : ZCC_READ;
		ssize_t n = recv(fd, buf, want, 0);
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
	}
	munmap(win, ZCC_WINDOW);
	return r;
}

static int copied_read_all(int fd, char *buf)
{
	ssize_t n;
	while ((n = recv(fd, buf, ZCC_READ, 0)) > 0)
		;
	return n < 0 ? -errno : 0;
}

/* One transfer; CPU ms of this thread for it. */
static int round_ms(int mapped_way, unsigned optlen, const char *data, char *buf, double *ms, uint64_t *mapped)
{
	int rx, tx, r = pair(&rx, &tx);
	if (r)
		return r;
	struct sender s = { tx, data };
	pthread_t t;
	if ((r = pthread_create(&t, NULL, send_all, &s))) {
		close(rx), close(tx);
		return -r;
	}
	double t0 = thread_cpu_ms();
	r = mapped_way ? mapped_read_all(rx, optlen, buf, mapped) : copied_read_all(rx, buf);
	*ms = thread_cpu_ms() - t0;
	pthread_join(t, NULL);
	close(rx), close(tx);
	return r;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int zccost_measure(struct zccost *out)
{
	struct kzc_info k;
	kzc_probe(&k);
	memset(out, 0, sizeof(*out));
	if (!k.supported)
		return -(k.why ? k.why : ENOPROTOOPT);
	char *data = mmap(NULL, ZCC_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf = malloc(ZCC_READ);
	if (data == MAP_FAILED || !buf) {
		free(buf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ZCC_BYTES; i += 4096)
		memset(data + i, (int)(i >> 12), 4096);
	double mms[ZCC_ROUNDS], cms[ZCC_ROUNDS], warm;
	uint64_t mapped = 0;
	int r = round_ms(1, k.optlen, data, buf, &warm, &mapped);	/* warm-up */
	mapped = 0;
	for (int i = 0; !r && i < ZCC_ROUNDS; i++) {
		r = round_ms(1, k.optlen, data, buf, &mms[i], &mapped);
		if (!r)
			r = round_ms(0, k.optlen, data, buf, &cms[i], &mapped);
	}
	munmap(data, ZCC_BYTES);
	free(buf);
	if (r)
		return r;
	qsort(mms, ZCC_ROUNDS, sizeof(double), cmp_d);
	qsort(cms, ZCC_ROUNDS, sizeof(double), cmp_d);
	double mib = (double)ZCC_BYTES / (1 << 20);
	out->map_ms_per_mib = mms[ZCC_ROUNDS / 2] / mib;
	out->copy_ms_per_mib = cms[ZCC_ROUNDS / 2] / mib;
	out->mapped_pct = 100.0 * (double)mapped / ((double)ZCC_BYTES * ZCC_ROUNDS);
	out->mib = mib;
	return 0;
}
