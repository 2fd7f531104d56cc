/*
 * zcstack - how much stack one receive call uses: plain libc, or the shim
 * when run under it (test_robust compares the two).
 *
 *   zcstack SENDER      SENDER: plain | zc | zc4108
 *
 * Each call runs on a stack of its own, 64 KiB painted with a pattern (a
 * ucontext coroutine); when it returns, how deep the pattern was
 * overwritten is what the call used.  Lines "CALL: N bytes of stack" for
 * the first read of a connection (the shim's set-up: its window, the scan
 * of the signal dispositions, the stats slot), then read, recv, readv,
 * recvmsg and a MSG_WAITALL recv, each of 256 KiB with 1 MiB queued.
 * Then the places a small stack is real, each of which dies of SIGSEGV if
 * a call needs more than it has: a handler on an 8 KiB sigaltstack, a
 * thread with a PTHREAD_STACK_MIN stack, an 8 KiB coroutine.
 *
 * Preconditions: loopback; the helpers built.  Run under the shim with
 * ZCSHIM_MIN_READ=0 so that every read takes the mapped path.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

#include <limits.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <ucontext.h>

#define KB 1024u
#define STACK (64 * KB)
#define PAINT 0xA5

static int mode;                /* 0 plain, 1 zc, 2 zc4108 */
static uint64_t sent, rcvd;
static int rx, tx;
static uint8_t *buf;

static void send_more(size_t n)
{
	uint8_t *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		die("mmap");
	pat_fill(b, sent, n);
	if (mode)
		zc_send_all(tx, b, n);	/* the pages stay the receiver's: never reused */
	else
		write_all(tx, b, n);
	sent += n;
	for (int q = 0; q < (int)(sent - rcvd);) {
		struct pollfd p = { .fd = rx, .events = POLLIN };
		poll(&p, 1, 10);	/* until all of it is queued */
		ioctl(rx, SIOCINQ, &q);
	}
}

static void connect_pair(void)
{
	int port, l = listen_loopback(mode == 2 ? 4108 : 0, &port);
	helper_rcvbuf = 8 << 20;
	rx = connect_loopback(port, 0);
	tx = accept(l, NULL, NULL);
	close(l);
	int one = 1;
	if (mode && setsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY: %s", strerror(errno));
}

/* ---- one call on a painted stack ------------------------------------- */

static ucontext_t main_ctx, call_ctx;
static int which;
static ssize_t result;

static ssize_t one_call(int kind)
{
	size_t n = 256 * KB;
	struct iovec v[2] = { { buf, n / 2 }, { buf + n / 2, n / 2 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
	switch (kind) {
	case 0:
	case 1:
		return read(rx, buf, n);
	case 2:
		return recv(rx, buf, n, 0);
	case 3:
		return readv(rx, v, 2);
	case 4:
		return recvmsg(rx, &m, 0);
	default:
		return recv(rx, buf, n, MSG_WAITALL);
	}
}

static void on_stack(void)
{
	result = one_call(which);
	swapcontext(&call_ctx, &main_ctx);
}

static size_t measure(int kind)
{
	static uint8_t *stk;
	if (!stk && (stk = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		die("mmap");
	memset(stk, PAINT, STACK);
	getcontext(&call_ctx);
	call_ctx.uc_stack.ss_sp = stk;
	call_ctx.uc_stack.ss_size = STACK;
	call_ctx.uc_link = &main_ctx;
	makecontext(&call_ctx, on_stack, 0);
	which = kind;
	swapcontext(&main_ctx, &call_ctx);
	size_t untouched = 0;
	while (untouched < STACK && stk[untouched] == PAINT)
		untouched++;
	return STACK - untouched;
}

static int take(ssize_t r)
{
	int ok = r > 0 && pat_check(buf, rcvd, (size_t)r) == (size_t)r;
	if (r > 0)
		rcvd += (uint64_t)r;
	return ok;
}

/* ---- the small stacks of real programs ------------------------------- */

static volatile ssize_t handler_result;

static void on_usr1(int s)
{
	(void)s;
	int e = errno;
	handler_result = read(rx, buf, 256 * KB);	/* read is async-signal-safe */
	errno = e;
}

static void *small_thread(void *arg)
{
	(void)arg;
	result = read(rx, buf, 256 * KB);
	return NULL;
}

static void small_stacks(void)
{
	stack_t ss = { .ss_size = 8 * KB };
	ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sigaltstack(&ss, NULL);
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	sigaction(SIGUSR1, &sa, NULL);
	send_more(1024 * KB);
	raise(SIGUSR1);
	printf("a handler on an 8 KiB sigaltstack: read %s\n", take(handler_result) ? "ok" : "BAD");

	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN);
	pthread_t th;
	if (pthread_create(&th, &a, small_thread, NULL))
		die("pthread_create");
	pthread_join(th, NULL);
	printf("a thread with a PTHREAD_STACK_MIN stack: read %s\n", take(result) ? "ok" : "BAD");

	static uint8_t co[8 * KB] __attribute__((aligned(16)));
	getcontext(&call_ctx);
	call_ctx.uc_stack.ss_sp = co;
	call_ctx.uc_stack.ss_size = sizeof(co);
	call_ctx.uc_link = &main_ctx;
	makecontext(&call_ctx, on_stack, 0);
	which = 1;
	swapcontext(&main_ctx, &call_ctx);
	printf("an 8 KiB coroutine: read %s\n", take(result) ? "ok" : "BAD");
}

/* Every call once on a pipe first: the dynamic linker resolves a
 * function on its first call, with a few KiB of stack, plain or not. */
static void warm_up(void)
{
	int p[2];
	char c[8];
	struct iovec v = { c, 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p))
		die("socketpair");
	write_all(p[1], "abcd", 4);
	if (read(p[0], c, 1) != 1 || recv(p[0], c, 1, 0) != 1 || readv(p[0], &v, 1) != 1 || recvmsg(p[0], &m, 0) != 1)
		die("warm-up");
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "first read", "read", "recv", "readv", "recvmsg", "recv MSG_WAITALL" };
	if (argc != 2)
		die("usage: zcstack plain|zc|zc4108");
	mode = !strcmp(argv[1], "zc") ? 1 : !strcmp(argv[1], "zc4108") ? 2 : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	buf = mmap(NULL, 256 * KB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	warm_up();
	connect_pair();
	for (int k = 0; k < 6; k++) {
		send_more(1024 * KB);
		size_t used = measure(k);
		printf("%s: %zu bytes of stack, data %s\n", names[k], used, take(result) ? "ok" : "BAD");
		while (rcvd < sent) {	/* the rest, so each call starts alike */
			ssize_t r = recv(rx, buf, 256 * KB, MSG_DONTWAIT);
			if (!take(r))
				die("drain");
		}
	}
	small_stacks();
	return 0;
}
