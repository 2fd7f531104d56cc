/*
 * pending.h - socket errors the kernel handed to the shim early.
 *
 * Every TCP_ZEROCOPY_RECEIVE call (5.7+) also returns and clears the
 * socket's pending error (sock_error), even with data still queued ahead of
 * it.  recv() would report that error only once the data before it was
 * read, and to whichever fd of the socket reads next (a dup, a child's
 * copy).  So the error is kept here, keyed by the socket itself (its
 * SO_COOKIE, unique for the life of the system, never by fd number, which
 * a new socket may take), and reported where recv() would have reported it.
 * Rare: the fast path is one load of a count.
 */
#ifndef ZCSHIM_PENDING_H
#define ZCSHIM_PENDING_H

/* Keeps err (positive errno) for fd's socket. */
void pend_put(int fd, int err);
/* The error kept for fd's socket, removed; 0 if none. */
int pend_take(int fd);

#endif
