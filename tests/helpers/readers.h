/*
 * readers.h - a thread that sits in one receive call, and a way to know it
 * sleeps there, for the helpers that test waiting (zcsem, zcdiff).
 */
#ifndef ZCSHIM_HELPER_READERS_H
#define ZCSHIM_HELPER_READERS_H

#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

struct reader {
	pthread_t th;
	pid_t tid;
	int fd, flags;
	size_t len;
	uint8_t *buf;
	ssize_t r;
	int err;
	int started;
	int done;               /* the call has returned */
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	rd->tid = (pid_t)syscall(SYS_gettid);
	__atomic_store_n(&rd->started, 1, __ATOMIC_RELEASE);
	rd->r = recv(rd->fd, rd->buf, rd->len, rd->flags);
	rd->err = errno;
	__atomic_store_n(&rd->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A thread doing recv(fd, len bytes, flags) into a buffer of its own. */
static inline void start_reader(struct reader *rd, int fd, size_t len, int flags)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = fd;
	rd->len = len;
	rd->flags = flags;
	rd->buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rd->buf == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (pthread_create(&rd->th, NULL, reader_main, rd))
		die("pthread_create");
	while (!__atomic_load_n(&rd->started, __ATOMIC_ACQUIRE))
		sched_yield();
}

/* Until thread tid sleeps in a receive call, or in the poll a reader
 * waits in for the rest of a MSG_WAITALL/SO_RCVLOWAT read (under the
 * shim).  Nothing else can say when: /proc is polled. */
static inline int blocked_or_done(pid_t tid, const int *done);
static inline void wait_blocked(pid_t tid)
{
	if (!blocked_or_done(tid, NULL))
		die("reader never blocked");
}

/* Until the reader sleeps in its call or has returned from it: 1 if it
 * returned (a read that should have waited and did not). */
static inline int wait_blocked_or_done(struct reader *rd)
{
	return blocked_or_done(rd->tid, &rd->done) == 2;
}

/* 1 if the task whose /proc directory is dir (/proc/self/task/TID,
 * /proc/PID) sleeps in a receive call (or poll) right now. */
static inline int sleeps_receiving(const char *dir)
{
	char path[96], buf[256];
	snprintf(path, sizeof(path), "%s/syscall", dir);
	FILE *f = fopen(path, "re");
	long nr = -1;
	if (f) {
		if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/stat", dir);
	f = fopen(path, "re");
	char st = '?';
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			if (p && p[1])
				st = p[2];
		}
		fclose(f);
	}
	return st == 'S' && (nr == SYS_read || nr == SYS_recvfrom || nr == SYS_recvmsg || nr == SYS_readv ||
			     nr == SYS_poll || nr == SYS_ppoll);
}

/* 1 once tid sleeps in a receive call (or poll), 2 once *done is set,
 * 0 if neither happened within about 20 s. */
static inline int blocked_or_done(pid_t tid, const int *done)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/self/task/%d", tid);
	for (int i = 0; i < 20000; i++) {
		if (done && __atomic_load_n(done, __ATOMIC_ACQUIRE))
			return 2;
		if (sleeps_receiving(dir))
			return 1;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);	/* polling a condition, not a timed wait */
	}
	return 0;
}

#endif
