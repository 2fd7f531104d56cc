/*
 * maphooks.c - the hooks that tell memok.c to prove memory page by page:
 * pkey_alloc (protection keys forbid access per thread, which no
 * mapping's flags show) and madvise(MADV_GUARD_INSTALL) (guard regions
 * fault inside a mapping that says it is writable).  Only the notice is
 * added; the call itself is the next one's.
 *
 * Built without sanitizer instrumentation and touching nothing until the
 * shim runs: a sanitizer runtime linked into the shim (make test
 * SANITIZE=thread) may call these while it starts, before it can run
 * instrumented code, and before our constructor.  Until the next symbols
 * are known, the raw system call answers.
 */
#define _GNU_SOURCE
#include "state.h"
#include "export.h"
#include "libc.h"
#include "memok.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static inline int running(void)
{
	return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_DONE;
}

/* Before the symbols are resolved (or while a sanitizer starts), the raw
 * call; afterwards the next definition, so other interposers still see it. */
#define NEXT_OR_SYSCALL(name, ...) \
	(init_resolved() && libc_sym._libc_##name.f ? libc_sym._libc_##name.f(__VA_ARGS__) : syscall(SYS_##name, __VA_ARGS__))

EXPORT int pkey_alloc(unsigned flags, unsigned rights)
{
	if (running())
		memok_pagewise();
	return (int)NEXT_OR_SYSCALL(pkey_alloc, flags, rights);
}

EXPORT int madvise(void *a, size_t n, int advice)
{
	if (advice == MADV_GUARD_INSTALL && running())
		memok_pagewise();
	return (int)NEXT_OR_SYSCALL(madvise, a, n, advice);
}
