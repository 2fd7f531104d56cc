/*
 * zcrecv - verifying receiver: reads a pattern stream (pattern.h) through a
 * chosen libc call until EOF and checks every byte.
 *
 *   zcrecv (--port P | --fd N) [--api read|recv|recvfrom|readv|recvmsg|read_chk]
 *          [--size 1M] [--iov 4] [--mss 4108] [--waitall] [--threads T [--mixed]]
 *          [--expect BYTES] [--offset N] [--http] [--no-check]
 *
 * Prints "bytes=N ok" and exits 0 when the stream is intact, else prints
 * where it broke and exits 1.  --fd reads an inherited socket (exec test).
 * --threads T reads one socket from T threads at once; each chunk is
 * located in the stream and the union must be every byte exactly once.
 * --mixed: every other thread reads 3000 bytes at a time (below
 * ZCSHIM_MIN_READ: a pass-through read beside the mapped ones).
 * --host ADDR connects to ADDR instead of 127.0.0.1.
 * Fault modes: --signals-us N (a SIGALRM every N us, SA_RESTART unless
 * --no-restart; reads retry on EINTR), --fill-fds (use up every fd below a
 * limit of 64 after connecting), --as-limit-mb N (cap the address space at
 * N MiB above current use).
 * --accept N (no --port) is a server taking N connections one after
 * another (prints "PORT p" first).
 * --seq N makes N connections one after another, each read to its end
 * (checked from offset 0) and closed: short connections.  With --ab, two
 * more run first, untimed (one through libc, one raw); --accept N --ab
 * leaves the client's first two untimed.
 * --conns N --epoll connects N sockets and reads them all from one epoll
 * loop (non-blocking, level-triggered) until every one reaches EOF, each
 * checked from offset 0, and prints the peak RssFile it saw.
 * --http sends a GET and skips the response headers; --skip-headers only
 * skips them (an HTTP response arriving on a pipe).  --no-check skips the
 * content check (benchmarks: measure the receive, not the check).
 * --pull N (against `zcsend --pull`): asks for N bytes at a time, waits
 * until they are all queued on the socket (or the stream has ended), then
 * reads them, and prints the thread CPU time the reading took
 * ("drain_ns=T"): the receiver's own cost, with no sender work landing on
 * its CPU meanwhile (zcbench's queued rows).  The receive buffer is made
 * large enough for N (SO_RCVBUFFORCE where allowed).  --ab (with --pull):
 * alternates blocks of reads (256K a block) between the hooked call and a
 * raw syscall(SYS_read), which no hook sees, and prints the thread CPU
 * time per byte of each ("ab_hooked_ns=T ab_hooked_bytes=B ab_raw_ns=..
 * ab_raw_bytes=.."): the same stream, the same moment, in one process, so
 * drift and the VM's noise fall on both alike.  The shim is not
 * linked in: run it under LD_PRELOAD or zcstat.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"
#include "pull.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/uio.h>

/* The symbol fortified builds call; declared here so this file can call
 * it directly without depending on the fortify level. */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);

enum api { A_READ, A_RECV, A_RECVFROM, A_READV, A_RECVMSG, A_READ_CHK };

static enum api api = A_READ;
static size_t rsize = 1u << 20;
static int iovn = 1, waitall, nocheck;
static volatile long signals_seen;

static void on_alarm(int sig)
{
	(void)sig;
	signals_seen++;
}

/* A timer signal every us microseconds for the whole transfer. */
static void signal_storm(long us, int restart)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0 };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, us }, { 0, us } };
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Uses up every fd below the limit: the shim cannot open sockets of its own. */
static void fill_fds(void)
{
	struct rlimit rl = { 64, 64 };
	setrlimit(RLIMIT_NOFILE, &rl);
	while (open("/dev/null", O_RDONLY) >= 0)
		;
}

/* Caps the address space just above what is mapped now. */
static void cap_address_space(long extra_mb)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long vm = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %ld kB", &vm) == 1)
			break;
	if (f)
		fclose(f);
	struct rlimit rl = { (rlim_t)(vm + extra_mb * 1024) * 1024, (rlim_t)(vm + extra_mb * 1024) * 1024 };
	setrlimit(RLIMIT_AS, &rl);
}

static void request_and_wait(int fd, uint32_t n)
{
	int r = pull_request(fd, n);
	if (r)
		die("pull request: %s", strerror(-r));
}

static int ab_raw;	/* --ab: this block bypasses every hook */

static ssize_t do_recv(int fd, uint8_t *buf, size_t n)
{
	if (ab_raw)
		return syscall(SYS_read, fd, buf, n);
	struct iovec v[64];
	size_t per = n / (size_t)iovn, at = 0;
	for (int i = 0; i < iovn; i++) {
		v[i].iov_base = buf + at;
		v[i].iov_len = i == iovn - 1 ? n - at : per;
		at += v[i].iov_len;
	}
	int fl = waitall ? MSG_WAITALL : 0;
	switch (api) {
	case A_READ: return read(fd, buf, n);
	case A_READ_CHK: return __read_chk(fd, buf, n, n);
	case A_RECV: return recv(fd, buf, n, fl);
	case A_RECVFROM: {
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);
		return recvfrom(fd, buf, n, fl, (struct sockaddr *)&ss, &l);
	}
	case A_READV: return readv(fd, v, iovn);
	default: {
		struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)iovn };
		return recvmsg(fd, &m, fl);
	}
	}
}

/* ---- threaded mode: record where each chunk came from ---- */

struct piece { uint64_t off, len; };
static struct piece *pieces;
static size_t npieces, cap_pieces;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int sock, bad;

/* Where the runs of a bad chunk came from, for the failure message. */
static void describe_runs(const uint8_t *buf, size_t n)
{
	for (size_t at = 0, runs = 0; at + 16 <= n && runs < 8; runs++) {
		uint64_t off;
		if (pat_locate(buf + at, n - at, &off)) {
			fprintf(stderr, "  [%zu..): not the stream\n", at);
			return;
		}
		size_t len = pat_check(buf + at, off, n - at);
		fprintf(stderr, "  [%zu, %zu): stream bytes from %llu\n", at, at + len, (unsigned long long)off);
		at += len;
	}
}

static int mixed;

/* A chunk too short to locate (under 16 bytes): kept to fill a gap of its
 * exact length and content. */
struct tiny { uint8_t b[16]; size_t len; int used; };
static struct tiny tinies[64];
static size_t ntiny;

static int keep_tiny(const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&mu);
	int ok = ntiny < sizeof(tinies) / sizeof(tinies[0]);
	if (ok) {
		memcpy(tinies[ntiny].b, buf, n);
		tinies[ntiny++].len = n;
	}
	pthread_mutex_unlock(&mu);
	return ok;
}

/* 1 if an unused tiny chunk is exactly stream bytes [at, at + len). */
static int tiny_fills(uint64_t at, uint64_t len)
{
	for (size_t i = 0; i < ntiny; i++)
		if (!tinies[i].used && tinies[i].len == len && pat_check(tinies[i].b, at, len) == len)
			return tinies[i].used = 1;
	return 0;
}

static void *reader(void *arg)
{
	size_t size = mixed && ((uintptr_t)arg & 1) ? 3000 : rsize;
	uint8_t *buf = malloc(size);
	for (;;) {
		ssize_t r = do_recv(sock, buf, size);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		uint64_t off;
		if (r < 16 && keep_tiny(buf, (size_t)r))
			continue;
		if (pat_locate(buf, (size_t)r, &off) || pat_check(buf, off, (size_t)r) != (size_t)r) {
			__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
			fprintf(stderr, "zcrecv: chunk of %zd bytes is not a contiguous run of the stream\n", r);
			describe_runs(buf, (size_t)r);
			continue;
		}
		pthread_mutex_lock(&mu);
		if (npieces == cap_pieces) {
			cap_pieces = cap_pieces ? cap_pieces * 2 : 1024;
			pieces = realloc(pieces, cap_pieces * sizeof(*pieces));
		}
		pieces[npieces++] = (struct piece){ off, (uint64_t)r };
		pthread_mutex_unlock(&mu);
	}
	free(buf);
	return NULL;
}

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int threaded(int fd, int nthreads, uint64_t expect)
{
	pthread_t th[64];
	sock = fd;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	qsort(pieces, npieces, sizeof(*pieces), cmp_piece);
	uint64_t at = 0;
	for (size_t i = 0; i < npieces; i++) {
		if (pieces[i].off > at && tiny_fills(at, pieces[i].off - at))
			at = pieces[i].off;
		if (pieces[i].off != at) {
			printf("gap or overlap at %llu (next piece at %llu)\n",
			       (unsigned long long)at, (unsigned long long)pieces[i].off);
			return 1;
		}
		at += pieces[i].len;
	}
	if (expect > at && tiny_fills(at, expect - at))
		at = expect;
	if (bad || (expect && at != expect)) {
		printf("bytes=%llu expected=%llu bad=%d\n", (unsigned long long)at,
		       (unsigned long long)expect, bad);
		return 1;
	}
	printf("bytes=%llu ok pieces=%zu\n", (unsigned long long)at, npieces);
	return 0;
}

/* Many connections, one epoll loop: the server pattern the shim must not
 * slow down or bloat. */
static int many(int port, int n, uint64_t expect)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t *at = calloc((size_t)n, sizeof(*at));
	int *fds = calloc((size_t)n, sizeof(*fds));
	for (int i = 0; i < n; i++) {
		fds[i] = connect_loopback(port, 0);
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	uint8_t *buf = malloc(rsize);
	long peak = rss_file_kb();
	uint64_t total = 0, reads = 0;
	int open = n, bad = 0;
	while (open) {
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, -1);
		for (int j = 0; j < k; j++) {
			int i = (int)evs[j].data.u32;
			ssize_t r = read(fds[i], buf, rsize);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				close(fds[i]);
				open--;
				if (expect && at[i] != expect)
					bad = 1;
				continue;
			}
			if (!nocheck && pat_check(buf, at[i], (size_t)r) != (size_t)r)
				bad = 1;
			at[i] += (uint64_t)r;
			total += (uint64_t)r;
			if (++reads % 256 == 0) {
				long v = rss_file_kb();
				if (v > peak)
					peak = v;
			}
		}
	}
	printf("bytes=%llu %s conns=%d rssfile_peak_kb=%ld\n", (unsigned long long)total, bad ? "BROKEN" : "ok", n,
	       peak);
	return bad;
}

static void skip_http_headers(int fd, int send_request)
{
	const char *req = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
	if (send_request)
		write_all(fd, req, strlen(req));
	/* Byte at a time, so not one byte of the body is consumed here. */
	char last[4] = { 0 };
	for (;;) {
		char c;
		if (read(fd, &c, 1) != 1)
			die("EOF in response headers");
		memmove(last, last + 1, 3);
		last[3] = c;
		if (!memcmp(last, "\r\n\r\n", 4))
			return;
	}
}

/* ---- short connections (--seq, --accept) ----------------------------- */

/* With ab: until the peer's FIN has arrived (all its data queued), a
 * wait the connection's timing leaves out: the thread CPU it took. */
static uint64_t wait_all_queued(int fd, int ab)
{
	if (!ab)
		return 0;
	uint64_t w0 = pull_thread_ns();
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	while (!(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		if (syscall(SYS_ppoll, &p, 1, NULL, NULL, 0) < 0 && errno != EINTR)
			die("ppoll: %s", strerror(errno));
	return pull_thread_ns() - w0;
}

/* Before an A/B of whole connections: the buffer's pages faulted in, so
 * the first connection (always a hooked one) does not pay for them.  The
 * first connection each way is then run untimed as well: the process's
 * one-time costs (libc's lazy binding, the shim's first use of its
 * tables) are not a connection's. */
static void warm_up(uint8_t *buf)
{
	memset(buf, 0, rsize);
}

/* Reads connection c to its end, checked from offset 0, and closes it
 * (through libc, or raw with ab_raw); the bytes. */
static uint64_t drain_conn(int fd, uint8_t *buf, int c, uint64_t expect)
{
	uint64_t at = 0;
	for (;;) {
		ssize_t r = do_recv(fd, buf, rsize);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("connection %d: %s after %llu bytes", c, strerror(errno), (unsigned long long)at);
		if (r == 0)
			break;
		if (!nocheck && pat_check(buf, at, (size_t)r) != (size_t)r)
			die("connection %d: MISMATCH at %llu", c, (unsigned long long)at);
		at += (uint64_t)r;
	}
	ab_raw ? syscall(SYS_close, fd) : close(fd);
	if (expect && at != expect)
		die("connection %d: %llu bytes, expected %llu", c, (unsigned long long)at, (unsigned long long)expect);
	return at;
}

struct conn_tally {
	uint64_t total, ns[2], bytes[2];
};

/* Connection c's half of the A/B: pairs start each way in turn. */
static void conn_begin(int c, int ab)
{
	ab_raw = ab && ((c & 1) ^ ((c >> 1) & 1));
}

static void conn_end(struct conn_tally *t, uint64_t ns, uint64_t got)
{
	t->ns[ab_raw] += ns;
	t->bytes[ab_raw] += got;
	t->total += got;
}

static int conn_report(const struct conn_tally *t, int n, int ab)
{
	ab_raw = 0;
	if (ab)
		printf("ab_hooked_ns=%llu ab_hooked_bytes=%llu ab_raw_ns=%llu ab_raw_bytes=%llu ",
		       (unsigned long long)t->ns[0], (unsigned long long)t->bytes[0], (unsigned long long)t->ns[1],
		       (unsigned long long)t->bytes[1]);
	printf("bytes=%llu ok conns=%d\n", (unsigned long long)t->total, n);
	return 0;
}

/* One short connection, made through libc (hooked) or, with ab_raw,
 * through system calls no hook sees; *ns: its thread CPU, the wait for
 * its data left out. */
static uint64_t one_conn(int port, int mss, int ab, uint8_t *buf, uint64_t *ns, int c, uint64_t expect)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, helper_addr, &a.sin_addr);
	uint64_t t0 = pull_thread_ns();
	int fd = ab_raw ? (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
			: socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (helper_rcvbuf)	/* before connect: the window scale covers it */
		ab_raw ? syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUFFORCE, &helper_rcvbuf, sizeof(helper_rcvbuf))
		       : setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &helper_rcvbuf, sizeof(helper_rcvbuf));
	if (mss)
		ab_raw ? syscall(SYS_setsockopt, fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss))
		       : setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	if (ab_raw ? syscall(SYS_connect, fd, (struct sockaddr *)&a, sizeof(a)) : connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect: %s", strerror(errno));
	t0 += wait_all_queued(fd, ab);
	uint64_t got = drain_conn(fd, buf, c, expect);
	*ns = pull_thread_ns() - t0;
	return got;
}

/* --seq N: N connections one after another, each read to its end and
 * closed: a client making short connections.  With --ab, connections
 * alternate between libc and raw system calls, and the thread CPU of each
 * kind is printed as the --pull --ab rows print theirs (zcbench's conns
 * rows). */
static int sequential(int port, int mss, int n, uint64_t expect, int ab)
{
	uint8_t *buf = aligned_alloc(4096, (rsize + 4095) / 4096 * 4096);
	struct conn_tally t = { 0 };
	if (ab) {
		helper_rcvbuf = 8 << 20;	/* room for a whole connection queued */
		warm_up(buf);
		for (int c = 0; c < 2; c++) {	/* untimed: one each way */
			uint64_t ns;
			ab_raw = c;
			one_conn(port, mss, ab, buf, &ns, c, expect);
		}
	}
	for (int c = 0; c < n; c++) {
		conn_begin(c, ab);
		uint64_t ns, got = one_conn(port, mss, ab, buf, &ns, c, expect);
		conn_end(&t, ns, got);
	}
	return conn_report(&t, n, ab);
}

/* --accept N: a server.  Listens (port 0, printed as "PORT p"), accepts N
 * connections one after another, reads each to its end and closes it;
 * with --ab, libc's accept/read/close against raw system calls, timed as
 * --seq times them (zcbench's server rows). */
static int serve_seq(int mss, int n, uint64_t expect, int ab)
{
	int port, lfd = listen_loopback(mss, &port);
	if (ab) {
		int big = 8 << 20;	/* accepted sockets inherit it: room for one whole */
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	}
	printf("PORT %d\n", port);
	fflush(stdout);
	uint8_t *buf = aligned_alloc(4096, (rsize + 4095) / 4096 * 4096);
	struct conn_tally t = { 0 };
	int first = 0;
	if (ab && n > 2) {	/* the client's first two: untimed, one each way */
		warm_up(buf);
		first = 2;
	}
	for (int c = 0; c < n; c++) {
		conn_begin(c - first, ab);
		if (c < first)
			ab_raw = c;
		uint64_t t0 = pull_thread_ns();
		int fd = ab_raw ? (int)syscall(SYS_accept4, lfd, NULL, NULL, SOCK_CLOEXEC) : accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			die("accept: %s", strerror(errno));
		t0 += wait_all_queued(fd, ab);
		uint64_t got = drain_conn(fd, buf, c, expect);
		if (c >= first)
			conn_end(&t, pull_thread_ns() - t0, got);
	}
	return conn_report(&t, n - first, ab);
}

int main(int argc, char **argv)
{
	int port = 0, fd = -1, mss = 0, nthreads = 0, http = 0, nconns = 0, use_epoll = 0, restart = 1, fill = 0;
	long storm_us = 0, as_mb = 0;
	uint64_t expect = 0, off = 0, pull = 0, drain_ns = 0;
	int ab = 0, nseq = 0, naccept = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--port") && v) port = atoi(v), i++;
		else if (!strcmp(a, "--fd") && v) fd = atoi(v), i++;
		else if (!strcmp(a, "--size") && v) rsize = (size_t)parse_size(v), i++;
		else if (!strcmp(a, "--iov") && v) iovn = atoi(v), i++;
		else if (!strcmp(a, "--mss") && v) mss = atoi(v), i++;
		else if (!strcmp(a, "--threads") && v) nthreads = atoi(v), i++;
		else if (!strcmp(a, "--mixed")) mixed = 1;
		else if (!strcmp(a, "--expect") && v) expect = parse_size(v), i++;
		else if (!strcmp(a, "--offset") && v) off = parse_size(v), i++;
		else if (!strcmp(a, "--waitall")) waitall = 1;
		else if (!strcmp(a, "--http")) http = 1;
		else if (!strcmp(a, "--no-check")) nocheck = 1;
		else if (!strcmp(a, "--pull") && v) pull = parse_size(v), i++;
		else if (!strcmp(a, "--ab")) ab = 1;
		else if (!strcmp(a, "--skip-headers")) http = 2;
		else if (!strcmp(a, "--conns") && v) nconns = atoi(v), i++;
		else if (!strcmp(a, "--seq") && v) nseq = atoi(v), i++;
		else if (!strcmp(a, "--accept") && v) naccept = atoi(v), i++;
		else if (!strcmp(a, "--epoll")) use_epoll = 1;
		else if (!strcmp(a, "--host") && v) helper_addr = v, i++;
		else if (!strcmp(a, "--signals-us") && v) storm_us = atol(v), i++;
		else if (!strcmp(a, "--no-restart")) restart = 0;
		else if (!strcmp(a, "--fill-fds")) fill = 1;
		else if (!strcmp(a, "--as-limit-mb") && v) as_mb = atol(v), i++;
		else if (!strcmp(a, "--api") && v) {
			static const char *names[] = { "read", "recv", "recvfrom", "readv", "recvmsg", "read_chk" };
			int k = -1;
			for (int j = 0; j < 6; j++)
				if (!strcmp(v, names[j]))
					k = j;
			if (k < 0)
				die("unknown api %s", v);
			api = (enum api)k;
			i++;
		} else {
			die("usage: zcrecv (--port P | --fd N) [--api A] [--size N] [--iov K] [--mss N] "
			    "[--waitall] [--threads T [--mixed]] [--expect N] [--offset N] [--http] [--skip-headers] [--no-check] "
			    "[--conns N --epoll] [--seq N] [--pull N [--ab]]");
		}
	}
	if (iovn < 1 || iovn > 64)
		die("--iov must be 1..64");
	if (use_epoll && nconns > 0)
		return many(port, nconns, expect);
	if (nseq > 0)
		return sequential(port, mss, nseq, expect, ab);
	if (naccept > 0)
		return serve_seq(mss, naccept, expect, ab);
	if (pull > UINT32_MAX / 4 || (pull && fd >= 0) || (ab && !pull))
		die("--pull takes up to 1G, on a connection of its own");
	if (fd < 0) {
		if (!port)
			die("need --port, --fd or --accept");
		helper_rcvbuf = (int)(pull * 2);	/* the kernel doubles it again */
		fd = connect_loopback(port, mss);
	}
	if (http)
		skip_http_headers(fd, http == 1);
	if (fill)
		fill_fds();
	if (as_mb)
		cap_address_space(as_mb);
	if (storm_us)
		signal_storm(storm_us, restart);
	if (nthreads)
		return threaded(fd, nthreads, expect);

	/* Page-aligned, as a buffer of this size usually is: where malloc put a
	 * heap buffer depended on what else the process had allocated (the
	 * shim, or not), and the kernel's copy into it ran at different
	 * speeds with the alignment, by up to 2% (zcbench's queued rows). */
	uint8_t *buf = aligned_alloc(4096, (rsize + 4095) / 4096 * 4096);
	if (!buf)
		die("aligned_alloc");
	uint64_t at = off, burst_end = UINT64_MAX, t0 = 0, block_at = 0;
	uint64_t ab_ns[2] = { 0, 0 }, ab_bytes[2] = { 0, 0 };
	uint64_t block = rsize >= (256u << 10) ? rsize : (256u << 10) / rsize * rsize;
	for (;;) {
		if (ab && pull && (at >= burst_end || at - block_at >= block)) {
			uint64_t t = pull_thread_ns();	/* a block ends */
			ab_ns[ab_raw] += t - t0;
			ab_bytes[ab_raw] += at - block_at;
			drain_ns += t - t0;
			ab_raw = !ab_raw;
			block_at = at;
			t0 = t;
		} else if (pull && at >= burst_end) {
			drain_ns += pull_thread_ns() - t0;
		}
		if (pull && at >= burst_end)
			burst_end = UINT64_MAX;
		if (pull && burst_end == UINT64_MAX) {
			request_and_wait(fd, (uint32_t)pull);
			burst_end = at + pull;
			block_at = at;
			ab_raw = ab && !ab_raw;	/* bursts start each way in turn */
			t0 = pull_thread_ns();
		}
		ssize_t r = do_recv(fd, buf, rsize);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			printf("error after %llu bytes: %s\n", (unsigned long long)(at - off), strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		size_t k = nocheck ? (size_t)r : pat_check(buf, at, (size_t)r);
		if (k != (size_t)r) {
			printf("MISMATCH at stream offset %llu\n", (unsigned long long)(at + k));
			return 1;
		}
		at += (uint64_t)r;
	}
	uint64_t got = at - off;
	if (pull)
		printf("drain_ns=%llu ", (unsigned long long)(drain_ns + pull_thread_ns() - t0));
	if (ab)
		printf("ab_hooked_ns=%llu ab_hooked_bytes=%llu ab_raw_ns=%llu ab_raw_bytes=%llu ",
		       (unsigned long long)ab_ns[0], (unsigned long long)ab_bytes[0], (unsigned long long)ab_ns[1],
		       (unsigned long long)ab_bytes[1]);
	if (expect && got != expect) {
		printf("bytes=%llu expected=%llu\n", (unsigned long long)got, (unsigned long long)expect);
		return 1;
	}
	if (storm_us)
		printf("signals=%s ", signals_seen > 100 ? "many" : "FEW");
	printf("bytes=%llu ok\n", (unsigned long long)got);
	return 0;
}
