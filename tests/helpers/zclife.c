/*
 * zclife - process and fd lifecycle scenarios for the shim.
 *
 *   zclife close PATH PORT   read the whole stream, then close the socket by
 *                            PATH (close, close_range, dup2, fclose, exit),
 *                            print "closed", and wait for stdin EOF: the test
 *                            checks the peer saw the close while we live on
 *   zclife fork PORT         two connections; after fork the parent reads
 *                            one, the child the other, each verified
 *   zclife exec PORT ZCRECV  exec ZCRECV --fd N on the inherited socket
 *   zclife dup PORT          read one stream through dup, F_DUPFD_CLOEXEC
 *                            and dup3 copies, closing the older ones
 *   zclife hold PORT         read the whole stream, keep the socket open,
 *                            print "ready" and wait for stdin EOF (live views)
 *   zclife highfd PORT       raise RLIMIT_NOFILE, move the socket to fd
 *                            70000 and read the stream through it
 *   zclife spawn PORT ZCRECV posix_spawn and vfork+exec children read
 *                            two inherited sockets (the shim runs no fork
 *                            handlers for them)
 *   zclife closeblocked PORT a thread blocks in read; another closes the
 *                            fd; the peer's close then ends the read
 *   zclife closereuse        a thread blocks in read on a drained socket;
 *                            another closes the fd and reuses its number
 *                            for a new connection whose data arrives
 *                            first: the blocked read must return data of
 *                            the old stream or EBADF, never the new one's,
 *                            and the new socket keeps all of its data
 *   zclife stale PORT        read a socket, close it behind the shim's back
 *                            (raw syscall), reuse the fd number for a pipe
 *                            and then a file: their reads must be theirs
 *
 * Streams are the pattern (pattern.h); exit 0 only if every byte checked.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define CHUNK (1u << 20)

/* Reads n bytes (0 = until EOF) from fd, checking them from stream offset
 * *at onward; returns 0 if intact. */
static int read_check(int fd, uint64_t *at, uint64_t n)
{
	static uint8_t buf[CHUNK];
	uint64_t end = n ? *at + n : UINT64_MAX;
	while (*at < end) {
		size_t want = end - *at < CHUNK ? (size_t)(end - *at) : CHUNK;
		ssize_t r = read(fd, buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "zclife: read: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0)
			return n ? 1 : 0;
		if (pat_check(buf, *at, (size_t)r) != (size_t)r) {
			fprintf(stderr, "zclife: mismatch near %llu\n", (unsigned long long)*at);
			return 1;
		}
		*at += (uint64_t)r;
	}
	return 0;
}

static int do_close(const char *how, int port)
{
	int fd = connect_loopback(port, 0);
	uint64_t at = 0;
	if (read_check(fd, &at, 0))
		return 1;
	if (!strcmp(how, "close")) {
		close(fd);
	} else if (!strcmp(how, "close_range")) {
		if (close_range((unsigned)fd, (unsigned)fd, 0))
			die("close_range: %s", strerror(errno));
	} else if (!strcmp(how, "dup2")) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		dup2(nul, fd);
		close(nul);
	} else if (!strcmp(how, "fclose")) {
		FILE *f = fdopen(fd, "r");
		fclose(f);
	} else if (!strcmp(how, "exit")) {
		printf("closed\n");
		exit(0);
	} else {
		die("unknown close path %s", how);
	}
	printf("closed\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

static int do_fork(int port)
{
	int a = connect_loopback(port, 0), b = connect_loopback(port, 0);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	uint64_t at = 0;
	if (pid == 0) {
		close(a);
		_exit(read_check(b, &at, 0) ? 1 : 0);
	}
	close(b);
	int bad = read_check(a, &at, 0);
	int st;
	waitpid(pid, &st, 0);
	int child_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	printf("parent %s, child %s\n", bad ? "BROKEN" : "ok", child_ok ? "ok" : "BROKEN");
	return bad || !child_ok;
}

static int do_exec(int port, const char *zcrecv)
{
	int fd = connect_loopback(port, 0);
	fcntl(fd, F_SETFD, 0);	/* inherited across exec */
	char fds[16];
	snprintf(fds, sizeof(fds), "%d", fd);
	execl(zcrecv, zcrecv, "--fd", fds, (char *)NULL);
	die("exec %s: %s", zcrecv, strerror(errno));
}

static int do_dup(int port, uint64_t third)
{
	int fd = connect_loopback(port, 0);
	uint64_t at = 0;
	int d1 = dup(fd);
	close(fd);
	if (read_check(d1, &at, third))
		return 1;
	int d2 = fcntl(d1, F_DUPFD_CLOEXEC, 100);
	if (read_check(d2, &at, third))
		return 1;
	int d3 = dup3(d2, 200, O_CLOEXEC);
	close(d1);
	close(d2);
	if (d3 != 200 || read_check(d3, &at, 0))
		return 1;
	printf("dup chain: %llu bytes ok via fds %d, %d, %d\n", (unsigned long long)at, d1, d2, d3);
	return 0;
}

/* The shim's entry for fd still says TCP; the fd is now something else. */
static int do_stale(int port)
{
	int fd = connect_loopback(port, 0);
	uint64_t at = 0;
	if (read_check(fd, &at, 0))
		return 1;
	syscall(SYS_close, fd);	/* unhooked close */
	int p[2];
	if (pipe(p))
		die("pipe");
	if (p[0] != fd) {	/* make the pipe's read end take the old number */
		dup2(p[0], fd);
		syscall(SYS_close, p[0]);
	}
	write_all(p[1], "pipe data", 9);
	char buf[64] = { 0 };
	ssize_t r = read(fd, buf, sizeof(buf));
	int ok = r == 9 && !memcmp(buf, "pipe data", 9);
	syscall(SYS_close, fd);
	int f = open("/proc/self/comm", O_RDONLY);
	if (f != fd) {
		dup2(f, fd);
		syscall(SYS_close, f);
	}
	memset(buf, 0, sizeof(buf));
	r = read(fd, buf, sizeof(buf));
	ok = ok && r > 0 && !strncmp(buf, "zclife", 6);
	printf("stale fd %d: pipe read %s, file read %s\n", fd, ok ? "ok" : "WRONG", ok ? "ok" : "WRONG");
	return !ok;
}

static int do_highfd(int port)
{
	struct rlimit rl = { 100000, 100000 };
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		printf("skip: cannot raise RLIMIT_NOFILE: %s\n", strerror(errno));
		return 0;
	}
	int fd = connect_loopback(port, 0);
	if (dup2(fd, 70000) != 70000)
		die("dup2: %s", strerror(errno));
	close(fd);
	uint64_t at = 0;
	if (read_check(70000, &at, 0))
		return 1;
	printf("fd 70000: %llu bytes ok\n", (unsigned long long)at);
	return 0;
}

static int do_spawn(int port, const char *zcrecv)
{
	int a = connect_loopback(port, 0), b = connect_loopback(port, 0);
	fcntl(a, F_SETFD, 0);
	fcntl(b, F_SETFD, 0);
	char fa[16], fb[16];
	snprintf(fa, sizeof(fa), "%d", a);
	snprintf(fb, sizeof(fb), "%d", b);
	char *av[] = { (char *)zcrecv, "--fd", fa, NULL };
	pid_t p1;
	if (posix_spawn(&p1, zcrecv, NULL, NULL, av, environ))
		die("posix_spawn");
	av[2] = fb;
	pid_t p2 = vfork();
	if (p2 == 0) {
		execv(zcrecv, av);
		_exit(127);
	}
	close(a);
	close(b);
	int s1, s2;
	waitpid(p1, &s1, 0);
	waitpid(p2, &s2, 0);
	int ok1 = WIFEXITED(s1) && !WEXITSTATUS(s1), ok2 = WIFEXITED(s2) && !WEXITSTATUS(s2);
	printf("posix_spawn child %s, vfork child %s\n", ok1 ? "ok" : "BROKEN", ok2 ? "ok" : "BROKEN");
	return !(ok1 && ok2);
}

/* The two scenarios below close an fd while another thread reads it (and
 * reuse its number): a race staged on purpose.  Under ThreadSanitizer the
 * staged steps are hidden from the race detector (only they: the shim's
 * hooks run inside them for real). */
#ifdef __SANITIZE_THREAD__
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define STAGED(...) do { __tsan_ignore_thread_begin(); __VA_ARGS__; __tsan_ignore_thread_end(); } while (0)
#else
#define STAGED(...) do { __VA_ARGS__; } while (0)
#endif

struct blocked {
	int fd;
	ssize_t r;
	int err;
	pid_t tid;
	int started;            /* atomic: set once tid is known */
};

static uint8_t blocked_buf[1 << 20];

static void *blocked_reader(void *arg)
{
	struct blocked *b = arg;
	b->tid = (pid_t)syscall(SYS_gettid);
	__atomic_store_n(&b->started, 1, __ATOMIC_RELEASE);
	STAGED(b->r = read(b->fd, blocked_buf, sizeof(blocked_buf)));
	b->err = errno;
	return NULL;
}

/* Sleeping in a receive call, per /proc (nothing else can say when). */
static void wait_sleeping(pid_t tid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	for (int i = 0; i < 20000; i++) {
		FILE *f = fopen(path, "re");
		char st = '?';
		if (f && fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
			st = strrchr(buf, ')')[2];
		if (f)
			fclose(f);
		if (st == 'S')
			return;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	die("reader never slept");
}

static int do_closeblocked(int port)
{
	struct blocked b = { .fd = connect_loopback(port, 0) };
	pthread_t th;
	pthread_create(&th, NULL, blocked_reader, &b);
	while (!__atomic_load_n(&b.started, __ATOMIC_ACQUIRE))
		sched_yield();
	wait_sleeping(b.tid);
	STAGED(close(b.fd));
	printf("closed while blocked\n");	/* the peer closes its end now */
	pthread_join(th, NULL);
	errno = b.err;
	printf("blocked read returned %zd%s%s\n", b.r, b.r < 0 ? " " : "", b.r < 0 ? strerror(b.err) : "");
	return 0;
}

#define REUSE_NEW_AT (1ull << 32)	/* the new connection's stream offset */

static int accept_one(int lfd)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	return fd;
}

static int do_closereuse(void)
{
	static uint8_t old1[256 << 10], old2[64 << 10], fresh[64 << 10];
	int p1, p2, one = 1;
	int l1 = listen_loopback(4108, &p1), l2 = listen_loopback(4108, &p2);
	struct blocked b = { .fd = connect_loopback(p1, 4108) };
	int peer1 = accept_one(l1);
	setsockopt(peer1, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	pat_fill(old1, 0, sizeof(old1));
	pat_fill(old2, sizeof(old1), sizeof(old2));
	pat_fill(fresh, REUSE_NEW_AT, sizeof(fresh));

	zc_send_all(peer1, old1, sizeof(old1));
	uint64_t at = 0;
	if (read_check(b.fd, &at, sizeof(old1)))
		return 1;
	pthread_t th;
	pthread_create(&th, NULL, blocked_reader, &b);
	while (!__atomic_load_n(&b.started, __ATOMIC_ACQUIRE))
		sched_yield();
	wait_sleeping(b.tid);

	int s2;
	STAGED(close(b.fd); s2 = connect_loopback(p2, 4108));
	if (s2 != b.fd)
		die("the fd number was not reused (%d, %d)", s2, b.fd);
	int peer2 = accept_one(l2);
	write_all(peer2, fresh, sizeof(fresh));
	zc_send_all(peer1, old2, sizeof(old2));	/* wakes the blocked read */
	pthread_join(th, NULL);

	const char *blocked = "STOLE NEW DATA";
	if (b.r < 0 && b.err == EBADF)
		blocked = "EBADF";
	else if (b.r < 0)
		blocked = strerror(b.err);
	else if (b.r > 0 && pat_check(blocked_buf, sizeof(old1), (size_t)b.r) == (size_t)b.r)
		blocked = "old stream data";
	uint64_t nat = REUSE_NEW_AT;
	shutdown(peer2, SHUT_WR);
	int intact = !read_check(s2, &nat, 0) && nat == REUSE_NEW_AT + sizeof(fresh);
	printf("blocked read: %s; new connection: %s\n", blocked, intact ? "intact" : "BROKEN");
	close(s2), close(peer1), close(peer2), close(l1), close(l2);
	return 0;
}

static int do_hold(int port)
{
	int fd = connect_loopback(port, 0);
	uint64_t at = 0;
	if (read_check(fd, &at, 0))
		return 1;
	printf("ready %d\n", (int)getpid());
	char c;
	while (read(0, &c, 1) > 0)
		;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 4 && !strcmp(argv[1], "close"))
		return do_close(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "fork"))
		return do_fork(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "exec"))
		return do_exec(atoi(argv[2]), argv[3]);
	if (argc == 4 && !strcmp(argv[1], "spawn"))
		return do_spawn(atoi(argv[2]), argv[3]);
	if (argc == 3 && !strcmp(argv[1], "closeblocked"))
		return do_closeblocked(atoi(argv[2]));
	if (argc == 2 && !strcmp(argv[1], "closereuse"))
		return do_closereuse();
	if (argc == 3 && !strcmp(argv[1], "highfd"))
		return do_highfd(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "hold"))
		return do_hold(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "stale"))
		return do_stale(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "dup"))
		return do_dup(atoi(argv[2]), parse_size(argv[3]));
	die("usage: zclife close PATH PORT | fork PORT | exec PORT ZCRECV | dup PORT THIRD");
}
