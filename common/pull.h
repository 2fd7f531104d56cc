/*
 * pull.h - the receiving side of the benchmark's pull protocol (zcsend
 * --pull), one home for zcrecv and zcfloor: ask the sender for n more
 * bytes and sleep until they are queued; and the thread CPU clock the
 * in-process A/B rows time their blocks with.  Header-only: the helpers
 * are single-file programs.
 */
#ifndef ZCSHIM_PULL_H
#define ZCSHIM_PULL_H

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t pull_thread_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Asks for n more bytes and returns once they are queued, or once the
 * peer's FIN is (the stream's last, shorter request): 0 or -errno.  It
 * sleeps in poll with SO_RCVLOWAT at n, not spinning on FIONREAD, whose
 * socket lock would pull the sender's packet processing onto this CPU. */
static inline int pull_request(int fd, uint32_t n)
{
	int lowat = (int)n, one = 1;
	uint32_t req = htonl(n);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
		return -errno;
	if (write(fd, &req, sizeof(req)) != (ssize_t)sizeof(req))
		return -EIO;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	return 0;
}

#endif
