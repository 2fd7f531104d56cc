/*
 * zfmt.h - a bounded, async-signal-safe printf subset, shared by the shim
 * (its logger and file names) and the tools.
 */
#ifndef ZCSHIM_ZFMT_H
#define ZCSHIM_ZFMT_H

#include <stdarg.h>
#include <stddef.h>

/* Bounded formatter used by zlog; supports %s %c %d %i %u %x %p %% with the
 * l, ll and z length modifiers.  Always NUL-terminates; returns the length
 * written (excluding NUL). */
size_t zfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t zfmtf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
