/*
 * iocur.h - the caller's destination, described once at the door.
 *
 * Every receive hook turns its buffer into an iovec array (read and recv:
 * one element built on the stack; readv and recvmsg: the caller's own) and
 * the read path only ever narrows that one description as bytes land: no
 * path rebuilds the request.
 */
#ifndef ZCSHIM_IOCUR_H
#define ZCSHIM_IOCUR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct iocur {
	const struct iovec *iov;
	int cnt;
	int i;                  /* current element */
	size_t off;             /* bytes of it already filled */
	size_t left;            /* room left in all elements */
};

void iocur_init(struct iocur *c, const struct iovec *iov, int cnt, size_t total);
/* Copies n <= c->left bytes to the cursor and advances it. */
void iocur_put(struct iocur *c, const void *src, size_t n);
/* Advances past n <= c->left bytes the kernel wrote in place. */
void iocur_skip(struct iocur *c, size_t n);
/* Up to max iovecs describing the next n bytes (fewer bytes if more
 * elements would be needed); returns the count, *covered the bytes. */
int iocur_slice(const struct iocur *c, size_t n, struct iovec *out, int max, size_t *covered);

#endif
