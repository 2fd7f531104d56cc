/*
 * zcdiff - the differential table: one receive scenario, one transcript.
 *
 *   zcdiff SENDER SCENARIO      SENDER: plain | zc | zc4108
 *   zcdiff SENDER random SEED   a seeded random sequence of calls, flags,
 *                               lengths, iovec shapes and signals
 *
 * Each scenario builds a loopback connection in this process (rx: the
 * socket under test; tx: its peer, sending the pattern stream with plain
 * send(), MSG_ZEROCOPY at the default MSS, or MSG_ZEROCOPY at MSS 4108,
 * where every page maps), drives rx the way a program would and prints what
 * it saw: results, errno names, flags, and whether the bytes are the right
 * stream bytes.  test_diff runs every scenario without and with the shim,
 * at two ZCSHIM_MIN_READ settings, and requires identical transcripts:
 * plain libc is the oracle.  So a transcript prints only what plain libc
 * makes deterministic (it waits until the data it needs has arrived, and
 * prints verdicts, not timings).
 *
 * Waiting for "the reader is blocked" polls the thread's state in /proc;
 * waiting for data polls the kernel's own counters.  No scenario sleeps to
 * synchronise; the one trickling sender sleeps to make a trickle.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"
#include "readers.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/single_threaded.h>
#include <sys/uio.h>
#include <time.h>

#ifndef TCP_INQ
#define TCP_INQ 36
#endif
#ifndef TCP_REPAIR
#define TCP_REPAIR 19
#endif
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif

#define KB 1000u

static int errno_at_start;
static int mode;                /* 0 plain, 1 zc, 2 zc4108 */
static uint64_t sent;           /* stream offset of the next byte tx sends */
static uint64_t rcvd;           /* stream offset the reader expects next */

/* ---- transcript ------------------------------------------------------ */

static const char *ename(int e)
{
	static char b[32];
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case ECONNRESET: return "ECONNRESET";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EBADF: return "EBADF";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOTCONN: return "ENOTCONN";
	default: snprintf(b, sizeof(b), "errno %d", e); return b;
	}
}

static const char *res(ssize_t r)
{
	static char b[64];
	if (r < 0)
		snprintf(b, sizeof(b), "-1 %s", ename(errno));
	else
		snprintf(b, sizeof(b), "%zd", r);
	return b;
}

/* Prints "label: RESULT ok|BAD" for bytes that should continue the stream
 * at rcvd, and moves rcvd past them. */
static void got(const char *label, ssize_t r, const uint8_t *buf)
{
	const char *verdict = "";
	int e = errno;
	if (r > 0) {
		size_t bad = pat_check(buf, rcvd, (size_t)r);
		verdict = bad == (size_t)r ? " ok" : " BAD";
		rcvd += (uint64_t)r;
	}
	errno = e;
	printf("%s: %s%s\n", label, res(r), verdict);
}

/* ---- the connection -------------------------------------------------- */

struct pair { int rx, tx; uint64_t bytes; /* sent on this connection */ };

/* A connection whose receiver asked for rcvbuf bytes of buffer (the
 * kernel doubles it) before connecting. */
static struct pair make_pair_rcvbuf(int rcvbuf)
{
	int port, l = listen_loopback(mode == 2 ? 4108 : 0, &port);
	struct pair p = { 0 };
	int big = 8 << 20;
	p.rx = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (setsockopt(p.rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(p.rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(p.rx, (struct sockaddr *)&a, sizeof(a)))
		die("connect: %s", strerror(errno));
	p.tx = accept(l, NULL, NULL);
	if (p.tx < 0)
		die("accept: %s", strerror(errno));
	close(l);
	setsockopt(p.tx, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	int one = 1;
	if (mode && setsockopt(p.tx, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY: %s", strerror(errno));
	return p;
}

/* Room for a few MB queued unread (root: past rmem_max). */
static struct pair make_pair(void)
{
	return make_pair_rcvbuf(8 << 20);
}

/* Sends n pattern bytes.  A MSG_ZEROCOPY buffer is never reused or freed:
 * on loopback the receiver is handed these very pages. */
static void send_n(struct pair *p, size_t n)
{
	int tx = p->tx;
	p->bytes += n;
	uint8_t *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	pat_fill(b, sent, n);
	if (mode)
		zc_send_all(tx, b, n);
	else
		write_all(tx, b, n);
	if (!mode)
		munmap(b, n);
	sent += n;
}

static int inq(int fd)
{
	int v = 0;
	ioctl(fd, SIOCINQ, &v);
	return v;
}

/* Until rx's kernel has received every byte sent on the connection (extra: bytes outside
 * the pattern, like an urgent byte).  tcpi_bytes_received sits at offset
 * 128 of the kernel's struct tcp_info (glibc's copy stops before it). */
static void wait_arrived(const struct pair *pr, uint64_t extra)
{
	int rx = pr->rx;
	for (;;) {
		uint8_t ti[256];
		socklen_t l = sizeof(ti);
		uint64_t n = 0;
		if (getsockopt(rx, IPPROTO_TCP, TCP_INFO, ti, &l) || l < 136)
			die("TCP_INFO: %s", strerror(errno));
		memcpy(&n, ti + 128, 8);
		if (n >= pr->bytes + extra)
			return;
		struct pollfd p = { .fd = rx, .events = POLLIN | POLLPRI };
		poll(&p, 1, 10);
	}
}

/* Until the peer's close or reset has reached rx. */
static void wait_hup(int rx)
{
	for (;;) {
		struct pollfd p = { .fd = rx, .events = POLLRDHUP };
		if (poll(&p, 1, 1000) > 0 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP)))
			return;
	}
}

static void reset_peer(int tx)
{
	struct linger lg = { 1, 0 };
	setsockopt(tx, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(tx);
}

static uint8_t *buffer(size_t n)
{
	uint8_t *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return b;
}

static int signals_handled;

static void on_sig(int s)
{
	(void)s;
	__atomic_add_fetch(&signals_handled, 1, __ATOMIC_RELEASE);
}

static void handle(int sig, void (*fn)(int), int restart)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = fn;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(sig, &sa, NULL);
}

/* ---- 1. urgent data -------------------------------------------------- */

static int sc_urgent(int inline_oob)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	int one = 1;
	if (inline_oob)
		setsockopt(p.rx, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
	send_n(&p, 100 * KB);
	if (send(p.tx, "!", 1, MSG_OOB) != 1)
		die("MSG_OOB: %s", strerror(errno));
	uint64_t mark = sent;
	send_n(&p, 100 * KB);
	wait_arrived(&p, 1);
	got("read before the mark", read(p.rx, b, 300 * KB), b);
	if (inline_oob) {
		ssize_t r = read(p.rx, b, 300 * KB);
		printf("read at the mark: %s, first byte '%c'\n", res(r), r > 0 ? b[0] : '?');
		if (r > 1) {
			rcvd = mark;
			got("rest after the urgent byte", r - 1, b + 1);
		}
	} else {
		char c = 0;
		ssize_t r = recv(p.rx, &c, 1, MSG_OOB);
		printf("MSG_OOB: %s '%c'\n", res(r), r == 1 ? c : '?');
		got("read after the mark", read(p.rx, b, 300 * KB), b);
	}
	return 0;
}

static int sc_urgent_waitall(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 100 * KB);
	send(p.tx, "!", 1, MSG_OOB);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 1);
	got("MSG_WAITALL before the mark", recv(p.rx, b, 300 * KB, MSG_WAITALL), b);
	char c;
	printf("MSG_OOB: %s\n", res(recv(p.rx, &c, 1, MSG_OOB)));
	got("MSG_WAITALL after the mark", recv(p.rx, b, 100 * KB, MSG_WAITALL), b);
	return 0;
}

/* ---- 2, 9. cancellation and siglongjmp -------------------------------- */

static void *cancel_main(void *arg)
{
	struct reader *rd = arg;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	__atomic_store_n(&rd->started, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&rd->started, __ATOMIC_ACQUIRE) != 2)
		sched_yield();	/* until main has cancelled us */
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	rd->r = read(rd->fd, rd->buf, rd->len);	/* a cancellation point */
	return NULL;
}

static int sc_cancel(void)
{
	struct pair p = make_pair();
	struct reader rd = { .len = 400 * KB };
	rd.fd = p.rx;
	rd.buf = buffer(rd.len);
	rd.r = -2;
	send_n(&p, 300 * KB);
	wait_arrived(&p, 0);
	pthread_create(&rd.th, NULL, cancel_main, &rd);
	while (!__atomic_load_n(&rd.started, __ATOMIC_ACQUIRE))
		sched_yield();
	pthread_cancel(rd.th);
	__atomic_store_n(&rd.started, 2, __ATOMIC_RELEASE);
	void *ret;
	pthread_join(rd.th, &ret);
	printf("reader cancelled: %s, its read %s\n", ret == PTHREAD_CANCELED ? "yes" : "no",
	       rd.r == -2 ? "never returned" : "returned");
	got("next reader", read(p.rx, rd.buf, rd.len), rd.buf);
	return 0;
}

/* A single-threaded program that cancels itself (deferred) is cancelled
 * at its next read, before any data is taken: libc's read acts on the
 * pending cancel, and so must the shim's pass-through read, which makes
 * the system call itself when the process has one thread.  Printed with a
 * raw write: printf's write is a cancellation point too. */
static int sc_self_cancel(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(8 * KB);
	send_n(&p, 8 * KB);
	wait_arrived(&p, 0);
	got("single-threaded, before", read(p.rx, b, 1000), b);
	printf("%s\n", __libc_single_threaded ? "one thread" : "threads");
	fflush(stdout);
	pthread_cancel(pthread_self());
	static const char msg[] = "cancel requested\n";
	if (syscall(SYS_write, 1, msg, sizeof(msg) - 1) < 0)
		return 1;
	got("read after the cancel (must not return)", read(p.rx, b, 1000), b);
	return 0;
}

static __thread sigjmp_buf jump_to;
static void on_jump(int s)
{
	(void)s;
	siglongjmp(jump_to, 1);
}

struct jumper {
	int fd, ready[2];
	pid_t tid;
	int jumped;
	ssize_t after;
	uint8_t *buf;
};

static void *jumper_main(void *arg)
{
	struct jumper *j = arg;
	j->tid = (pid_t)syscall(SYS_gettid);
	if (sigsetjmp(jump_to, 1) == 0) {
		write(j->ready[1], "r", 1);
		read(j->fd, j->buf, 300 * KB);	/* empty: blocks until the signal */
		return NULL;
	}
	j->jumped = 1;
	write(j->ready[1], "j", 1);
	return NULL;
}

static int sc_longjmp(void)
{
	struct pair p = make_pair();
	struct jumper j = { .fd = p.rx, .buf = buffer(400 * KB) };
	handle(SIGUSR1, on_jump, 0);
	if (pipe(j.ready))
		die("pipe");
	pthread_t th;
	pthread_create(&th, NULL, jumper_main, &j);
	char c;
	read(j.ready[0], &c, 1);
	wait_blocked(j.tid);
	syscall(SYS_tgkill, getpid(), j.tid, SIGUSR1);
	read(j.ready[0], &c, 1);
	pthread_join(th, NULL);
	printf("jumped out of a blocked read: %s\n", j.jumped ? "yes" : "no");
	/* The fd, its lock and this process's windows still work, for this
	 * thread and another, on this connection and a new one. */
	send_n(&p, 200 * KB);
	wait_arrived(&p, 0);
	struct reader rd;
	start_reader(&rd, p.rx, 400 * KB, 0);
	pthread_join(rd.th, NULL);
	got("another thread's read", rd.r, rd.buf);
	struct pair q = make_pair();
	uint64_t s0 = sent;
	send_n(&q, 100 * KB);
	wait_arrived(&q, 0);
	rcvd = s0;
	got("a new connection", read(q.rx, j.buf, 400 * KB), j.buf);
	return 0;
}

/* ---- 3. SO_PEEK_OFF --------------------------------------------------- */

static int peek_off(int fd)
{
	int v = -2;
	socklen_t l = sizeof(v);
	getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &v, &l);
	return v;
}

static int sc_peekoff(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	int zero = 0;
	if (setsockopt(p.rx, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)))
		printf("SO_PEEK_OFF: %s\n", res(-1));
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	ssize_t r = recv(p.rx, b, 60 * KB, MSG_PEEK);
	printf("peek: %s %s, offset now %d\n", res(r), pat_check(b, 0, 60 * KB) == 60 * KB ? "ok" : "BAD", peek_off(p.rx));
	r = recv(p.rx, b, 60 * KB, MSG_PEEK);
	printf("peek: %s %s, offset now %d\n", res(r), r > 0 && pat_check(b, 60 * KB, (size_t)r) == (size_t)r ? "ok" : "BAD",
	       peek_off(p.rx));
	got("blocking read after peeking past the queue", read(p.rx, b, 300 * KB), b);
	printf("offset after the read: %d\n", peek_off(p.rx));
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	r = recv(p.rx, b, 10 * KB, MSG_PEEK);
	printf("peek: %s %s, offset now %d\n", res(r), r > 0 && pat_check(b, rcvd, (size_t)r) == (size_t)r ? "ok" : "BAD",
	       peek_off(p.rx));
	got("read", read(p.rx, b, 64 * KB), b);
	printf("offset after the read: %d\n", peek_off(p.rx));
	r = recv(p.rx, b, 10 * KB, MSG_PEEK);
	printf("peek after the read: %s %s\n", res(r), r > 0 && pat_check(b, rcvd, (size_t)r) == (size_t)r ? "ok" : "BAD");
	return 0;
}

/* ---- 4. bad pointers --------------------------------------------------- */

static void after(const char *what, ssize_t r, int fd)
{
	printf("%s: %s, queued after: %d\n", what, res(r), inq(fd));
}

static int sc_badptr(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 300 * KB);
	wait_arrived(&p, 0);
	/* Through a volatile: the compiler must not see which pointer. */
	uintptr_t volatile bad = 8;
	after("readv, bad iovec array", readv(p.rx, (struct iovec *)bad, 2), p.rx);
	after("recvmsg, bad msghdr", recvmsg(p.rx, (struct msghdr *)bad, 0), p.rx);
	struct msghdr m = { .msg_iov = (struct iovec *)bad, .msg_iovlen = 1 };
	after("recvmsg, bad msg_iov", recvmsg(p.rx, &m, 0), p.rx);
	struct iovec v = { b, 100 * KB };
	struct msghdr *ro = (struct msghdr *)buffer(4096);
	ro->msg_iov = &v;
	ro->msg_iovlen = 1;
	mprotect(ro, 4096, PROT_READ);
	after("recvmsg, read-only msghdr", recvmsg(p.rx, ro, 0), p.rx);
	rcvd = sent - (uint64_t)inq(p.rx);
	struct sockaddr_in sa;
	after("recvfrom, bad fromlen", recvfrom(p.rx, b, 100 * KB, 0, (struct sockaddr *)&sa, (socklen_t *)bad), p.rx);
	rcvd = sent - (uint64_t)inq(p.rx);
	got("read", read(p.rx, b, 64 * KB), b);
	mprotect(b, 400 * KB, PROT_READ);
	after("read into a buffer made read-only", read(p.rx, b, 64 * KB), p.rx);
	mprotect(b, 400 * KB, PROT_READ | PROT_WRITE);
	got("read once writable again", read(p.rx, b, 64 * KB), b);
	send_n(&p, 200 * KB);
	wait_arrived(&p, 0);
	munmap(b + 131072, 131072);	/* page-aligned */
	after("read into a buffer with a hole", read(p.rx, b, 200 * KB), p.rx);
	return 0;
}

/* ---- 5. reads as full as recv's ---------------------------------------- */

static void full_read(struct pair *p, const char *what, size_t n, size_t len, uint8_t *b)
{
	send_n(p, n);
	wait_arrived(p, 0);
	int q = inq(p->rx);
	ssize_t r = read(p->rx, b, len);
	int e = errno;
	printf("%s: %s of %d queued%s\n", what, r == q ? "all" : "NOT ALL", q,
	       r > 0 && pat_check(b, rcvd, (size_t)r) == (size_t)r ? ", ok" : ", BAD");
	errno = e;
	if (r > 0)
		rcvd += (uint64_t)r;
	if (inq(p->rx))	/* a short read: drain it so the next case starts clean */
		rcvd += (uint64_t)read(p->rx, b, len);
}

static int sc_short(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(4 << 20);
	full_read(&p, "904 bytes", 904, 1 << 20, b);
	full_read(&p, "4095 bytes", 4095, 1 << 20, b);
	full_read(&p, "300000 bytes", 300000, 1 << 20, b);
	full_read(&p, "3000000 bytes", 3000000, 4 << 20, b);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	got("header", read(p.rx, b, 100), b);
	got("header", read(p.rx, b, 100), b);
	got("body", read(p.rx, b, 1 << 20), b);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	printf("peek: %s\n", res(recv(p.rx, b, 1 << 20, MSG_PEEK)));
	got("read after the peek", read(p.rx, b, 1 << 20), b);
	return 0;
}

/* ---- 6-8. waiting: SO_RCVLOWAT, MSG_WAITALL with timeouts and signals --- */

static int sc_lowat(void)
{
	struct pair p = make_pair();
	int lowat = 200 * KB;
	setsockopt(p.rx, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	send_n(&p, 4095);
	wait_arrived(&p, 0);
	struct reader rd;
	start_reader(&rd, p.rx, 300 * KB, 0);
	wait_blocked(rd.tid);
	send_n(&p, 250 * KB);
	pthread_join(rd.th, NULL);
	printf("read with SO_RCVLOWAT %d: %s, content %s\n", lowat, rd.r >= lowat ? ">= lowat" : "UNDER LOWAT",
	       rd.r > 0 && pat_check(rd.buf, 0, (size_t)rd.r) == (size_t)rd.r ? "ok" : "BAD");
	return 0;
}

struct trickle { struct pair *p; int stop; };

static void *trickle_main(void *arg)
{
	struct trickle *t = arg;
	for (int i = 0; i < 40 && !__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE); i++) {
		send_n(t->p, 10 * KB);
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);	/* the trickle itself, not synchronisation */
	}
	return NULL;
}

static int sc_waitall_timeo(void)
{
	struct pair p = make_pair();
	struct timeval tv = { 0, 300000 };
	setsockopt(p.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct trickle t = { &p, 0 };
	pthread_t th;
	pthread_create(&th, NULL, trickle_main, &t);
	uint8_t *b = buffer(400 * KB);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ssize_t r = recv(p.rx, b, 300 * KB, MSG_WAITALL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	printf("MSG_WAITALL 300K with SO_RCVTIMEO 300ms under a trickle: %s, %s, content %s\n",
	       r > 0 && r < 300 * KB ? "partial" : res(r), ms < 700 ? "in time" : "LATE",
	       r > 0 && pat_check(b, 0, (size_t)r) == (size_t)r ? "ok" : "BAD");
	return 0;
}

static int sc_waitall_signal(int restart)
{
	struct pair p = make_pair();
	handle(SIGUSR1, on_sig, restart);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	struct reader rd;
	start_reader(&rd, p.rx, 300 * KB, MSG_WAITALL);
	wait_blocked(rd.tid);
	syscall(SYS_tgkill, getpid(), rd.tid, SIGUSR1);
	pthread_join(rd.th, NULL);
	errno = rd.err;
	got(restart ? "MSG_WAITALL, SA_RESTART signal after 100K" : "MSG_WAITALL, signal after 100K", rd.r, rd.buf);
	return 0;
}

static int sc_rcvtimeo_empty(void)
{
	struct pair p = make_pair();
	struct timeval tv = { 0, 100000 };
	setsockopt(p.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t *b = buffer(400 * KB);
	got("read, empty, SO_RCVTIMEO", read(p.rx, b, 300 * KB), b);
	got("MSG_WAITALL, empty, SO_RCVTIMEO", recv(p.rx, b, 300 * KB, MSG_WAITALL), b);
	got("MSG_DONTWAIT, empty", recv(p.rx, b, 300 * KB, MSG_DONTWAIT), b);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	got("MSG_WAITALL 300K, 100K queued, SO_RCVTIMEO", recv(p.rx, b, 300 * KB, MSG_WAITALL), b);
	return 0;
}

/* ---- 10. TCP_REPAIR --------------------------------------------------- */

static int sc_repair(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	int on = 1, off = 0;
	if (setsockopt(p.rx, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on))) {
		printf("TCP_REPAIR: %s\n", res(-1));
		return 0;
	}
	after("read in repair mode", read(p.rx, b, 200 * KB), p.rx);
	setsockopt(p.rx, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	got("read after repair mode", read(p.rx, b, 200 * KB), b);
	return 0;
}

/* ---- 11. bytes past the result; overlapping iovecs --------------------- */

static int sc_beyond(void)
{
	struct pair p = make_pair();
	size_t len = 1 << 20;
	uint8_t *b = buffer(len);
	uint64_t total = 0;
	int touched = 0;
	send_n(&p, 3000 * KB);
	while (total < 3000 * KB) {
		memset(b, 0xa5, len);
		ssize_t r = read(p.rx, b, len);
		if (r <= 0)
			break;
		if (pat_check(b, total, (size_t)r) != (size_t)r)
			touched = -1;
		for (size_t i = (size_t)r; i < len && touched >= 0; i++)
			touched |= b[i] != 0xa5;
		total += (uint64_t)r;
	}
	printf("3000K in 1M reads: %llu, content %s, bytes past each result %s\n", (unsigned long long)total,
	       touched < 0 ? "BAD" : "ok", touched > 0 ? "WRITTEN" : "untouched");
	rcvd = total;
	send_n(&p, 150 * KB);
	wait_arrived(&p, 0);
	memset(b, 0, len);
	struct iovec v[2] = { { b, 100 * KB }, { b + 50 * KB, 100 * KB } };
	ssize_t r = readv(p.rx, v, 2);
	uint64_t sum = 0;
	for (size_t i = 0; i < 150 * KB; i++)
		sum = sum * 31 + b[i];
	printf("readv into overlapping iovecs: %s, buffer sum %llx\n", res(r), (unsigned long long)sum);
	return 0;
}

/* ---- 12. address lengths ----------------------------------------------- */

static int sc_addrlen(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 300 * KB);
	wait_arrived(&p, 0);
	struct sockaddr_storage sa;
	socklen_t len = (socklen_t)-1;
	after("recvfrom, *fromlen -1", recvfrom(p.rx, b, 100 * KB, 0, (struct sockaddr *)&sa, &len), p.rx);
	rcvd = sent - (uint64_t)inq(p.rx);
	struct iovec v = { b, 100 * KB };
	struct msghdr m = { .msg_name = &sa, .msg_namelen = 0x80000000u, .msg_iov = &v, .msg_iovlen = 1 };
	after("recvmsg, msg_namelen 0x80000000", recvmsg(p.rx, &m, 0), p.rx);
	len = sizeof(sa);
	ssize_t r = recvfrom(p.rx, b, 100 * KB, 0, (struct sockaddr *)&sa, &len);
	printf("recvfrom with an address: %s, fromlen %u\n", res(r), (unsigned)len);
	m.msg_namelen = sizeof(sa);
	m.msg_flags = 0x7fff;
	r = recvmsg(p.rx, &m, 0);
	printf("recvmsg with a name: %s, namelen %u, flags %#x\n", res(r), (unsigned)m.msg_namelen, (unsigned)m.msg_flags);
	return 0;
}

/* ---- 13, 14. errors: a reset seen through a dup; stale entries --------- */

static int sc_rst_dup(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	int rx2 = dup(p.rx);
	send_n(&p, 200 * KB);
	wait_arrived(&p, 0);
	reset_peer(p.tx);
	wait_hup(p.rx);
	got("read", read(p.rx, b, 300 * KB), b);
	got("read through the dup", read(rx2, b, 300 * KB), b);
	got("then", read(rx2, b, 300 * KB), b);
	got("then the first fd", read(p.rx, b, 300 * KB), b);
	return 0;
}

static int pass_fd(int fd)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	char c = 'x', ctl[CMSG_SPACE(sizeof(int))];
	struct iovec v = { &c, 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sv[0], &m, 0) != 1)
		die("sendmsg");
	close(sv[0]);
	return sv[1];
}

static int recv_fd(int u)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec v = { &c, 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	int fd = -1;
	if (recvmsg(u, &m, 0) == 1 && CMSG_FIRSTHDR(&m))
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	return fd;
}

static int sc_stale(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	reset_peer(p.tx);
	wait_hup(p.rx);
	FILE *f = fdopen(p.rx, "r");
	got("read", read(p.rx, b, 300 * KB), b);
	int old = p.rx;
	struct pair q = make_pair();
	uint64_t s0 = sent;
	send_n(&q, 100 * KB);
	wait_arrived(&q, 0);
	int u = pass_fd(q.rx);
	close(q.rx);
	/* Take every free number below old, so the socket received next
	 * lands on old itself. */
	for (int x; (x = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
		if (x > old) {
			close(x);
			break;
		}
	fclose(f);	/* closes old inside libc */
	int fd = recv_fd(u);
	printf("socket passed by SCM_RIGHTS took the old number: %s\n", fd == old ? "yes" : "no");
	rcvd = s0;
	got("its first read", read(fd, b, 300 * KB), b);
	shutdown(q.tx, SHUT_WR);
	wait_hup(fd);
	got("at its EOF", read(fd, b, 300 * KB), b);
	return 0;
}

/* ---- 15-17 ------------------------------------------------------------- */

static int sc_errno(void)
{
	printf("errno at the start of main: %d\n", errno_at_start);
	return 0;
}

static int sc_ctrunc(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	int one = 1;
	setsockopt(p.rx, IPPROTO_TCP, TCP_INQ, &one, sizeof(one));
	send_n(&p, 200 * KB);
	wait_arrived(&p, 0);
	struct iovec v = { b, 100 * KB };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	ssize_t r = recvmsg(p.rx, &m, 0);
	printf("recvmsg, TCP_INQ on, no control buffer: %s, flags %#x\n", res(r), (unsigned)m.msg_flags);
	one = 0;
	setsockopt(p.rx, IPPROTO_TCP, TCP_INQ, &one, sizeof(one));
	one = 1;
	setsockopt(p.rx, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one));
	m.msg_flags = 0;
	r = recvmsg(p.rx, &m, 0);
	printf("recvmsg, SO_TIMESTAMP on, no control buffer: %s, flags %#x\n", res(r), (unsigned)m.msg_flags);
	return 0;
}

static int sc_iov1024(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	static struct iovec v[1024];
	for (int i = 0; i < 1024; i++)
		v[i] = (struct iovec){ b + i, 1 };
	got("readv of 1024 one-byte iovecs", readv(p.rx, v, 1024), b);
	for (int i = 0; i < 64; i++)
		v[i] = (struct iovec){ b + i * 1024, 1024 };
	got("readv of 64 1K iovecs", readv(p.rx, v, 64), b);
	return 0;
}

/* ---- neighbours -------------------------------------------------------- */

static int sc_eof(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 150 * KB);
	shutdown(p.tx, SHUT_WR);
	wait_hup(p.rx);
	got("read", read(p.rx, b, 300 * KB), b);
	got("at EOF", read(p.rx, b, 300 * KB), b);
	got("MSG_WAITALL at EOF", recv(p.rx, b, 300 * KB, MSG_WAITALL), b);
	return 0;
}

static int sc_nonblock(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	fcntl(p.rx, F_SETFL, O_NONBLOCK);
	got("O_NONBLOCK, empty", read(p.rx, b, 300 * KB), b);
	send_n(&p, 100 * KB);
	wait_arrived(&p, 0);
	got("O_NONBLOCK, MSG_WAITALL 300K, 100K queued", recv(p.rx, b, 300 * KB, MSG_WAITALL), b);
	int lowat = 200 * KB;
	setsockopt(p.rx, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	send_n(&p, 50 * KB);
	wait_arrived(&p, 0);
	got("O_NONBLOCK, SO_RCVLOWAT 200K, 50K queued", read(p.rx, b, 300 * KB), b);
	/* Blocking first (the shim learns it), then FIONBIO, which no hook
	 * sees: a MSG_WAITALL read returns what is queued. */
	struct pair q = make_pair();
	send_n(&q, 100 * KB);
	wait_arrived(&q, 0);
	got("blocking read", read(q.rx, b, 64 * KB), b);
	int on = 1;
	ioctl(q.rx, FIONBIO, &on);
	got("after FIONBIO, MSG_WAITALL 300K, 36K queued", recv(q.rx, b, 300 * KB, MSG_WAITALL), b);
	return 0;
}


/* ---- random sequences ------------------------------------------------- */

static uint64_t rng;
static int cur_lowat = 1;	/* SO_RCVLOWAT the random sequence last set */

static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return n ? (uint32_t)((rng >> 33) % n) : 0;
}

static size_t rnd_len(void)
{
	static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 65536, 100000, 262144, 1 << 20, 3 << 20 };
	size_t s = sizes[rnd(sizeof(sizes) / sizeof(sizes[0]))];
	return rnd(4) ? s : s + rnd(5000);
}

/* Up to 8 iovecs over b, shapes from tiny to large, in order. */
static int rnd_iov(struct iovec *v, uint8_t *b, size_t len)
{
	int n = 1 + (int)rnd(8);
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		size_t k = i == n - 1 ? len - at : rnd((uint32_t)(len - at + 1));
		v[i] = (struct iovec){ b + at, k };
		at += k;
	}
	return n;
}

/* One receive call of a random kind; blocking ones only where data is
 * queued (or a signal will end the wait), so the outcome is the kernel's,
 * not a race's. */
static ssize_t rnd_call(struct pair *p, uint8_t *b, size_t len, int *flagsp, const char **name)
{
	int flags = *flagsp;
	struct iovec v[8];
	struct msghdr m = { 0 };
	/* read and readv take no flags: only where they cannot block. */
	switch (flags & MSG_DONTWAIT ? 2 + rnd(3) : rnd(5)) {
	case 0:
		*name = "read";
		*flagsp = 0;
		return read(p->rx, b, len);
	case 1:
		*name = "readv";
		*flagsp = 0;
		return readv(p->rx, v, rnd_iov(v, b, len));
	case 2:
		*name = "recv";
		return recv(p->rx, b, len, flags);
	case 3: {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		*name = "recvfrom";
		return recvfrom(p->rx, b, len, flags, rnd(2) ? (struct sockaddr *)&sa : NULL, rnd(2) ? &sl : NULL);
	}
	default:
		*name = "recvmsg";
		m.msg_iov = v;
		m.msg_iovlen = (size_t)rnd_iov(v, b, len);
		ssize_t r = recvmsg(p->rx, &m, flags);
		if (r >= 0)
			printf("  msg_flags %#x\n", (unsigned)m.msg_flags);
		return r;
	}
}

static void rnd_step(struct pair *p, uint8_t *b, int step)
{
	static const int flag_set[] = { 0, 0, 0, MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL, MSG_TRUNC, MSG_PEEK | MSG_DONTWAIT };
	int q = inq(p->rx);
	size_t len = rnd_len();
	int flags = flag_set[rnd(sizeof(flag_set) / sizeof(flag_set[0]))];
	size_t target = (size_t)cur_lowat < len ? (size_t)cur_lowat : len;
	if ((!q || (!(flags & MSG_WAITALL) && (size_t)q < target)) && !(flags & MSG_DONTWAIT))
		flags |= MSG_DONTWAIT;	/* nothing would end the wait */
	if ((flags & MSG_WAITALL) && len > (size_t)q)
		len = (size_t)q;	/* MSG_WAITALL only for what is there */
	const char *name;
	uint64_t before = rcvd;
	ssize_t r = rnd_call(p, b, len, &flags, &name);
	int e = errno;
	const char *verdict = "";
	if (r > 0 && !(flags & MSG_TRUNC))
		verdict = pat_check(b, rcvd, (size_t)r) == (size_t)r ? " ok" : " BAD";
	/* What left the queue (all data had arrived before the call): the
	 * kernel may take data and still fail, e.g. on a bad *fromlen. */
	int q2 = inq(p->rx);
	rcvd += (uint64_t)(q - q2);
	errno = e;
	printf("%d: %s(%zu, %#x) = %s%s, queued %d -> %d\n", step, name, len, (unsigned)flags, res(r), verdict, q, q2);
	(void)before;
}

/* Through a dup of the socket, an option a read must honour: SO_RCVLOWAT
 * (the waits below respect it) or TCP_INQ (a recvmsg without a control
 * buffer then reports MSG_CTRUNC). */
static void rnd_option(int dupfd, int step)
{
	static const int lows[] = { 1, 5000, 100000, 700000 };
	if (rnd(3)) {
		cur_lowat = lows[rnd(4)];
		setsockopt(dupfd, SOL_SOCKET, SO_RCVLOWAT, &cur_lowat, sizeof(cur_lowat));
		printf("%d: through a dup: SO_RCVLOWAT %d\n", step, cur_lowat);
	} else {
		int on = (int)rnd(2);
		setsockopt(dupfd, IPPROTO_TCP, TCP_INQ, &on, sizeof(on));
		printf("%d: through a dup: TCP_INQ %d\n", step, on);
	}
}

/* A signal while a reader waits for SO_RCVLOWAT with part of it queued:
 * the read returns what is queued.  restart: SA_RESTART. */
static void rnd_lowat_signal(struct pair *p, int step)
{
	int q = inq(p->rx);
	struct reader rd;
	size_t len = (size_t)cur_lowat + rnd(300000);
	start_reader(&rd, p->rx, len, 0);
	wait_blocked(rd.tid);
	size_t more = 1 + rnd((uint32_t)(cur_lowat - q - 1));
	send_n(p, more);
	wait_arrived(p, 0);
	wait_blocked(rd.tid);
	int seen = __atomic_load_n(&signals_handled, __ATOMIC_ACQUIRE);
	syscall(SYS_tgkill, getpid(), rd.tid, SIGUSR1);
	while (__atomic_load_n(&signals_handled, __ATOMIC_ACQUIRE) == seen)
		sched_yield();
	pthread_join(rd.th, NULL);
	errno = rd.err;
	printf("%d: signal during a SO_RCVLOWAT %d wait, %d queued, %zu more: ", step, cur_lowat, q, more);
	got("read", rd.r, rd.buf);
	munmap(rd.buf, rd.len);
}

/* Everything queued, by non-blocking recv()s, checked by content. */
static void rnd_drain(struct pair *p, uint8_t *b, int step)
{
	int q = inq(p->rx), ok = 1;
	uint64_t from = rcvd;
	while (inq(p->rx) > 0) {
		ssize_t r = recv(p->rx, b, 4 << 20, MSG_DONTWAIT);
		if (r <= 0 || pat_check(b, rcvd, (size_t)r) != (size_t)r) {
			ok = 0;
			break;
		}
		rcvd += (uint64_t)r;
	}
	printf("%d: drained %d of %d queued%s\n", step, (int)(rcvd - from), q, ok ? " ok" : " BAD");
}

static int sc_random(const char *seed)
{
	rng = strtoull(seed, NULL, 0) * 2654435761u + 1;
	struct pair p = make_pair();
	uint8_t *b = buffer(4 << 20);
	int restart = (int)rnd(2), dupfd = dup(p.rx);
	handle(SIGUSR1, on_sig, restart);
	for (int step = 0; step < 40; step++) {
		uint32_t what = rnd(12);
		if (what < 3) {
			size_t n = rnd_len();
			if ((size_t)inq(p.rx) + n > (6u << 20)) {
				/* The receive buffer would fill and the send block
				 * (seed 2368653006): take the queue first. */
				rnd_drain(&p, b, step);
				continue;
			}
			send_n(&p, n);
			wait_arrived(&p, 0);
			printf("%d: sent %zu\n", step, n);
		} else if (what == 3 && !inq(p.rx) && cur_lowat == 1) {
			/* A signal while a reader sleeps on an empty socket; data
			 * after it, so an SA_RESTART read ends too. */
			struct reader rd;
			start_reader(&rd, p.rx, rnd_len(), rnd(2) ? MSG_WAITALL : 0);
			wait_blocked(rd.tid);
			int seen = __atomic_load_n(&signals_handled, __ATOMIC_ACQUIRE);
			syscall(SYS_tgkill, getpid(), rd.tid, SIGUSR1);
			while (__atomic_load_n(&signals_handled, __ATOMIC_ACQUIRE) == seen)
				sched_yield();
			/* SA_RESTART: the read sleeps again until data comes;
			 * otherwise it has failed with EINTR before data comes. */
			if (restart)
				wait_blocked(rd.tid);
			else
				pthread_join(rd.th, NULL);
			/* What a woken read returns is what has arrived: one
			 * segment's worth arrives at once (MSG_WAITALL waits
			 * for all of it anyway). */
			size_t one = mode == 2 ? 4096 : 32000;
			send_n(&p, rd.flags & MSG_WAITALL || rd.len < one ? rd.len : one);
			wait_arrived(&p, 0);
			if (restart)
				pthread_join(rd.th, NULL);
			errno = rd.err;
			printf("%d: signal while blocked: ", step);
			got("read", rd.r, rd.buf);
			munmap(rd.buf, rd.len);
		} else if (what == 10) {
			rnd_option(dupfd, step);
		} else if (what == 11 && cur_lowat > 1 && inq(p.rx) + 1 < cur_lowat) {
			rnd_lowat_signal(&p, step);
		} else {
			rnd_step(&p, b, step);
		}
	}
	return 0;
}

/* ---- 18. waits the kernel does, options of the socket, one run a read -- */

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Reads what is left of the stream sent on p (all of it arrived), with
 * SO_RCVLOWAT back at 1, and says whether it is the stream's bytes. */
static void drain(struct pair *p, int fd, const char *label)
{
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	wait_arrived(p, 0);
	uint8_t *b = buffer(1 << 20);
	int ok = 1;
	while (rcvd < sent) {
		size_t want = sent - rcvd > (1 << 20) ? 1 << 20 : (size_t)(sent - rcvd);
		ssize_t r = recv(fd, b, want, MSG_DONTWAIT);
		if (r <= 0) {
			ok = 0;
			break;
		}
		ok &= pat_check(b, rcvd, (size_t)r) == (size_t)r;
		rcvd += (uint64_t)r;
	}
	munmap(b, 1 << 20);
	printf("%s: the rest of the stream %s\n", label, ok ? "ok" : "BAD");
}

static void close_pair(struct pair *p)
{
	close(p->rx);
	close(p->tx);
}

/* SO_RCVLOWAT above the kernel's cap (half the receive buffer): the read
 * returns what is queued once the capped mark is reached. */
static int sc_lowat_cap(void)
{
	static const int lows[] = { 1 << 20, INT_MAX };
	for (unsigned i = 0; i < 2; i++) {
		struct pair p = make_pair_rcvbuf(128 << 10);
		setsockopt(p.rx, SOL_SOCKET, SO_RCVLOWAT, &lows[i], sizeof(int));
		send_n(&p, 200 * KB);
		wait_arrived(&p, 0);
		uint8_t *b = buffer(1 << 20);
		char label[96];
		snprintf(label, sizeof(label), "read 1M, 200000 queued, SO_RCVLOWAT %d, receive buffer 256K", lows[i]);
		got(label, read(p.rx, b, 1 << 20), b);
		drain(&p, p.rx, "then");
		munmap(b, 1 << 20);
		close_pair(&p);
	}
	return 0;
}

/* Stops this process and continues it, from a child: a stop ends a wait
 * that holds data, as a signal does. */
static void stop_and_continue(void)
{
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		kill(parent, SIGSTOP);
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)parent);
		for (;;) {
			FILE *f = fopen(path, "re");
			char st = '?';
			if (f && fgets(buf, sizeof(buf), f)) {
				char *p = strrchr(buf, ')');
				if (p && p[1])
					st = p[2];
			}
			if (f)
				fclose(f);
			if (st == 'T' || st == 't')
				break;
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);	/* polling a condition, not a timed wait */
		}
		kill(parent, SIGCONT);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

/* A reader waiting for SO_RCVLOWAT 200000 holds part of it when a signal
 * (SA_RESTART or not), a stop or SO_RCVTIMEO ends the wait: it returns
 * all that is queued.  before: bytes queued before the read starts (0: a
 * drained socket), during: bytes that arrive while it waits. */
static int lowat_wake(int how, size_t before, size_t during)
{
	static const char *const hows[] = { "a signal (SA_RESTART)", "a signal", "SO_RCVTIMEO 300ms",
					    "SIGSTOP and SIGCONT" };
	struct pair p = make_pair();
	int lowat = 200 * KB;
	setsockopt(p.rx, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	if (how == 2) {
		struct timeval tv = { 0, 300000 };
		setsockopt(p.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	} else {
		handle(SIGUSR1, on_sig, how == 0);
	}
	if (before) {
		send_n(&p, before);
		wait_arrived(&p, 0);
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct reader rd;
	start_reader(&rd, p.rx, 300 * KB, 0);
	int early = wait_blocked_or_done(&rd);
	send_n(&p, during);
	wait_arrived(&p, 0);
	if (how < 2 && !early && !wait_blocked_or_done(&rd))
		syscall(SYS_tgkill, getpid(), rd.tid, SIGUSR1);
	if (how == 3 && !early && !wait_blocked_or_done(&rd))
		stop_and_continue();
	pthread_join(rd.th, NULL);
	double ms = ms_since(&t0);
	errno = rd.err;
	char label[128];
	snprintf(label, sizeof(label), "SO_RCVLOWAT 200000, %zu queued, %zu more, then %s%s", before, during, hows[how],
		 early ? " (returned before the wait: EARLY)" : "");
	got(label, rd.r, rd.buf);
	if (how == 2)
		printf("returned at the timeout: %s\n", ms < 550 ? "yes" : "LATE");
	drain(&p, p.rx, "then");
	close_pair(&p);
	return 0;
}

static int sc_lowat_wake(void)
{
	for (int how = 0; how < 4; how++) {
		lowat_wake(how, 0, 50 * KB);
		lowat_wake(how, 50 * KB, 50 * KB);
	}
	return 0;
}

/* MSG_WAITALL under SO_RCVTIMEO: one deadline from the call's start, not
 * one a wait.  1000 ms; 10000 bytes at 400 ms, 10000 more at 1250 ms (a
 * wait that started its own deadline at 400 ms would take them too). */
struct later { struct pair *p; int ms[2]; size_t n; };

static void *later_main(void *arg)
{
	struct later *l = arg;
	int at = 0;
	for (int i = 0; i < 2; i++) {
		struct timespec ts = { 0, (long)(l->ms[i] - at) * 1000000L };
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		nanosleep(&ts, NULL);	/* the sender's schedule, not synchronisation */
		at = l->ms[i];
		send_n(l->p, l->n);
	}
	return NULL;
}

static int sc_waitall_deadline(void)
{
	struct pair p = make_pair();
	struct timeval tv = { 1, 0 };
	setsockopt(p.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct later l = { &p, { 400, 1250 }, 10 * KB };
	pthread_t th;
	uint8_t *b = buffer(1 << 20);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&th, NULL, later_main, &l);
	ssize_t r = recv(p.rx, b, 1 << 20, MSG_WAITALL);
	double ms = ms_since(&t0);
	got("MSG_WAITALL 1M, SO_RCVTIMEO 1s, 10000 bytes at 400 ms and 10000 at 1250 ms", r, b);
	printf("returned at the deadline: %s\n", ms < 1200 ? "yes" : "LATE");
	pthread_join(th, NULL);
	drain(&p, p.rx, "then");
	return 0;
}

/* Socket options belong to the socket: set through one fd, they hold for
 * reads through its dup, both ways. */
static int sc_dup_lowat(void)
{
	for (int dir = 0; dir < 2; dir++) {
		struct pair p = make_pair();
		int d = dup(p.rx), setfd = dir ? p.rx : d, rdfd = dir ? d : p.rx;
		int lowat = 200 * KB;
		setsockopt(setfd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
		send_n(&p, 50 * KB);
		wait_arrived(&p, 0);
		struct reader rd;
		start_reader(&rd, rdfd, 300 * KB, 0);
		int early = wait_blocked_or_done(&rd);
		send_n(&p, 200 * KB);
		pthread_join(rd.th, NULL);
		printf("SO_RCVLOWAT %d set through the %s, read through the %s: %s, content %s\n", lowat,
		       dir ? "socket" : "dup", dir ? "dup" : "socket",
		       early ? "EARLY" : rd.r >= lowat ? ">= lowat" : "UNDER LOWAT",
		       rd.r > 0 && pat_check(rd.buf, rcvd, (size_t)rd.r) == (size_t)rd.r ? "ok" : "BAD");
		rcvd += rd.r > 0 ? (uint64_t)rd.r : 0;
		drain(&p, rdfd, "then");
		close(d);
		close_pair(&p);
	}
	return 0;
}

static int sc_dup_peekoff(void)
{
	for (int dir = 0; dir < 2; dir++) {
		struct pair p = make_pair();
		int d = dup(p.rx), setfd = dir ? p.rx : d, rdfd = dir ? d : p.rx;
		uint8_t *b = buffer(400 * KB);
		int zero = 0;
		setsockopt(setfd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
		send_n(&p, 300 * KB);
		wait_arrived(&p, 0);
		ssize_t r = recv(setfd, b, 10 * KB, MSG_PEEK);
		printf("SO_PEEK_OFF set through the %s; peek: %s %s, offset %d\n", dir ? "socket" : "dup", res(r),
		       r > 0 && pat_check(b, rcvd, (size_t)r) == (size_t)r ? "ok" : "BAD", peek_off(setfd));
		got("read through the other fd", read(rdfd, b, 64 * KB), b);
		printf("offset after the read: %d\n", peek_off(setfd));
		r = recv(setfd, b, 10 * KB, MSG_PEEK);
		printf("peek: %s %s, offset %d\n", res(r), r > 0 && pat_check(b, rcvd, (size_t)r) == (size_t)r ? "ok" : "BAD",
		       peek_off(setfd));
		int off = -1;
		setsockopt(setfd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		drain(&p, rdfd, "then");
		close(d);
		close_pair(&p);
	}
	return 0;
}

/* A read into a 64 MiB buffer that has never been touched, 100000 bytes
 * queued: only the pages the data lands in become resident. */
static int sc_footprint(void)
{
	struct pair p = make_pair();
	send_n(&p, 100000);
	wait_arrived(&p, 0);
	size_t n = 64u << 20, pages = n / 4096, resident = 0;
	uint8_t *b = buffer(n);
	got("read 64M, 100000 queued", read(p.rx, b, n), b);
	unsigned char *vec = malloc(pages);
	if (!vec || mincore(b, n, vec))
		die("mincore: %s", strerror(errno));
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	printf("pages of the buffer made resident: %s\n", resident <= 32 ? "those written" : "MANY");
	free(vec);
	munmap(b, n);
	return 0;
}

/* ---- memory changed where no hook hears it (beyond-the-bytes, 3) ------ */

/* Reads into memory the program changed by means the shim cannot hear
 * (free()'s own munmap, raw system calls, the heap shrunk by sbrk), or
 * that fails inside a writable mapping (a file's end, a guard region, a
 * read-only second half): plain libc gives EFAULT or a short read, and so
 * must the shim, with no byte lost (each case ends with a good read). */
static void changed_read(struct pair *p, const char *what, void *b, size_t len, uint8_t *good)
{
	send_n(p, 256 * KB);
	wait_arrived(p, 0);
	ssize_t r = read(p->rx, b, len);
	int e = errno;
	if (r > 0) {
		got(what, r, b);
	} else {
		errno = e;
		after(what, r, p->rx);
	}
	int q = inq(p->rx);
	while (q > 0) {
		ssize_t k = read(p->rx, good, (size_t)q);
		got("  the rest, into good memory", k, good);
		if (k <= 0)
			break;
		q -= (int)k;
	}
}

static void *ro_at(void *where, size_t n)
{
	void *m = (void *)syscall(SYS_mmap, where, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return m == where ? m : NULL;
}

static int sc_memchanged(void)
{
	const size_t K64 = 65536;	/* page-aligned */
	struct pair p = make_pair();
	uint8_t *good = buffer(1 << 20);
	/* 1. malloc'ed, read into twice, free()d (libc's own munmap), a
	 * read-only page mapped there */
	uint8_t *m = malloc(1 << 20);
	for (int i = 0; i < 2; i++) {
		send_n(&p, K64);
		wait_arrived(&p, 0);
		got("read into a malloc'ed buffer", read(p.rx, m, K64), m);
	}
	/* Kept as a number: the program means to use it after free(). */
	uintptr_t volatile at = (uintptr_t)m;
	free(m);
	m = (uint8_t *)at;
	void *page = (void *)(at & ~(uintptr_t)4095);
	/* A sanitizer's allocator keeps freed memory (quarantine): then
	 * nothing can be mapped there, and reading into it is its own error. */
	int there = ro_at(page, 1 << 20) != NULL;
	printf("read-only page mapped where it was: %s\n", there ? "yes" : "no");
	if (there)
		changed_read(&p, "read into the freed buffer, now read-only", m, K64, good);
	/* 2. raw munmap and mmap read-only at the same place */
	uint8_t *b = buffer(8 * K64);
	changed_read(&p, "read into a fresh buffer", b, K64, good);
	syscall(SYS_munmap, b, 8 * K64);
	printf("read-only by raw mmap: %s\n", ro_at(b, 8 * K64) ? "yes" : "no");
	changed_read(&p, "read into it", b, K64, good);
	syscall(SYS_munmap, b, 8 * K64);
	/* 3. raw mprotect, whole and second half */
	b = buffer(8 * K64);
	changed_read(&p, "read into another buffer", b, K64, good);
	syscall(SYS_mprotect, b, 8 * K64, PROT_READ);
	changed_read(&p, "read after a raw mprotect read-only", b, K64, good);
	syscall(SYS_mprotect, b + K64, 7 * K64, PROT_READ | PROT_WRITE);
	changed_read(&p, "read of 128K, the first 64K read-only", b, 2 * K64, good);
	syscall(SYS_mprotect, b, 8 * K64, PROT_READ | PROT_WRITE);
	syscall(SYS_mprotect, b + K64, 7 * K64, PROT_READ);
	changed_read(&p, "read of 128K, all but the first 64K read-only", b, 2 * K64, good);
	/* 4. the heap shrunk by sbrk */
	uint8_t *top = sbrk(0);
	if (sbrk(4 * K64) != (void *)-1) {
		changed_read(&p, "read into memory from sbrk", top, K64, good);
		sbrk(-(intptr_t)(4 * K64));
		changed_read(&p, "read into it after sbrk gave it back", top, K64, good);
	}
	/* 5. a shared file mapping past the file's end (SIGBUS to memcpy) */
	int fd = memfd_create("zcdiff", 0);
	uint8_t *f = fd >= 0 && !ftruncate(fd, K64)
			     ? mmap(NULL, 4 * K64, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (f != MAP_FAILED)
		changed_read(&p, "read of 128K into a 64K file mapped 256K", f, 2 * K64, good);
	/* 5b. the program closes every fd above its own: the shim's
	 * descriptor is not the program's (close says EBADF, as plain), and
	 * after close_range takes it the shim asks through a new one */
	int closed = 0;
	for (int fd = 64; fd < 1024; fd++)
		closed += !close(fd);
	printf("fds 64-1023 closed one by one: %d\n", closed);
	printf("close_range(64, ~0): %d\n", close_range(64, ~0U, 0));
	b = buffer(8 * K64);
	changed_read(&p, "read after close_range", b, K64, good);
	syscall(SYS_mprotect, b, 8 * K64, PROT_READ);
	changed_read(&p, "read into it made read-only", b, K64, good);
	/* 6. a guard region inside a writable mapping (last: from then on the
	 * shim proves page by page) */
	b = buffer(8 * K64);
	int g = madvise(b + K64, 4096, 102 /* MADV_GUARD_INSTALL */);
	printf("guard region: %s\n", g ? strerror(errno) : "installed");
	changed_read(&p, "read of 128K across a guard page", b, 2 * K64, good);
	changed_read(&p, "a read of 64K before it", b, K64, good);
	return 0;
}

/* Each read is one contiguous run of the stream, though a forked child
 * reads the same socket (with raw system calls) at the same time. */
static int check_run(const uint8_t *b, size_t n)
{
	uint64_t off;
	return n < 16 || (!pat_locate(b, n, &off) && pat_check(b, off, n) == n);
}

/* blocking: the parent's reads wait (SO_RCVTIMEO ends the last one),
 * else MSG_DONTWAIT. */
static int race_round(struct pair *p, int blocking)
{
	size_t total = 8u << 20, chunk = 64 * KB;
	send_n(p, total);
	wait_arrived(p, 0);
	int pfd[2], go[2];
	if (pipe(pfd) || pipe(go))
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		uint8_t *cb = buffer(chunk);
		uint64_t n[2] = { 0, 1 };
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		for (;;) {
			ssize_t r = syscall(SYS_recvfrom, p->rx, cb, chunk, MSG_DONTWAIT, NULL, NULL);
			if (r <= 0)
				break;
			n[0] += (uint64_t)r;
			n[1] &= (uint64_t)check_run(cb, (size_t)r);
		}
		if (write(pfd[1], n, sizeof(n)) != sizeof(n))
			_exit(1);
		_exit(0);
	}
	uint8_t *b = buffer(4u << 20);
	uint64_t mine = 0;
	int runs = 1;
	if (write(go[1], "g", 1) != 1)
		die("pipe");
	for (;;) {
		ssize_t r = recv(p->rx, b, 4u << 20, blocking ? 0 : MSG_DONTWAIT);
		if (r <= 0)
			break;
		mine += (uint64_t)r;
		runs &= check_run(b, (size_t)r);
	}
	uint64_t child[2] = { 0, 0 };
	if (read_full(pfd[0], child, sizeof(child)) != sizeof(child))
		die("child");
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	close(pfd[1]);
	close(go[0]);
	close(go[1]);
	munmap(b, 4u << 20);
	rcvd += total;
	return (mine + child[0] == total ? 1 : 0) | (runs && child[1] ? 2 : 0);
}

static int sc_race_fork(void)
{
	struct pair p = make_pair();
	struct timeval tv = { 0, 200000 };
	setsockopt(p.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int all = 3;
	for (int i = 0; i < 8; i++)
		all &= race_round(&p, i & 1);
	printf("parent and forked child reading at once, 8 rounds, blocking and not: every byte read once %s, every read one run of the stream %s\n",
	       all & 1 ? "yes" : "NOT ALL", all & 2 ? "yes" : "BAD");
	return 0;
}

/* ---- a vfork child's fds are its own ---------------------------------- */

/* A thread of the parent sleeps reading the socket while a vfork child
 * closes it, dup2s over it or close_ranges it, then exits: the child's fds
 * are its own, and the parent's read returns the data (plain and
 * MSG_WAITALL). */
static int sc_vfork_fds(void)
{
	static const char *const ops[] = { "close", "dup2 over it", "close_range" };
	for (int op = 0; op < 3; op++)
		for (int waitall = 0; waitall < 2; waitall++) {
			struct pair p = make_pair();
			struct reader rd;
			start_reader(&rd, p.rx, 300 * KB, waitall ? MSG_WAITALL : 0);
			wait_blocked(rd.tid);
			int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC), rx = p.rx;
			pid_t pid = vfork();
			if (pid == 0) {
				if (op == 0)
					close(rx);
				else if (op == 1)
					dup2(devnull, rx);
				else
					close_range((unsigned)rx, (unsigned)rx, 0);
				_exit(0);
			}
			waitpid(pid, NULL, 0);
			/* Not MSG_WAITALL: one segment's worth, which arrives at
			 * once, so the woken read's length is the kernel's. */
			send_n(&p, waitall ? 100 * KB : 4000);
			if (waitall) {
				wait_arrived(&p, 0);
				send_n(&p, 200 * KB);
			}
			pthread_join(rd.th, NULL);
			errno = rd.err;
			char label[96];
			snprintf(label, sizeof(label), "a vfork child did %s; the parent's %sread", ops[op],
				 waitall ? "MSG_WAITALL " : "");
			got(label, rd.r, rd.buf);
			close(devnull);
			drain(&p, p.rx, "then");
			close_pair(&p);
		}
	return 0;
}

/* ---- the socket's error, and every holder of it ------------------------ */

/* Reads fd to its end, 256 KiB at a time: "N bytes, then E" (E: the
 * error that ended it, or EOF).  Content checked against the stream from
 * rcvd. */
static const char *read_to_end(int fd)
{
	static char out[96];
	uint8_t *b = buffer(256 * KB);
	uint64_t n = 0;
	int ok = 1;
	ssize_t r;
	while ((r = read(fd, b, 256 * KB)) > 0) {
		ok &= pat_check(b, rcvd, (size_t)r) == (size_t)r;
		rcvd += (uint64_t)r;
		n += (uint64_t)r;
	}
	snprintf(out, sizeof(out), "%llu bytes%s, then %s", (unsigned long long)n, ok ? "" : " BAD",
		 r < 0 ? ename(errno) : "EOF");
	munmap(b, 256 * KB);
	return out;
}

/* A connection with n bytes queued behind which the peer reset it. */
static struct pair reset_after(size_t n)
{
	struct pair p = make_pair();
	send_n(&p, n);
	wait_arrived(&p, 0);
	reset_peer(p.tx);
	wait_hup(p.rx);
	return p;
}

static int sc_errors(void)
{
	/* 1. Many connections reset at once, each read to its end. */
	enum { N = 100 };
	static struct pair ps[N];
	for (int i = 0; i < N; i++) {
		ps[i] = make_pair();
		send_n(&ps[i], 300000);
		wait_arrived(&ps[i], 0);
	}
	for (int i = 0; i < N; i++)
		reset_peer(ps[i].tx);
	int resets = 0, eofs = 0, first = 1;
	uint8_t *fb = buffer(100000);
	for (int i = 0; i < N; i++) {	/* a first read of each, then the rest of each */
		wait_hup(ps[i].rx);
		first &= read(ps[i].rx, fb, 100000) == 100000 &&
			 pat_check(fb, sent - (uint64_t)(N - i) * 300000, 100000) == 100000;
	}
	for (int i = 0; i < N; i++) {
		rcvd = sent - (uint64_t)(N - i) * 300000 + 100000;
		const char *r = read_to_end(ps[i].rx);
		resets += strstr(r, "ECONNRESET") != NULL;
		eofs += strstr(r, "EOF") != NULL;
		close(ps[i].rx);
	}
	rcvd = sent;
	printf("%d connections reset behind 300000 bytes, 100000 read of each, then the rest: first reads %s; ECONNRESET on %d, a clean EOF on %d\n",
	       N, first ? "ok" : "BAD", resets, eofs);

	/* 2. Part read here, then a forked child reads the rest; then the
	 * parent reads again. */
	struct pair p = reset_after(300000);
	uint8_t *b = buffer(256 * KB);
	got("read", read(p.rx, b, 100000), b);
	int pfd[2];
	if (pipe(pfd))
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		const char *r = read_to_end(p.rx);
		if (write(pfd[1], r, strlen(r) + 1) < 0)
			_exit(1);
		_exit(0);
	}
	char child[96] = { 0 };
	if (read(pfd[0], child, sizeof(child) - 1) <= 0)
		die("child");
	waitpid(pid, NULL, 0);
	printf("a forked child then read: %s\n", child);
	rcvd = sent;
	printf("and the parent after it: %s\n", read_to_end(p.rx));

	/* 3. Part read here, the rest by a program exec'd with the socket. */
	p = reset_after(300000);
	got("read", read(p.rx, b, 100000), b);
	pid = fork();
	if (pid == 0) {
		char fd[16], off[32];
		snprintf(fd, sizeof(fd), "%d", p.rx);
		snprintf(off, sizeof(off), "%llu", (unsigned long long)rcvd);
		fcntl(p.rx, F_SETFD, 0);
		dup2(pfd[1], 1);
		execl("/proc/self/exe", "zcdiff", "x", "read_fd", fd, off, (char *)NULL);
		_exit(127);
	}
	memset(child, 0, sizeof(child));
	if (read(pfd[0], child, sizeof(child) - 1) <= 0)
		die("exec'd reader");
	waitpid(pid, NULL, 0);
	printf("a program exec'd with the socket then read: %s", child);
	rcvd = sent;

	/* 4. The peer's FIN, then its reset. */
	p = make_pair();
	send_n(&p, 300000);
	shutdown(p.tx, SHUT_WR);
	wait_arrived(&p, 0);
	wait_hup(p.rx);
	got("FIN after 300000 bytes, then a reset; read", read(p.rx, b, 200000), b);
	reset_peer(p.tx);
	for (int i = 0; i < 100; i++) {	/* until the reset has reached rx */
		struct pollfd q = { .fd = p.rx, .events = 0 };
		if (poll(&q, 1, 10) > 0 && (q.revents & POLLERR))
			break;
	}
	printf("then: %s\n", read_to_end(p.rx));

	/* 5. Part read; poll and SO_ERROR show the reset still pending. */
	p = reset_after(300000);
	got("read", read(p.rx, b, 100000), b);
	struct pollfd q = { .fd = p.rx, .events = POLLIN };
	poll(&q, 1, 0);
	int err = 0;
	socklen_t l = sizeof(err);
	getsockopt(p.rx, SOL_SOCKET, SO_ERROR, &err, &l);
	printf("then poll says %s, SO_ERROR %s\n", q.revents & POLLERR ? "POLLERR" : "no error",
	       err ? ename(err) : "0");
	printf("and the rest: %s\n", read_to_end(p.rx));
	return 0;
}

/* ---- 19. a seccomp filter the program installs ------------------------ */

static volatile sig_atomic_t sigsys_nr = -1;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	sigsys_nr = si->si_syscall;
}

/* The calls the reading child makes from here on, plain: no more. */
static const int filter_allows[] = { SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(recvfrom), SCMP_SYS(ioctl),
				     SCMP_SYS(exit_group), SCMP_SYS(exit), SCMP_SYS(rt_sigreturn) };

/* libseccomp (its seccomp_load calls syscall(SYS_seccomp)), default
 * action act for every call not listed. */
static int install_libseccomp(uint32_t act, uint32_t flags)
{
	scmp_filter_ctx ctx = seccomp_init(act);
	if (!ctx)
		return -1;
	for (size_t i = 0; i < sizeof(filter_allows) / sizeof(filter_allows[0]); i++)
		seccomp_rule_add(ctx, SCMP_ACT_ALLOW, filter_allows[i], 0);
	if (flags)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	return seccomp_load(ctx);	/* ctx is left: free() might want brk */
}

/* A hand-made filter through prctl(PR_SET_SECCOMP): kill the process on
 * any call not listed. */
static int install_prctl(void)
{
	enum { N = sizeof(filter_allows) / sizeof(filter_allows[0]) };
	struct sock_filter f[4 + 2 * N];
	int k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int i = 0; i < N; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)filter_allows[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[k - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = (unsigned short)(k + 1), .filter = f };
	struct sock_filter all[4 + 2 * N + 1];
	memcpy(all, f, sizeof(f));
	all[k] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog.filter = all;
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int install_filter(const char *how)
{
	if (!strcmp(how, "strict"))
		return prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
	if (!strcmp(how, "prctl"))
		return install_prctl();
	uint32_t act = !strcmp(how, "kill_process") ? SCMP_ACT_KILL_PROCESS :
		       !strcmp(how, "kill_thread") ? SCMP_ACT_KILL_THREAD :
		       !strcmp(how, "trap") ? SCMP_ACT_TRAP :
		       !strcmp(how, "errno") ? SCMP_ACT_ERRNO(EPERM) :
		       !strcmp(how, "trace") ? SCMP_ACT_TRACE(1) : SCMP_ACT_LOG;
	return install_libseccomp(act, !strcmp(how, "tsync"));
}

/* Until the child sleeps in a receive call, or has ended. */
static void wait_child_blocked(pid_t pid)
{
	char dir[32];
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	for (int i = 0; i < 20000; i++) {
		siginfo_t si = { 0 };
		if (!waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid)
			return;
		if (sleeps_receiving(dir))
			return;
		usleep(1000);	/* polling a condition, not a timed wait */
	}
	die("the child never blocked");
}

/* The exec'd child (zcdiff SENDER seccomp_child HOW RXFD SYNCFD
 * OFFSET): a fresh process that inherited the socket, as a server's
 * worker would.  It reads, installs the filter, reads on (what is queued,
 * a MSG_WAITALL read, a read that waits for data to come), then says what
 * it saw.  Strict mode allows only read, write and exit. */
static int seccomp_child(const char *how, int rx, int sync)
{
	uint8_t *b = buffer(1 << 20);
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigaction(SIGSYS, &sa, NULL);
	int strict = !strcmp(how, "strict");
	got("before the filter", read(rx, b, 100 * KB), b);
	int r = install_filter(how);
	printf("filter %s: %s\n", how, r == 0 ? "installed" : "not installed");
	got("read", read(rx, b, 100 * KB), b);
	if (!strict)
		got("recv MSG_WAITALL", recv(rx, b, 100 * KB, MSG_WAITALL), b);
	char c = 1;
	if (write(sync, &c, 1) != 1)
		syscall(SYS_exit, 3);
	got("read that waits", read(rx, b, 1 << 20), b);
	printf("SIGSYS: %s\n", sigsys_nr < 0 ? "none" : "for a call");
	syscall(SYS_exit, 0);
	return 0;
}

static int sc_seccomp(const char *self)
{
	static const char *const hows[] = { "kill_process", "kill_thread", "trap", "errno", "trace", "log",
					    "tsync", "prctl", "strict" };
	for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		struct pair p = make_pair();
		send_n(&p, 300 * KB);
		wait_arrived(&p, 0);
		int sv[2];
		if (pipe(sv))
			die("pipe");
		fcntl(p.rx, F_SETFD, 0);
		char rxs[16], syncs[16], offs[32];
		snprintf(rxs, sizeof(rxs), "%d", p.rx);
		snprintf(syncs, sizeof(syncs), "%d", sv[1]);
		snprintf(offs, sizeof(offs), "%llu", (unsigned long long)rcvd);
		const char *snd = mode == 2 ? "zc4108" : mode ? "zc" : "plain";
		pid_t pid = fork();
		if (pid == 0) {
			execl(self, self, snd, "seccomp_child", hows[i], rxs, syncs, offs, (char *)NULL);
			_exit(127);
		}
		close(sv[1]);
		close(p.rx);
		char c;
		if (read(sv[0], &c, 1) == 1) {
			wait_child_blocked(pid);
			send_n(&p, 50 * KB);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		printf("%s: child %s %d\n", hows[i], WIFSIGNALED(st) ? "killed by signal" : "exit",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		close(sv[0]);
		close(p.tx);
		sent = rcvd = 0;
	}
	return 0;
}

/* ---- 20. splice out of the socket ----------------------------------- */

/* splice() from the socket into a pipe, between reads: the kernel's path,
 * which the shim must leave alone (it only counts it, #23).  The bytes
 * that come out of the pipe are the stream's, in order, with the reads. */
static int sc_splice(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(1 << 20);
	int pp[2];
	if (pipe(pp))
		die("pipe");
	fcntl(pp[0], F_SETPIPE_SZ, 1 << 20);
	send_n(&p, 300 * KB);
	wait_arrived(&p, 0);
	for (int i = 0; i < 3; i++) {
		ssize_t s = splice(p.rx, NULL, pp[1], NULL, 60 * KB, SPLICE_F_MOVE);
		int e = errno;
		ssize_t r = s > 0 ? read(pp[0], b, (size_t)s) : s;
		errno = e;
		got("splice then pipe read", r, b);
		got("read", read(p.rx, b, 40 * KB), b);
	}
	send_n(&p, 64 * KB);
	wait_arrived(&p, 0);
	got("recv rest", recv(p.rx, b, 1 << 20, MSG_DONTWAIT), b);
	fcntl(p.rx, F_SETFL, O_NONBLOCK);	/* SPLICE_F_NONBLOCK is the pipe's */
	printf("splice, nothing queued: %s\n", res(splice(p.rx, NULL, pp[1], NULL, 4096, 0)));
	close(p.tx);
	wait_hup(p.rx);
	printf("splice at EOF: %s\n", res(splice(p.rx, NULL, pp[1], NULL, 4096, SPLICE_F_NONBLOCK)));
	return 0;
}

/* A read that stopped inside a page leaves the rest of that page queued
 * (under the shim, the next read copies it before asking the kernel
 * anything).  A fork child takes the rest of the stream meanwhile, then
 * the peer resets: the next read finds the queue empty and the socket's
 * error set, and must report it, not an EOF (a copy that meets the error
 * takes it from the socket; the shim once answered the real call, which
 * found it gone). */
static int sc_rest_then_reset(void)
{
	struct pair p = make_pair();
	uint8_t *b = buffer(400 * KB);
	send_n(&p, 1000 * KB);
	wait_arrived(&p, 0);
	got("read 60000", read(p.rx, b, 60 * KB), b);
	pid_t c = fork();
	if (c < 0)
		die("fork");
	if (!c) {
		ssize_t r;
		while ((r = recv(p.rx, b, 400 * KB, MSG_DONTWAIT)) > 0)
			;
		_exit(r < 0 && errno == EAGAIN ? 0 : 1);
	}
	int st = 0;
	waitpid(c, &st, 0);
	printf("a fork child took the rest: %s\n", WIFEXITED(st) && !WEXITSTATUS(st) ? "yes" : "no");
	printf("queued now: %d\n", inq(p.rx));
	reset_peer(p.tx);
	wait_hup(p.rx);
	got("read after the reset", read(p.rx, b, 60 * KB), b);
	got("then", read(p.rx, b, 60 * KB), b);
	return 0;
}

/* The exec'd half of sc_errors, 3: reads fd to its end from stream offset
 * off and says how it ended, on stdout. */
static int read_fd(const char *fd, const char *off)
{
	rcvd = strtoull(off, NULL, 0);
	printf("%s\n", read_to_end(atoi(fd)));
	return 0;
}

static const struct { const char *name; int (*fn)(void); } table[] = {
	{ "urgent", NULL }, { "seccomp", NULL }, { "urgent_inline", NULL }, { "urgent_waitall", sc_urgent_waitall },
	{ "cancel", sc_cancel }, { "self_cancel", sc_self_cancel }, { "longjmp", sc_longjmp }, { "peekoff", sc_peekoff },
	{ "badptr", sc_badptr }, { "short", sc_short }, { "lowat", sc_lowat },
	{ "waitall_timeo", sc_waitall_timeo }, { "waitall_restart", NULL }, { "waitall_eintr", NULL },
	{ "rcvtimeo", sc_rcvtimeo_empty }, { "repair", sc_repair }, { "beyond", sc_beyond },
	{ "addrlen", sc_addrlen }, { "rst_dup", sc_rst_dup }, { "stale", sc_stale },
	{ "errno", sc_errno }, { "ctrunc", sc_ctrunc }, { "iov1024", sc_iov1024 },
	{ "eof", sc_eof }, { "nonblock", sc_nonblock },
	{ "lowat_cap", sc_lowat_cap }, { "lowat_wake", sc_lowat_wake }, { "waitall_deadline", sc_waitall_deadline },
	{ "dup_lowat", sc_dup_lowat }, { "dup_peekoff", sc_dup_peekoff }, { "footprint", sc_footprint },
	{ "race_fork", sc_race_fork }, { "vfork_fds", sc_vfork_fds }, { "errors", sc_errors },
	{ "splice", sc_splice }, { "memchanged", sc_memchanged }, { "rest_then_reset", sc_rest_then_reset },

};

int main(int argc, char **argv)
{
	errno_at_start = errno;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && !strcmp(argv[2], "read_fd"))
		return read_fd(argv[3], argv[4]);
	if (argc == 7 && !strcmp(argv[2], "seccomp_child")) {
		rcvd = strtoull(argv[6], NULL, 0);
		return seccomp_child(argv[3], atoi(argv[4]), atoi(argv[5]));
	}
	if (argc == 4 && !strcmp(argv[2], "random")) {
		mode = !strcmp(argv[1], "zc") ? 1 : !strcmp(argv[1], "zc4108") ? 2 : 0;
		return sc_random(argv[3]);
	}
	if (argc != 3)
		die("usage: zcdiff plain|zc|zc4108 SCENARIO | zcdiff SENDER random SEED");
	mode = !strcmp(argv[1], "zc") ? 1 : !strcmp(argv[1], "zc4108") ? 2 : 0;
	const char *s = argv[2];
	if (!strcmp(s, "seccomp"))
		return sc_seccomp(argv[0]);
	if (!strcmp(s, "urgent"))
		return sc_urgent(0);
	if (!strcmp(s, "urgent_inline"))
		return sc_urgent(1);
	if (!strcmp(s, "waitall_restart"))
		return sc_waitall_signal(1);
	if (!strcmp(s, "waitall_eintr"))
		return sc_waitall_signal(0);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].fn && !strcmp(s, table[i].name))
			return table[i].fn();
	die("unknown scenario %s", s);
}
