/*
 * memok.c - see memok.h.
 */
#define _GNU_SOURCE
#include "memok.h"
#include "hot.h"
#include "page.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* include/uapi/linux/fs.h (6.11): Debian's headers predate it. */
struct memok_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define MEMOK_PROCMAP_QUERY 0xC0686611UL	/* _IOWR('f', 17, struct memok_query) */
#define MEMOK_VMA_READABLE 0x01
#define MEMOK_VMA_WRITABLE 0x02

enum { ASK_UNKNOWN, ASK_YES, ASK_NO };

static HOT int maps_fd = -1;		/* the shim's /proc/self/maps */
static int query_ok = ASK_UNKNOWN;	/* the kernel has PROCMAP_QUERY */
static int populate_ok = ASK_UNKNOWN;	/* the kernel has MADV_POPULATE_* */
static int pagewise;			/* pkeys or guard regions in use */
static pid_t owner;			/* the process that may open maps_fd */
static int open_later;			/* questions to wait before opening again */

void memok_init(pid_t pid)
{
	__atomic_store_n(&owner, pid, __ATOMIC_RELAXED);
}

void memok_pagewise(void)
{
	__atomic_store_n(&pagewise, 1, __ATOMIC_RELAXED);
}

int memok_fd_is(int fd)
{
	return fd >= 0 && fd == __atomic_load_n(&maps_fd, __ATOMIC_RELAXED);
}

void memok_fd_gone(int fd)
{
	if (fd >= 0)
		__atomic_compare_exchange_n(&maps_fd, &fd, -1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void memok_fds_gone(unsigned lo, unsigned hi)
{
	int fd = __atomic_load_n(&maps_fd, __ATOMIC_RELAXED);
	if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi)
		memok_fd_gone(fd);
}

void memok_after_fork_child(pid_t pid)
{
	__atomic_store_n(&owner, pid, __ATOMIC_RELAXED);
	__atomic_store_n(&open_later, 0, __ATOMIC_RELAXED);
	int fd = __atomic_exchange_n(&maps_fd, -1, __ATOMIC_RELAXED);
	if (fd >= 0)
		syscall(SYS_close, fd);
}

/* The descriptor sits high in the first 1024 (out of the way of programs
 * that expect the lowest free numbers, and of select()'s limit), close on
 * exec.  Opened by raw system calls (open is a cancellation point), never
 * in a vfork child: the number would be the child's, the memory the
 * parent's.  -1: none (no /proc, no descriptor free). */
static int maps_open(void)
{
	pid_t o = __atomic_load_n(&owner, __ATOMIC_RELAXED);
	if (!o || (pid_t)syscall(SYS_getpid) != o)
		return -1;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct rlimit rl;
	long at = 1016;
	if (!syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) && rl.rlim_cur < 1024)
		at = (long)rl.rlim_cur - 8;
	if (at > fd) {
		int high = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, at);
		if (high >= 0) {
			syscall(SYS_close, fd);
			fd = high;
		}
	}
	int none = -1;
	if (!__atomic_compare_exchange_n(&maps_fd, &none, fd, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		syscall(SYS_close, fd);	/* another thread's is in place */
		fd = none;
	}
	return fd;
}

/* The mapping under addr: 1 found, 0 none there, -1 the kernel cannot say. */
static int vma_at(uintptr_t addr, struct memok_query *q)
{
	int fd = __atomic_load_n(&maps_fd, __ATOMIC_RELAXED);
	if (fd < 0) {
		/* After a failed open (no /proc, no free descriptor, a vfork
		 * child) the next 64 questions go page by page: not two wasted
		 * system calls on every read. */
		int left = __atomic_load_n(&open_later, __ATOMIC_RELAXED);
		if (left > 0) {	/* a lost race only counts one less */
			__atomic_compare_exchange_n(&open_later, &left, left - 1, 0, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
			return -1;
		}
		if ((fd = maps_open()) < 0) {
			__atomic_store_n(&open_later, 64, __ATOMIC_RELAXED);
			return -1;
		}
	}
	*q = (struct memok_query){ .size = sizeof(*q), .query_addr = addr };
	if (!syscall(SYS_ioctl, fd, MEMOK_PROCMAP_QUERY, q)) {
		__atomic_store_n(&query_ok, ASK_YES, __ATOMIC_RELAXED);
		return 1;
	}
	if (errno == ENOENT)
		return 0;
	/* Our own descriptor refuses: this kernel has no PROCMAP_QUERY.  A
	 * descriptor that answered before and now refuses was closed behind
	 * the shim's back and perhaps reused: forget it, never close it. */
	if (__atomic_load_n(&query_ok, __ATOMIC_RELAXED) == ASK_UNKNOWN && (errno == ENOTTY || errno == EINVAL))
		__atomic_store_n(&query_ok, ASK_NO, __ATOMIC_RELAXED);
	else
		memok_fd_gone(fd);
	return -1;
}

/* Page by page: 1 yes, 0 no, -1 this kernel cannot say. */
static int populate(uintptr_t lo, uintptr_t hi, int how)
{
	if (__atomic_load_n(&populate_ok, __ATOMIC_RELAXED) == ASK_NO)
		return -1;
	/* Raw: the shim's own madvise hook is for the program's calls. */
	if (!syscall(SYS_madvise, lo, hi - lo, how == MEMOK_WRITE ? MADV_POPULATE_WRITE : MADV_POPULATE_READ)) {
		__atomic_store_n(&populate_ok, ASK_YES, __ATOMIC_RELAXED);
		return 1;
	}
	if (errno != EINVAL || __atomic_load_n(&populate_ok, __ATOMIC_RELAXED) == ASK_YES)
		return 0;
	/* EINVAL before any success: a kernel before 5.14, or a range it
	 * refuses.  A page that is certainly fine tells which (not on the
	 * stack: this may run on a handler's 8 KiB stack). */
	static uint8_t probe[PAGE] __attribute__((aligned(4096)));
	if (syscall(SYS_madvise, probe, PAGE, MADV_POPULATE_WRITE) && errno == EINVAL) {
		__atomic_store_n(&populate_ok, ASK_NO, __ATOMIC_RELAXED);
		return -1;
	}
	__atomic_store_n(&populate_ok, ASK_YES, __ATOMIC_RELAXED);
	return 0;
}

/* Mapping by mapping: 1 yes, 0 no, -1 the kernel cannot say.  Only
 * anonymous private mappings go into the read's scope: the others are
 * asked page by page each time. */
static int by_mapping(struct memok_scope *sc, uintptr_t lo, uintptr_t hi, int how)
{
	struct memok_query q;
	uint64_t need = how == MEMOK_WRITE ? MEMOK_VMA_WRITABLE : MEMOK_VMA_READABLE;
	while (lo < hi) {
		if (sc && lo >= sc->start && lo < sc->end) {
			if (!(sc->flags & need))
				return 0;
			lo = sc->end < hi ? sc->end : hi;
			continue;
		}
		int found = vma_at(lo, &q);
		if (found <= 0)
			return found;
		if (!(q.vma_flags & need))
			return 0;
		uintptr_t end = q.vma_end < hi ? (uintptr_t)q.vma_end : hi;
		/* Backed by a file or shared memory, or huge pages: whether a
		 * page can be had shows only page by page. */
		int anon = !q.inode && !q.dev_major && !q.dev_minor && q.vma_page_size == PAGE;
		if (!anon && populate(lo, end, how) == 0)
			return 0;
		if (anon && sc)
			*sc = (struct memok_scope){ (uintptr_t)q.vma_start, (uintptr_t)q.vma_end, q.vma_flags };
		lo = end;
	}
	return 1;
}

int memok(struct memok_scope *sc, const void *p, size_t n, int how)
{
	uintptr_t a = (uintptr_t)p;
	if (!n)
		return 1;
	if (a < PAGE || a + n < a)
		return 0;
	uintptr_t lo = a & ~(uintptr_t)(PAGE - 1), hi = (a + n + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	int saved = errno, ok = -1;
	if (!__atomic_load_n(&pagewise, __ATOMIC_RELAXED) && __atomic_load_n(&query_ok, __ATOMIC_RELAXED) != ASK_NO)
		ok = by_mapping(sc, lo, hi, how);
	if (ok < 0)
		ok = populate(lo, hi, how);
	errno = saved;
	return ok != 0;	/* -1: neither question exists here; trusted */
}
