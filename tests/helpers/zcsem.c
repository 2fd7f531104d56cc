/*
 * zcsem - receive-semantics scenarios, run with and without the shim.
 *
 *   zcsem SCENARIO
 *
 * Each scenario builds its own loopback connection (rx: the socket under
 * test, tx: its peer in this process, sending the pattern stream with
 * MSG_ZEROCOPY so the shim's mapped path is really taken), exercises one
 * behaviour of read/recv/recvmsg, and prints a transcript.  The tests
 * require the transcript to be the expected one and identical without the
 * shim: behaviour a program cannot tell apart from plain libc.
 *
 * Waiting for "the reader is blocked in the kernel" polls the thread's
 * state in /proc (nothing else can say when); no scenario sleeps to
 * synchronise.  Exit status 0 unless the scenario itself broke.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"
#include "readers.h"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#ifndef TCP_INQ
#define TCP_INQ 36
#define TCP_CM_INQ TCP_INQ
#endif

#define KB 1024u

static const char *err_name(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case ECONNRESET: return "ECONNRESET";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOTCONN: return "ENOTCONN";
	case EBADF: return "EBADF";
	default: return strerror(e);
	}
}

/* "r=N" or "r=-1 ERRNO" */
static const char *res(ssize_t r)
{
	static char b[64];
	if (r < 0)
		snprintf(b, sizeof(b), "-1 %s", err_name(errno));
	else
		snprintf(b, sizeof(b), "%zd", r);
	return b;
}

struct pair { int rx, tx; };

static struct pair make_pair(void)
{
	int port, l = listen_loopback(0, &port);
	struct pair p;
	p.rx = connect_loopback(port, 0);
	p.tx = accept(l, NULL, NULL);
	if (p.tx < 0)
		die("accept: %s", strerror(errno));
	close(l);
	int one = 1;
	if (setsockopt(p.tx, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY: %s", strerror(errno));
	return p;
}

static uint64_t sent_off;	/* stream offset of the next byte tx sends */

/* Sends n pattern bytes with MSG_ZEROCOPY.  On loopback the receiver is
 * given the sender's pages, so completion comes only when the receiver has
 * consumed them: the buffer is never reused or freed (scenarios are short),
 * and completions are only drained so they do not pile up. */
static void zsend(int fd, size_t n)
{
	uint8_t *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	pat_fill(b, sent_off, n);
	zc_send_all(fd, b, n);
	sent_off += n;
}

static int inq(int fd)
{
	int v = 0;
	ioctl(fd, SIOCINQ, &v);
	return v;
}

/* Until fd has at least n bytes queued (poll wakes on each arrival). */
static void wait_inq(int fd, int n)
{
	while (inq(fd) < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 100);
	}
}

static void check(const uint8_t *buf, uint64_t off, ssize_t n, const char *what)
{
	if (n > 0 && pat_check(buf, off, (size_t)n) != (size_t)n) {
		printf("%s: CONTENT MISMATCH\n", what);
		exit(1);
	}
}

static long thread_cpu_ticks(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		die("cannot read %s", path);
	fclose(f);
	char *p = strrchr(buf, ')') + 2;
	long ut = 0, stt = 0;
	/* fields 14 and 15 (utime, stime); p is at field 3 */
	for (int field = 3; field < 14; field++)
		p = strchr(p, ' ') + 1;
	sscanf(p, "%ld %ld", &ut, &stt);
	return ut + stt;
}

/* ---- scenarios ---- */

static int sc_block(void)
{
	struct pair p = make_pair();
	struct reader rd;
	start_reader(&rd, p.rx, 256 * KB, 0);
	wait_blocked(rd.tid);
	long c0 = thread_cpu_ticks(rd.tid);
	struct timespec ts = { 0, 300000000 };
	nanosleep(&ts, NULL);	/* the interval measured, not a synchronisation */
	long c1 = thread_cpu_ticks(rd.tid);
	zsend(p.tx, 128 * KB);
	pthread_join(rd.th, NULL);
	check(rd.buf, 0, rd.r, "block");
	printf("blocked read returned data: %s\n", rd.r > 0 ? "yes" : res(rd.r));
	printf("cpu while blocked: %s\n", c1 - c0 <= 3 ? "idle" : "BUSY");
	return 0;
}

static int sc_rcvtimeo(void)
{
	struct pair p = make_pair();
	struct timeval tv = { 0, 150000 };
	setsockopt(p.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t *b = malloc(256 * KB);
	printf("read with SO_RCVTIMEO: %s\n", res(read(p.rx, b, 256 * KB)));
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	ssize_t r = read(p.rx, b, 256 * KB);
	check(b, 0, r, "rcvtimeo");
	printf("then with data: %s\n", res(r));
	return 0;
}

static volatile sig_atomic_t handled;
static int sigpipe_fds[2];
static void on_usr1(int s)
{
	(void)s;
	handled = 1;
	(void)!write(sigpipe_fds[1], "x", 1);
}

static int sc_signal(int restart)
{
	struct pair p = make_pair();
	if (pipe(sigpipe_fds))
		die("pipe");
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };
	sigaction(SIGUSR1, &sa, NULL);
	struct reader rd;
	start_reader(&rd, p.rx, 256 * KB, 0);
	wait_blocked(rd.tid);
	pthread_kill(rd.th, SIGUSR1);
	struct pollfd pf = { .fd = sigpipe_fds[0], .events = POLLIN };
	if (poll(&pf, 1, 10000) != 1)
		die("handler did not run");
	if (restart) {
		wait_blocked(rd.tid);	/* back asleep in the restarted call */
		zsend(p.tx, 128 * KB);
	}
	pthread_join(rd.th, NULL);
	errno = rd.err;
	check(rd.buf, 0, rd.r, "signal");
	printf("handler ran: %d; read: %s\n", (int)handled, rd.r > 0 ? "data" : res(rd.r));
	return 0;
}

static int sc_nonblock(void)
{
	struct pair p = make_pair();
	uint8_t *b = malloc(256 * KB);
	printf("MSG_DONTWAIT, empty: %s\n", res(recv(p.rx, b, 256 * KB, MSG_DONTWAIT)));
	fcntl(p.rx, F_SETFL, fcntl(p.rx, F_GETFL) | O_NONBLOCK);
	printf("O_NONBLOCK read, empty: %s\n", res(read(p.rx, b, 256 * KB)));
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	ssize_t r = read(p.rx, b, 256 * KB);
	check(b, 0, r, "nonblock");
	printf("O_NONBLOCK read, 64K queued: %s\n", res(r));
	printf("O_NONBLOCK read, drained: %s\n", res(read(p.rx, b, 256 * KB)));
	return 0;
}

/* Reads everything until EOF/error with chunk-sized reads; returns bytes. */
static uint64_t drain(int fd, size_t chunk, ssize_t *last)
{
	uint8_t *b = malloc(chunk);
	uint64_t at = 0;
	ssize_t r;
	while ((r = read(fd, b, chunk)) > 0) {
		check(b, at, r, "drain");
		at += (uint64_t)r;
	}
	*last = r;
	free(b);
	return at;
}

static int sc_eof(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 300 * KB);
	shutdown(p.tx, SHUT_WR);
	ssize_t last;
	uint64_t n = drain(p.rx, 256 * KB, &last);
	uint8_t b[64];
	printf("data: %llu, then: %s", (unsigned long long)n, res(last));
	printf(", again: %s", res(read(p.rx, b, sizeof(b))));
	printf(", MSG_DONTWAIT: %s\n", res(recv(p.rx, b, sizeof(b), MSG_DONTWAIT)));
	return 0;
}

static int sc_rst(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	struct linger lg = { 1, 0 };
	setsockopt(p.tx, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(p.tx);	/* RST */
	struct pollfd pf = { .fd = p.rx, .events = POLLIN };
	while (!(pf.revents & POLLERR))
		poll(&pf, 1, 1000);
	uint64_t at = 0;
	uint8_t *b = malloc(128 * KB);
	ssize_t r;
	while ((r = read(p.rx, b, 24 * KB)) > 0) {
		check(b, at, r, "rst");
		at += (uint64_t)r;
	}
	printf("data: %llu, then: %s", (unsigned long long)at, res(r));
	printf(", then: %s", res(read(p.rx, b, 128 * KB)));
	printf(", then: %s\n", res(read(p.rx, b, 128 * KB)));
	return 0;
}

static int sc_halfclose(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 200 * KB);
	shutdown(p.tx, SHUT_WR);
	ssize_t last;
	uint64_t n = drain(p.rx, 128 * KB, &last);
	write_all(p.rx, "reply", 5);
	char got[8] = { 0 };
	ssize_t r = recv(p.tx, got, 5, MSG_WAITALL);
	printf("received %llu then %s; peer got reply: %s\n", (unsigned long long)n, res(last),
	       r == 5 && !memcmp(got, "reply", 5) ? "yes" : "no");
	return 0;
}

static int sc_peek(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	uint8_t *a = malloc(64 * KB), *b = malloc(128 * KB);
	ssize_t r1 = recv(p.rx, a, 32 * KB, MSG_PEEK);
	check(a, 0, r1, "peek");
	ssize_t r2 = read(p.rx, b, 128 * KB);
	check(b, 0, r2, "after peek");
	printf("peek: %s", res(r1));
	printf(", read: %s (same bytes from offset 0)\n", res(r2));
	return 0;
}

static int sc_waitall(void)
{
	struct pair p = make_pair();
	struct reader rd;
	start_reader(&rd, p.rx, 300 * KB, MSG_WAITALL);
	for (int i = 0; i < 3; i++) {
		wait_blocked(rd.tid);
		zsend(p.tx, 100 * KB);
	}
	pthread_join(rd.th, NULL);
	check(rd.buf, 0, rd.r, "waitall");
	printf("MSG_WAITALL of 300K fed in three parts: %s\n", res(rd.r));
	/* WAITALL stops early at EOF with what it has. */
	zsend(p.tx, 50 * KB);
	shutdown(p.tx, SHUT_WR);
	ssize_t r = recv(p.rx, rd.buf, 300 * KB, MSG_WAITALL);
	check(rd.buf, 300 * KB, r, "waitall eof");
	printf("MSG_WAITALL at EOF: %s\n", res(r));
	return 0;
}

static int sc_trunc(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	printf("MSG_TRUNC 32K: %s", res(recv(p.rx, NULL, 32 * KB, MSG_TRUNC)));
	uint8_t *b = malloc(128 * KB);
	ssize_t r = read(p.rx, b, 128 * KB);
	check(b, 32 * KB, r, "trunc");
	printf(", then read: %s (from offset 32K)\n", res(r));
	return 0;
}

static int sc_oob(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 64 * KB);
	send(p.tx, "!", 1, MSG_OOB);
	struct pollfd pf = { .fd = p.rx, .events = POLLPRI };
	poll(&pf, 1, 10000);
	wait_inq(p.rx, 64 * KB);
	char c = 0;
	ssize_t r = recv(p.rx, &c, 1, MSG_OOB);
	printf("urgent byte: %s '%c'", res(r), c);
	uint8_t *b = malloc(128 * KB);
	r = read(p.rx, b, 128 * KB);
	check(b, 0, r, "oob");
	printf(", stream: %s, at mark: %d\n", res(r), sockatmark(p.rx));
	return 0;
}

static int sc_errqueue(void)
{
	struct pair p = make_pair();
	uint8_t b[256];
	printf("MSG_ERRQUEUE: %s\n", res(recv(p.rx, b, sizeof(b), MSG_ERRQUEUE)));
	return 0;
}

static int sc_cmsg(void)
{
	struct pair p = make_pair();
	int one = 1;
	setsockopt(p.rx, IPPROTO_TCP, TCP_INQ, &one, sizeof(one));
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	uint8_t *b = malloc(64 * KB);
	char ctl[256];
	struct iovec v = { b, 32 * KB };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t r = recvmsg(p.rx, &m, 0);
	check(b, 0, r, "cmsg");
	int inqv = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ)
			memcpy(&inqv, CMSG_DATA(c), sizeof(int));
	printf("recvmsg with control: %s, TCP_CM_INQ: %d\n", res(r), inqv);
	return 0;
}

/* After a partial read the rest is still in the socket: readiness and
 * SIOCINQ tell the truth (the shim holds no data of its own). */
static int sc_residue(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	uint8_t *b = malloc(64 * KB);
	ssize_t r = read(p.rx, b, 40 * KB);
	check(b, 0, r, "residue");
	struct pollfd pf = { .fd = p.rx, .events = POLLIN };
	int ready = poll(&pf, 1, 0);
	printf("read: %s, then poll: %d, inq: %d", res(r), ready, inq(p.rx));
	r = read(p.rx, b, 64 * KB);
	check(b, 40 * KB, r, "residue rest");
	pf.revents = 0;
	printf(", rest: %s, then poll: %d\n", res(r), poll(&pf, 1, 0));
	return 0;
}

/* Sockets the shim did not see created: from a raw socket(2) system call,
 * and received over a Unix socket with SCM_RIGHTS.  Classified on first read. */
static int sc_unseen(void)
{
	int port, l = listen_loopback(0, &port);
	int raw = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (raw < 0 || connect(raw, (struct sockaddr *)&a, sizeof(a)))
		die("raw socket: %s", strerror(errno));
	int tx1 = accept(l, NULL, NULL);
	int c2 = connect_loopback(port, 0), tx2 = accept(l, NULL, NULL), one = 1;
	setsockopt(tx1, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	setsockopt(tx2, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	int us[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, us))
		die("socketpair");
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 }, x = 'x';
	struct iovec v = { &x, 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &c2, sizeof(int));
	sendmsg(us[0], &m, 0);
	m.msg_controllen = sizeof(ctl);
	recvmsg(us[1], &m, 0);
	int passed;
	memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	uint8_t *b = malloc(64 * KB);
	int fds[2] = { raw, passed }, txs[2] = { tx1, tx2 };
	for (int i = 0; i < 2; i++) {
		sent_off = 0;
		zsend(txs[i], 64 * KB);
		ssize_t r = recv(fds[i], b, 64 * KB, MSG_WAITALL);
		check(b, 0, r, "unseen");
		printf("%s: %s%s", i ? "SCM_RIGHTS socket" : "raw socket(2)", res(r), i ? "\n" : ", ");
	}
	return 0;
}

static int sc_len0(void)
{
	struct pair p = make_pair();
	uint8_t b[16];
	printf("read 0, empty: %s", res(read(p.rx, b, 0)));
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	printf(", with data: %s", res(read(p.rx, b, 0)));
	printf(", recv 0: %s, inq after: %d\n", res(recv(p.rx, b, 0, 0)), inq(p.rx));
	return 0;
}

static int sc_nullbuf(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	void *volatile null = NULL;	/* deliberate: hidden from -Wnonnull */
	printf("read(NULL, 128K): %s", res(read(p.rx, null, 128 * KB)));
	printf(", recv(NULL, 128K): %s", res(recv(p.rx, null, 128 * KB, 0)));
	uint8_t *b = malloc(128 * KB);
	ssize_t r = recv(p.rx, b, 64 * KB, MSG_WAITALL);
	check(b, 0, r, "nullbuf");
	printf(", then: %s (nothing lost)\n", res(r));
	return 0;
}

static int sc_addr(void)
{
	struct pair p = make_pair();
	zsend(p.tx, 64 * KB);
	wait_inq(p.rx, 64 * KB);
	uint8_t *b = malloc(128 * KB);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t r = recvfrom(p.rx, b, 32 * KB, 0, (struct sockaddr *)&ss, &sl);
	check(b, 0, r, "recvfrom");
	printf("recvfrom: %s addrlen=%u", res(r), (unsigned)sl);
	struct iovec v[2] = { { b, 16 * KB }, { b + 16 * KB, 16 * KB } };
	struct msghdr m = { .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = v, .msg_iovlen = 2,
			    .msg_flags = 0x7fffffff };
	r = recvmsg(p.rx, &m, MSG_CMSG_CLOEXEC);
	check(b, 32 * KB, r, "recvmsg");
	printf("; recvmsg: %s namelen=%u controllen=%zu flags=%#x\n", res(r), (unsigned)m.msg_namelen,
	       (size_t)m.msg_controllen, (unsigned)m.msg_flags);
	return 0;
}

/* A signal handler reads the same socket while the main loop reads it. */
#define SR_MAX 100000
static struct { uint64_t off, len; } sr_pieces[SR_MAX];
static volatile int sr_n;
static int sr_fd;
static uint8_t sr_hbuf[32 * KB];
static volatile int sr_bad;

static void add_piece(const uint8_t *b, ssize_t r)
{
	uint64_t off;
	if (r < 16 || pat_locate(b, (size_t)r, &off) || pat_check(b, off, (size_t)r) != (size_t)r) {
		if (r > 0)
			sr_bad = r < 16 ? 2 : 3;
		return;
	}
	int i = __atomic_fetch_add(&sr_n, 1, __ATOMIC_RELAXED);
	if (i < SR_MAX) {
		sr_pieces[i].off = off;
		sr_pieces[i].len = (uint64_t)r;
	}
}

static void on_alarm(int s)
{
	(void)s;
	int e = errno;
	add_piece(sr_hbuf, recv(sr_fd, sr_hbuf, sizeof(sr_hbuf), MSG_DONTWAIT));
	errno = e;
}

static void *sr_sender(void *arg)
{
	int fd = *(int *)arg;
	for (int i = 0; i < 64; i++)
		zsend(fd, 1024 * KB);
	shutdown(fd, SHUT_WR);
	return NULL;
}

static int cmp_piece(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return *x < *y ? -1 : *x > *y;
}

static int sc_sigread(void)
{
	struct pair p = make_pair();
	sr_fd = p.rx;
	pthread_t th;
	/* SIGALRM is process-directed: keep it off the sender thread, so the
	 * handler only ever interrupts the reading thread. */
	sigset_t alrm, old;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	pthread_create(&th, NULL, sr_sender, &p.tx);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 300 }, { 0, 300 } };
	setitimer(ITIMER_REAL, &it, NULL);
	uint8_t *b = malloc(1024 * KB);
	ssize_t r;
	int mains = 0;
	for (;;) {
		r = read(p.rx, b, 1024 * KB);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sigset_t s, o;
		sigemptyset(&s);
		sigaddset(&s, SIGALRM);
		pthread_sigmask(SIG_BLOCK, &s, &o);
		add_piece(b, r);
		pthread_sigmask(SIG_SETMASK, &o, NULL);
		mains++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	pthread_join(th, NULL);
	int n = sr_n < SR_MAX ? sr_n : SR_MAX;
	qsort(sr_pieces, (size_t)n, sizeof(sr_pieces[0]), cmp_piece);
	uint64_t at = 0;
	int ok = !sr_bad && sr_n <= SR_MAX;
	for (int i = 0; i < n && ok; i++) {
		if (sr_pieces[i].off != at)
			ok = 0;
		at += sr_pieces[i].len;
	}
	ok = ok && at == 64ull * 1024 * KB;
	fprintf(stderr, "sigread: %d pieces, %d by the main loop, bad=%d, end=%llu\n", n, mains, sr_bad,
		(unsigned long long)at);
	for (int i = 1; i < n; i++)
		if (sr_pieces[i].off != sr_pieces[i - 1].off + sr_pieces[i - 1].len)
			fprintf(stderr, "  discontinuity: piece %d ends %llu, next starts %llu\n", i - 1,
				(unsigned long long)(sr_pieces[i - 1].off + sr_pieces[i - 1].len),
				(unsigned long long)sr_pieces[i].off);
	printf("main loop and handler together: %s\n", ok ? "every byte exactly once, each read contiguous"
							   : "BROKEN");
	return ok ? 0 : 1;
}

struct many {
	struct pair *ps;
	int n;
};

static void *many_sender(void *arg)
{
	struct many *m = arg;
	for (int i = 0; i < m->n; i++) {
		sent_off = 0;
		zsend(m->ps[i].tx, 256 * KB);	/* blocks until the reader below reads */
	}
	return NULL;
}

/* 1000 connections each do one bulk read and then sit idle: the pages left
 * mapped must not grow with the number of connections. */
static int sc_manyidle(void)
{
	enum { N = 1000 };
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	static struct pair ps[N];
	for (int i = 0; i < N; i++)
		ps[i] = make_pair();
	uint8_t *b = malloc(256 * KB);
	long before = rss_file_kb();
	struct many m = { ps, N };
	pthread_t th;
	pthread_create(&th, NULL, many_sender, &m);
	for (int i = 0; i < N; i++) {
		ssize_t r = recv(ps[i].rx, b, 256 * KB, MSG_WAITALL);
		if (r != 256 * KB)
			die("conn %d: read %zd", i, r);
		check(b, 0, r, "manyidle");
	}
	pthread_join(th, NULL);
	long after = rss_file_kb();
	long grew = after - before;
	fprintf(stderr, "manyidle: RssFile %ld kB -> %ld kB (+%ld kB) with %d idle connections\n", before, after,
		grew, N);
	printf("1000 idle connections after one 256K read each: RssFile growth %s 64 MiB\n",
	       grew <= 64 * 1024 ? "within" : "OVER");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc != 2)
		die("usage: zcsem SCENARIO");
	const char *s = argv[1];
	if (!strcmp(s, "block")) return sc_block();
	if (!strcmp(s, "rcvtimeo")) return sc_rcvtimeo();
	if (!strcmp(s, "restart")) return sc_signal(1);
	if (!strcmp(s, "norestart")) return sc_signal(0);
	if (!strcmp(s, "nonblock")) return sc_nonblock();
	if (!strcmp(s, "eof")) return sc_eof();
	if (!strcmp(s, "rst")) return sc_rst();
	if (!strcmp(s, "halfclose")) return sc_halfclose();
	if (!strcmp(s, "peek")) return sc_peek();
	if (!strcmp(s, "waitall")) return sc_waitall();
	if (!strcmp(s, "trunc")) return sc_trunc();
	if (!strcmp(s, "oob")) return sc_oob();
	if (!strcmp(s, "errqueue")) return sc_errqueue();
	if (!strcmp(s, "cmsg")) return sc_cmsg();
	if (!strcmp(s, "len0")) return sc_len0();
	if (!strcmp(s, "residue")) return sc_residue();
	if (!strcmp(s, "unseen")) return sc_unseen();
	if (!strcmp(s, "nullbuf")) return sc_nullbuf();
	if (!strcmp(s, "addr")) return sc_addr();
	if (!strcmp(s, "sigread")) return sc_sigread();
	if (!strcmp(s, "manyidle")) return sc_manyidle();
	die("unknown scenario %s", s);
}
