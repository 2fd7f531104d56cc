/*
 * sighooks.c - the sigaction hook (sigwatch.h: does the program handle an
 * asynchronous signal?).  Only the notice is added; the call itself is the
 * next one's.
 *
 * Built without sanitizer instrumentation, like maphooks.c: a sanitizer
 * runtime (make test SANITIZE=thread) installs its handlers through this
 * very symbol while it starts, before it can run instrumented code and
 * before our constructor.  Until the shim runs, glibc's own __sigaction
 * answers (what the runtime asked for: the call after its interceptor).
 * signal() and sigset() are hooked in preload.c: no runtime calls them
 * while starting.
 */
#define _GNU_SOURCE
#include "state.h"
#include "export.h"
#include "libc.h"
#include "sigwatch.h"

#include <signal.h>


extern int __sigaction(int, const struct sigaction *, struct sigaction *);

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_DONE || !libc_sym._libc_sigaction.f)
		return __sigaction(sig, act, old);
	sigwatch_note(sig, act);	/* before: a signal may arrive the moment it is set */
	return libc_sym._libc_sigaction.f(sig, act, old);
}
