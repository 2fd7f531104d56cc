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

static int log_level = ZLOG_WARN;
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

static size_t put_u(char *buf, size_t cap, size_t at, unsigned long long v, unsigned base)
{
	char tmp[24];
	size_t n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v && n < sizeof(tmp));
	while (n && at + 1 < cap)
		buf[at++] = tmp[--n];
	return at;
}

size_t zfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t at = 0;
	if (!cap)
		return 0;
	for (const char *p = fmt; *p && at + 1 < cap; p++) {
		if (*p != '%') {
			buf[at++] = *p;
			continue;
		}
		p++;
		int lng = 0, sz = 0;
		while (*p == 'l') {
			lng++;
			p++;
		}
		if (*p == 'z') {
			sz = 1;
			p++;
		}
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			while (*s && at + 1 < cap)
				buf[at++] = *s++;
			break;
		}
		case 'c':
			buf[at++] = (char)va_arg(ap, int);
			break;
		case 'd':
		case 'i': {
			long long v = sz ? (long long)va_arg(ap, ssize_t)
				: lng >= 2 ? va_arg(ap, long long)
				: lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long u = (unsigned long long)v;
			if (v < 0) {
				buf[at++] = '-';
				u = 0 - u;
			}
			at = put_u(buf, cap, at, u, 10);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = sz ? va_arg(ap, size_t)
				: lng >= 2 ? va_arg(ap, unsigned long long)
				: lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			at = put_u(buf, cap, at, v, *p == 'x' ? 16 : 10);
			break;
		}
		case 'p':
			if (at + 3 < cap) {
				buf[at++] = '0';
				buf[at++] = 'x';
			}
			at = put_u(buf, cap, at, (uintptr_t)va_arg(ap, void *), 16);
			break;
		case '%':
			buf[at++] = '%';
			break;
		case 0:
			p--;
			break;
		default:
			buf[at++] = '?';
			break;
		}
	}
	buf[at] = 0;
	return at;
}

size_t zfmtf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = zfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
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
