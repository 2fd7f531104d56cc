/*
 * libzcseen.so - a second interposer, for the test that preloads it behind
 * the shim (zcstat puts the shim first; this library follows it).
 *
 * It interposes read and recvfrom, counts the calls made on sockets, and
 * at exit writes the count to the file named by ZCSEEN_OUT (if any: zcstat
 * runs with the same environment and reads no socket).  A program's
 * reads reach it only through the shim's next-symbol calls: the shim must
 * not make the system call itself when the next read is not libc's.
 * Test-only; never part of the shim.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned long seen;

static void count(int fd)
{
	struct stat st;
	if (!fstat(fd, &st) && S_ISSOCK(st.st_mode))
		__atomic_add_fetch(&seen, 1, __ATOMIC_RELAXED);
}

__attribute__((visibility("default"))) ssize_t read(int fd, void *buf, size_t n)
{
	static ssize_t (*real)(int, void *, size_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "read");
	count(fd);
	return real(fd, buf, n);
}

__attribute__((visibility("default"))) ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
							  struct sockaddr *a, socklen_t *al)
{
	static ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "recvfrom");
	count(fd);
	return real(fd, buf, n, flags, a, al);
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("ZCSEEN_OUT");
	if (!path || !seen)
		return;
	char line[32];
	int len = snprintf(line, sizeof(line), "%lu\n", seen);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd >= 0) {
		if (syscall(SYS_write, fd, line, (size_t)len) < 0)
			perror("zcseen");
		close(fd);
	}
}
