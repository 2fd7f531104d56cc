/*
 * maphooks.c - the hooks that tell memok.c the program changed its
 * mappings: mprotect, pkey_mprotect, munmap, mremap, mmap (MAP_FIXED),
 * shmdt.  Only the notice is added; the call itself is the next one's.
 *
 * Built without sanitizer instrumentation and touching nothing until the
 * shim runs: a sanitizer runtime linked into the shim (make test
 * SANITIZE=thread) maps memory through these very symbols while it starts,
 * before it can run instrumented code, and before our constructor.  Until
 * the next symbols are known, the raw system call answers.
 */
#define _GNU_SOURCE
#include "state.h"
#include "export.h"
#include "libc.h"
#include "memok.h"

#include <stdarg.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>


static inline int running(void)
{
	return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_DONE;
}

/* Before the symbols are resolved (or while a sanitizer starts), the raw
 * call; afterwards the next definition, so other interposers still see it. */
#define NEXT_OR_SYSCALL(name, ...) \
	(init_resolved() && libc_sym._libc_##name.f ? libc_sym._libc_##name.f(__VA_ARGS__) : syscall(SYS_##name, __VA_ARGS__))

EXPORT int mprotect(void *a, size_t n, int prot)
{
	if (running())
		memok_changed();
	return (int)NEXT_OR_SYSCALL(mprotect, a, n, prot);
}

EXPORT int pkey_mprotect(void *a, size_t n, int prot, int pkey)
{
	if (running())
		memok_changed();
	return (int)NEXT_OR_SYSCALL(pkey_mprotect, a, n, prot, pkey);
}

EXPORT int munmap(void *a, size_t n)
{
	if (running())
		memok_changed();
	return (int)NEXT_OR_SYSCALL(munmap, a, n);
}

static void *map(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_FIXED) && running())
		memok_changed();
	if (init_resolved() && libc_sym._libc_mmap.f)
		return libc_sym._libc_mmap.f(a, n, prot, flags, fd, off);
	return (void *)syscall(SYS_mmap, a, n, prot, flags, fd, off);
}

EXPORT void *mmap(void *a, size_t n, int prot, int flags, int fd, off_t off) { return map(a, n, prot, flags, fd, off); }
EXPORT void *mmap64(void *a, size_t n, int prot, int flags, int fd, off_t off) { return map(a, n, prot, flags, fd, off); }

EXPORT void *mremap(void *old, size_t n, size_t m, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *to = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
	va_end(ap);
	if (running())
		memok_changed();
	if (init_resolved() && libc_sym._libc_mremap.f)
		return libc_sym._libc_mremap.f(old, n, m, flags, to);
	return (void *)syscall(SYS_mremap, old, n, m, flags, to);
}

EXPORT int shmdt(const void *a)
{
	if (running())
		memok_changed();
	return (int)NEXT_OR_SYSCALL(shmdt, a);
}
