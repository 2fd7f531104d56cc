/*
 * memok.h - may the shim touch this memory of the caller's?
 *
 * Plain libc hands every pointer to the kernel, which answers EFAULT for a
 * bad one.  The shim reads iovec arrays and message headers itself and
 * copies mapped data with memcpy, which would crash instead, and only after
 * the data was taken from the socket.  So before it takes anything it
 * proves each range readable or writable (MADV_POPULATE_READ/WRITE, 5.14+:
 * faults the pages in, or fails on a hole or a protection that forbids the
 * access), and where it cannot, the real call answers.
 *
 * Programs reuse their buffers, so each thread remembers a few ranges it
 * proved.  What it remembers is dropped whenever the program changes its
 * mappings through libc (mprotect, munmap, mremap, mmap, shmdt bump one
 * process-wide generation): a buffer made read-only between two reads is
 * checked again, not trusted.
 */
#ifndef ZCSHIM_MEMOK_H
#define ZCSHIM_MEMOK_H

#include <stddef.h>

enum { MEMOK_READ = 0, MEMOK_WRITE = 1 };

/* 1 if [p, p+n) may be accessed that way now (n 0: always). */
int memok(const void *p, size_t n, int how);
/* Mappings may have changed: forget every proved range, in every thread. */
void memok_changed(void);

#endif
