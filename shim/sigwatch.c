/*
 * sigwatch.c - see sigwatch.h.
 */
#define _GNU_SOURCE
#include "sigwatch.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int sgw_handled;
sigset_t sgw_async;

static int synchronous(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP ||
	       sig == SIGSYS;
}

void sgw_note(int sig, const struct sigaction *act)
{
	if (!act || synchronous(sig))
		return;
	if ((act->sa_flags & SA_SIGINFO) || (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN))
		__atomic_store_n(&sgw_handled, 1, __ATOMIC_RELAXED);
}

/* The kernel's struct for rt_sigaction: handler, flags, restorer, mask. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

void sgw_init(void)
{
	int saved = errno;
	sigfillset(&sgw_async);
	for (int sig = 1; sig < _NSIG; sig++) {
		if (synchronous(sig)) {
			sigdelset(&sgw_async, sig);
			continue;
		}
		struct ksigaction old;
		memset(&old, 0, sizeof(old));
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(old.mask)))
			continue;
		if (old.handler != (void *)SIG_DFL && old.handler != (void *)SIG_IGN)
			__atomic_store_n(&sgw_handled, 1, __ATOMIC_RELAXED);
	}
	errno = saved;
}
