/*
 * memok.h - may the shim touch this memory of the caller's?
 *
 * Plain libc hands every pointer to the kernel, which answers EFAULT for a
 * bad one.  The shim reads iovec arrays and message headers itself and
 * copies mapped data with memcpy, which would crash instead, and only after
 * the data was taken from the socket.  So before it takes anything it asks
 * the kernel, for each read, about exactly the memory it will touch; where
 * the answer is no (or there is none), the real call answers, EFAULT and
 * all.  Nothing is remembered from one read to the next: the program may
 * change its memory by means no hook hears (free()'s own munmap, the heap's
 * trim, a raw system call).
 *
 * The question, cheapest first:
 *  - PROCMAP_QUERY (Linux 6.11+), an ioctl on the shim's own descriptor of
 *    /proc/self/maps: is each mapping under the range readable, writable?
 *    One call per mapping the range spans, whatever its size.  Enough for
 *    anonymous private memory, whose pages the kernel supplies on any
 *    access the mapping allows.
 *  - MADV_POPULATE_READ/WRITE (5.14+), page by page: for mappings backed
 *    by a file or shared memory (a page past the file's end is SIGBUS to
 *    memcpy, EFAULT to the kernel), hugetlb, and for every range once the
 *    program has used protection keys or guard regions (which no mapping's
 *    flags show); and wherever PROCMAP_QUERY is missing.
 *  - Before 5.14 neither exists: the shim trusts the pointer.
 */
#ifndef ZCSHIM_MEMOK_H
#define ZCSHIM_MEMOK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { MEMOK_READ = 0, MEMOK_WRITE = 1 };

/* One read's answers: a read that asks several times (each zero-copy call
 * proves the pages it fills) asks the kernel about a mapping once.  Zeroed
 * at the read's start; never kept beyond it. */
struct memok_scope {
	uintptr_t start, end;   /* the last mapping the kernel described */
	uint64_t flags;
};

/* 1 if [p, p+n) may be accessed that way now (n 0: always).  sc: this
 * read's answers so far, or NULL. */
int memok(struct memok_scope *sc, const void *p, size_t n, int how);
/* The program used protection keys or installed guard regions: from now
 * on every range is proved page by page. */
void memok_pagewise(void);
/* 1 if fd is the shim's own /proc/self/maps (close answers EBADF for it,
 * as plain libc would: the program never opened it). */
int memok_fd_is(int fd);
/* fd was closed or replaced by the program (close_range, dup2 over it):
 * if it was the shim's, forget it (a later question opens another). */
void memok_fd_gone(int fd);
void memok_fds_gone(unsigned lo, unsigned hi);
/* Start-up: the process's pid (a descriptor is opened only by it, never
 * by a vfork child, whose fd table is its own but whose memory is not). */
void memok_init(pid_t pid);
/* In a fork child: the inherited descriptor answers for the parent. */
void memok_after_fork_child(pid_t pid);

#endif
