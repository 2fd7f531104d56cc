/*
 * callsite.h - where the reads that were not fully mapped come from.
 *
 * With ZCSHIM_CALLSITES=1 the shim loads libunwind (dlopen, at start-up,
 * only in this mode) and, for every read that delivered unmapped bytes,
 * walks the stack to the first frame outside the shim and aggregates reads
 * and bytes per return address in the segment's call-site table, naming the
 * function and module the first time a site is seen.  libunwind's unwinder
 * reads DWARF unwind tables and does not call malloc, unlike glibc's
 * backtrace(), so it is usable inside a hook.  With the mode off, nothing
 * is loaded and the read path pays one predictable branch.
 */
#ifndef ZCSHIM_CALLSITE_H
#define ZCSHIM_CALLSITE_H

#include <stdint.h>

/* 0 or -errno (libunwind missing: the mode stays off, said once). */
int callsite_init(void);
int callsite_enabled(void);
void callsite_record(int reason, uint64_t bytes);

#endif
