/*
 * sigwatch.h - does the program handle any asynchronous signal?
 *
 * The part of a mapped read that holds the fd's lock and a window must not
 * be left by a siglongjmp out of a signal handler (zcread.c).  Blocking
 * signals around it costs two system calls per read, which on a VM with
 * costly system calls is a tenth of the mapped path.  A program that has
 * installed no handler for any asynchronous signal cannot jump out of
 * anything, so the shim blocks signals only once one is installed: it
 * watches sigaction, signal and sigset (hooked), and before the first read
 * that would need it reads the dispositions already in place (handlers a
 * sanitizer runtime or a library set before the hooks were bound; the
 * SigCgt line of /proc/self/status, once, paid only by processes that map).  A handler installed by a raw
 * rt_sigaction system call is beyond what it can see (README).
 */
#ifndef ZCSHIM_SIGWATCH_H
#define ZCSHIM_SIGWATCH_H

#include <signal.h>

/* Sets up sigwatch_async (start-up; no system call). */
void sigwatch_init(void);
/* A disposition is being set: note it if it is a handler.  Inline and
 * plain: sighooks.c (never sanitizer-instrumented) calls it. */
static inline void sigwatch_note(int sig, const struct sigaction *act)
{
	extern int sigwatch_handled;
	if (!act || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP ||
	    sig == SIGSYS)
		return;
	if ((act->sa_flags & SA_SIGINFO) || (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN))
		__atomic_store_n(&sigwatch_handled, 1, __ATOMIC_RELAXED);
}
/* Reads the dispositions in place; returns sigwatch_handled. */
int sigwatch_scan(void);
/* 1 if signals must be blocked around the locked part of a read. */
static inline int sigwatch_guard(void)
{
	extern int sigwatch_handled, sigwatch_scanned;
	if (__atomic_load_n(&sigwatch_handled, __ATOMIC_RELAXED))
		return 1;
	return __atomic_load_n(&sigwatch_scanned, __ATOMIC_RELAXED) ? 0 : sigwatch_scan();
}
/* The signals to block there: all but the synchronous faults. */
extern sigset_t sigwatch_async;

#endif
