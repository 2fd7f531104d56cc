/*
 * pending.c - see pending.h.
 */
#define _GNU_SOURCE
#include "pending.h"

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define PEND_MAX 64

struct pend {
	uint64_t cookie;        /* 0: free */
	int32_t err;
};

static struct pend table[PEND_MAX];
static uint32_t count;          /* entries in use (may lag: a hint) */
static uint32_t next;

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t l = sizeof(c);
	int saved = errno;
	if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_COOKIE, &c, &l))
		c = 0;
	errno = saved;
	return c;
}

void pend_put(int fd, int err)
{
	uint64_t c = cookie_of(fd);
	if (!c)
		return;
	/* Oldest entries give way: a socket whose error was never asked for
	 * again is closed by now, and cookies are never reused. */
	unsigned i = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % PEND_MAX;
	__atomic_store_n(&table[i].err, err, __ATOMIC_RELAXED);
	__atomic_store_n(&table[i].cookie, c, __ATOMIC_RELEASE);
	__atomic_add_fetch(&count, 1, __ATOMIC_RELEASE);
}

int pend_take(int fd)
{
	if (!__atomic_load_n(&count, __ATOMIC_ACQUIRE))
		return 0;
	uint64_t c = cookie_of(fd);
	if (!c)
		return 0;
	for (unsigned i = 0; i < PEND_MAX; i++) {
		uint64_t want = c;
		if (__atomic_load_n(&table[i].cookie, __ATOMIC_ACQUIRE) != c)
			continue;
		int err = __atomic_load_n(&table[i].err, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&table[i].cookie, &want, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			__atomic_sub_fetch(&count, 1, __ATOMIC_RELEASE);
			return err;
		}
	}
	return 0;
}
