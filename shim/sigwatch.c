/*
 * sigwatch.c - see sigwatch.h.
 */
#define _GNU_SOURCE
#include "sigwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int sigwatch_handled, sigwatch_scanned;
sigset_t sigwatch_async;

static int synchronous(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP ||
	       sig == SIGSYS;
}

/* The kernel's struct for rt_sigaction: handler, flags, restorer, mask. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

void sigwatch_init(void)
{
	sigfillset(&sigwatch_async);
	for (int sig = 1; sig < _NSIG; sig++)
		if (synchronous(sig))
			sigdelset(&sigwatch_async, sig);
}

/* The caught-signal mask from /proc/self/status ("SigCgt:"): a few system
 * calls instead of one per signal.  Read in small pieces: this may run on
 * a signal handler's 8 KiB stack (the first read that takes data).  -1 if
 * it cannot be read. */
static int caught_mask(uint64_t *mask)
{
	static const char key[] = "SigCgt:";
	char buf[256];
	size_t have = 0;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC), found = 0;
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = syscall(SYS_read, fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *p = strstr(buf, key);
		if (p && strchr(p, '\n')) {
			uint64_t m = 0;
			for (p += sizeof(key) - 1; *p == ' ' || *p == '\t'; p++)
				;
			for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
				m = m << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
			*mask = m;
			found = 1;
			break;
		}
		/* Keep the last line begun (it may be the key's): whole lines
		 * of /proc/self/status are far shorter than the buffer. */
		char *nl = strrchr(buf, '\n');
		size_t keep = nl ? have - (size_t)(nl + 1 - buf) : 0;
		memmove(buf, buf + have - keep, keep);
		have = keep;
	}
	syscall(SYS_close, fd);
	return found ? 0 : -1;
}

int sigwatch_scan(void)
{
	int saved = errno;
	uint64_t m;
	if (!caught_mask(&m)) {
		for (int sig = 1; sig <= 64; sig++)
			if ((m >> (sig - 1) & 1) && !synchronous(sig))
				__atomic_store_n(&sigwatch_handled, 1, __ATOMIC_RELAXED);
	} else {
		for (int sig = 1; sig < _NSIG && !__atomic_load_n(&sigwatch_handled, __ATOMIC_RELAXED); sig++) {
			if (synchronous(sig) || sig == SIGKILL || sig == SIGSTOP)
				continue;
			struct ksigaction old;
			memset(&old, 0, sizeof(old));
			if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(old.mask)))
				continue;
			if (old.handler != (void *)SIG_DFL && old.handler != (void *)SIG_IGN)
				__atomic_store_n(&sigwatch_handled, 1, __ATOMIC_RELAXED);
		}
	}
	__atomic_store_n(&sigwatch_scanned, 1, __ATOMIC_RELAXED);
	errno = saved;
	return __atomic_load_n(&sigwatch_handled, __ATOMIC_RELAXED);
}
