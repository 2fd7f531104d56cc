/*
 * log.h - async-signal-safe logging for the shim.
 *
 * Hooks may run inside signal handlers and before malloc is usable, so this
 * logger formats into a stack buffer with its own tiny printf (no stdio, no
 * malloc) and writes with one write(2).  A log file is opened, appended to and
 * closed for each line: the shim never keeps an fd the application could
 * close or see reused.
 */
#ifndef ZCSHIM_LOG_H
#define ZCSHIM_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "zfmt.h"

/* ZLOG_OFF, the default: the shim writes nothing to the program's fds
 * unless asked (ZCSHIM_LOG, ZCSHIM_LOG_FILE): a program's stderr may be
 * its protocol, and a program must not be able to tell the shim is there.
 * What went wrong is in the stats segment, for zcstat. */
enum zlog_level { ZLOG_OFF = -1, ZLOG_ERROR = 0, ZLOG_WARN = 1, ZLOG_INFO = 2, ZLOG_DEBUG = 3 };

/* Where and how much to log; set once at init. path NULL means stderr. */
void zlog_setup(int level, const char *path);
int zlog_enabled(int level);
void zlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
