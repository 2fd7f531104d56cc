/*
 * log.c - see log.h.  Used inside hooks and signal handlers: only raw
 * syscalls, no locks, no allocation.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int log_level = ZLOG_OFF;
static char log_path[256];

void zlog_setup(int level, const char *path)
{
	log_level = level;
	log_path[0] = 0;
	if (path && *path) {
		size_t n = strlen(path);
		if (n < sizeof(log_path))
			memcpy(log_path, path, n + 1);
	}
}

int zlog_enabled(int level)
{
	return level <= log_level;
}

void zlog(int level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	if (level > log_level)
		return;
	int saved = errno;
	char line[512];
	size_t n = zfmtf(line, sizeof(line), "zcshim[%ld]: %s: ",
			 (long)syscall(SYS_getpid), names[level & 3]);
	va_list ap;
	va_start(ap, fmt);
	n += zfmt(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (log_path[0]) {
		int fd = (int)syscall(SYS_open, log_path,
				      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			(void)!syscall(SYS_write, fd, line, n);
			syscall(SYS_close, fd);
		}
	} else {
		(void)!syscall(SYS_write, 2, line, n);
	}
	errno = saved;
}
