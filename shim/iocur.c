/*
 * iocur.c - see iocur.h.
 */
#include "iocur.h"

#include <string.h>

static void iocur_norm(struct iocur *c)
{
	while (c->i < c->cnt && c->off >= c->iov[c->i].iov_len) {
		c->off -= c->iov[c->i].iov_len;
		c->i++;
	}
}

void iocur_init(struct iocur *c, const struct iovec *iov, int cnt, size_t total)
{
	c->iov = iov;
	c->cnt = cnt;
	c->i = 0;
	c->off = 0;
	c->left = total;
	iocur_norm(c);
}

void iocur_put(struct iocur *c, const void *src, size_t n)
{
	const uint8_t *s = src;
	c->left -= n;
	while (n) {
		size_t k = c->iov[c->i].iov_len - c->off;
		if (k > n)
			k = n;
		memcpy((uint8_t *)c->iov[c->i].iov_base + c->off, s, k);
		c->off += k;
		s += k;
		n -= k;
		iocur_norm(c);
	}
}

void iocur_skip(struct iocur *c, size_t n)
{
	c->left -= n;
	c->off += n;
	iocur_norm(c);
}

int iocur_slice(const struct iocur *c, size_t n, struct iovec *out, int max, size_t *covered)
{
	int k = 0, i = c->i;
	size_t off = c->off, got = 0;
	while (got < n && i < c->cnt && k < max) {
		size_t avail = c->iov[i].iov_len - off;
		if (avail > n - got)
			avail = n - got;
		if (avail) {
			out[k].iov_base = (uint8_t *)c->iov[i].iov_base + off;
			out[k].iov_len = avail;
			k++;
			got += avail;
		}
		i++;
		off = 0;
	}
	*covered = got;
	return k;
}
