/*
 * zcstress - lifecycle stress for the shim: threads opening, reading,
 * duplicating and closing sockets at random, with forks, for a while.
 *
 *   zcstress SECONDS [THREADS]
 *
 * An in-process server sends each accepted connection 0-4 MiB of the
 * pattern, with MSG_ZEROCOPY or plain send at random.  Client threads loop
 * until the deadline: connect, read with a random size and call (read,
 * recv, readv, recvmsg, MSG_WAITALL), sometimes through a dup of the fd
 * (closing the original), sometimes closing early, sometimes forking a
 * child that reads a connection of its own; every byte read is checked.
 * At the end, with every socket closed: no fd may be left over and no page
 * may remain mapped from a socket (the shim's windows are released).
 * Built with ASan and UBSan by `make test`; prints one summary line, exit
 * 0 only if all of that holds.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

static int port, lfd;
static int stop;               /* set once by main; read by the clients (atomic) */
static int senders;             /* sender threads still running */
static uint64_t total_bytes, conns, corrupt, forks;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *sender(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint64_t seed = (uint64_t)fd * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL);
	size_t n = (size_t)(rnd(&seed) % (4u << 20));
	int zc = (int)(rnd(&seed) & 1);
	uint8_t *b = mmap(NULL, n + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pat_fill(b, 0, n);
	if (zc) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
	}
	size_t done = 0;
	while (done < n) {
		ssize_t w = send(fd, b + done, n - done, (zc ? MSG_ZEROCOPY : 0) | MSG_NOSIGNAL);
		if (w < 0 && (errno == ENOBUFS || errno == EINTR))
			continue;
		if (w <= 0)
			break;	/* the reader closed early */
		done += (size_t)w;
	}
	close(fd);
	munmap(b, n + 1);	/* pages still in flight stay pinned by the kernel */
	__atomic_fetch_sub(&senders, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *acceptor(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			break;	/* listener shut down */
		__atomic_fetch_add(&senders, 1, __ATOMIC_ACQUIRE);
		pthread_t th;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_create(&th, &at, sender, (void *)(intptr_t)fd);
		pthread_attr_destroy(&at);
	}
	return NULL;
}

static const size_t sizes[] = { 100, 4096, 16384, 65536, 262144, 1 << 20, 1000000 };

/* Reads one connection with random habits; returns bytes, counts corruption. */
static uint64_t one_conn(uint64_t *seed, uint8_t *buf)
{
	int fd = connect_loopback(port, 0);
	if (rnd(seed) % 4 == 0) {
		int d = rnd(seed) & 1 ? dup(fd) : fcntl(fd, F_DUPFD_CLOEXEC, 50);
		close(fd);
		fd = d;
	}
	size_t size = sizes[rnd(seed) % (sizeof(sizes) / sizeof(sizes[0]))];
	int api = (int)(rnd(seed) % 5), early = rnd(seed) % 8 == 0;
	uint64_t at = 0;
	for (int reads = 0;; reads++) {
		if (early && reads == 3)
			break;
		ssize_t r;
		struct iovec v[3] = { { buf, size / 3 }, { buf + size / 3, size / 3 }, { buf + 2 * (size / 3), size - 2 * (size / 3) } };
		struct msghdr m = { .msg_iov = v, .msg_iovlen = 3 };
		switch (api) {
		case 0: r = read(fd, buf, size); break;
		case 1: r = recv(fd, buf, size, 0); break;
		case 2: r = readv(fd, v, 3); break;
		case 3: r = recvmsg(fd, &m, 0); break;
		default: r = recv(fd, buf, size, MSG_WAITALL); break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (pat_check(buf, at, (size_t)r) != (size_t)r)
			__atomic_fetch_add(&corrupt, 1, __ATOMIC_RELAXED);
		at += (uint64_t)r;
	}
	close(fd);
	return at;
}

static void *client(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
	uint8_t *buf = malloc(1 << 20);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (rnd(&seed) % 32 == 0) {
			pid_t p = fork();
			if (p == 0) {
				/* a connection of the child's own, read to the end */
				uint64_t s2 = seed ^ 0x5555;
				uint64_t c0 = __atomic_load_n(&corrupt, __ATOMIC_RELAXED);
				one_conn(&s2, buf);
				_exit(__atomic_load_n(&corrupt, __ATOMIC_RELAXED) != c0);
			}
			int st;
			waitpid(p, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				__atomic_fetch_add(&corrupt, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&forks, 1, __ATOMIC_RELAXED);
			continue;
		}
		uint64_t n = one_conn(&seed, buf);
		__atomic_fetch_add(&total_bytes, n, __ATOMIC_RELAXED);
		__atomic_fetch_add(&conns, 1, __ATOMIC_RELAXED);
	}
	free(buf);
	return NULL;
}

/* Resident kB of mappings backed by sockets (the shim's windows), and how
 * many there are. */
static long socket_rss_kb(int *maps)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in_socket = 0;
	long kb = 0, v;
	*maps = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {	/* a mapping's header line */
			in_socket = strstr(line, "socket:") != NULL;
			*maps += in_socket;
			continue;
		}
		if (in_socket && sscanf(line, "Rss: %ld kB", &v) == 1)
			kb += v;
	}
	if (f)
		fclose(f);
	return kb;
}

/* A run that has not ended a minute after its length is stuck (seen once
 * in CI, under TSan): say where each thread waits (its system call and
 * kernel wait channel) before the test's timeout kills it unheard. */
static void *watchdog(void *arg)
{
	struct timespec ts = { (time_t)(uintptr_t)arg + 60, 0 };
	nanosleep(&ts, NULL);
	fprintf(stderr, "zcstress: stuck; threads:\n");
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[300], sc[256] = "", wc[64] = "";
		FILE *f;
		snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", de->d_name);
		if ((f = fopen(path, "r"))) {
			(void)!fgets(sc, sizeof(sc), f);
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/self/task/%s/wchan", de->d_name);
		if ((f = fopen(path, "r"))) {
			(void)!fgets(wc, sizeof(wc), f);
			fclose(f);
		}
		sc[strcspn(sc, "\n")] = 0;
		fprintf(stderr, "  task %s: syscall %s; wchan %s\n", de->d_name, sc, wc);
	}
	if (d)
		closedir(d);
	fflush(stderr);
	abort();
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 30, nthreads = argc > 2 ? atoi(argv[2]) : 4;
	signal(SIGPIPE, SIG_IGN);
	pthread_t wd;
	pthread_create(&wd, NULL, watchdog, (void *)(uintptr_t)secs);
	pthread_detach(wd);
	int before = count_fds();
	lfd = listen_loopback(0, &port);
	pthread_t acc, th[64];
	pthread_create(&acc, NULL, acceptor, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, client, (void *)(uintptr_t)(i + 1));
	struct timespec ts = { secs, 0 };
	nanosleep(&ts, NULL);	/* the length of the run */
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	shutdown(lfd, SHUT_RDWR);
	pthread_join(acc, NULL);
	close(lfd);
	while (__atomic_load_n(&senders, __ATOMIC_ACQUIRE))
		sched_yield();	/* senders end on their own once their peer closed */
	int after = count_fds();
	/* With no TCP socket open, each window keeps under 64 KiB (the shim's
	 * zcwin_trim): at most 60 kB resident apiece. */
	int windows;
	long rss = socket_rss_kb(&windows), bound = 60L * windows;
	printf("stress: %llu connections, %llu MiB read, %llu forks, corrupt=%llu, fds before=%d after=%d, "
	       "socket-mapped RSS %ld kB in %d windows (bound %ld kB): %s\n",
	       (unsigned long long)conns, (unsigned long long)(total_bytes >> 20), (unsigned long long)forks,
	       (unsigned long long)corrupt, before, after, rss, windows, bound, rss <= bound ? "ok" : "OVER");
	/* for the soak: what this process itself read, to hold against the
	 * shim's counters for this pid */
	printf("pid=%d bytes=%llu\n", (int)getpid(), (unsigned long long)total_bytes);
	return corrupt || before != after || rss > bound;
}
