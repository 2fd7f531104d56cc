/*
 * zfmt.c - see zfmt.h.  No stdio, no locks, no allocation: usable inside
 * hooks and signal handlers, and by the tools alike.
 */
#include "zfmt.h"

#include <stdint.h>
#include <sys/types.h>
#include <string.h>

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

