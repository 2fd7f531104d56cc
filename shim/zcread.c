/*
 * zcread.c - see zcread.h.
 *
 * The mapped path, per call:
 *   1. lock the fd (mapped-path reads of one fd do not interleave), borrow
 *      a window, make sure the destination is writable (a fault after the
 *      kernel handed data over would lose it);
 *   2. one TCP_ZEROCOPY_RECEIVE maps up to min(window, space left) bytes,
 *      which we copy out; an unmappable run right behind them is taken by
 *      the kernel's copybuf in the same call.  An unmappable run at the
 *      head of the queue (recv_skip_hint, nothing mapped) is taken by a
 *      MSG_DONTWAIT recv of at most the space left, never more.  One
 *      consuming call per read (MSG_WAITALL: until full), so a read returns
 *      one contiguous run of the stream, as recv() does;
 *   3. if nothing was queued, wait the way the real call would (a 1-byte
 *      MSG_PEEK recv: same blocking, timeout, signal and error behaviour)
 *      and try again.
 * Every byte the kernel hands over goes to the caller in this call: the
 * shim holds no data, so poll/epoll readiness stays true.
 */
#define _GNU_SOURCE
#include "zcread.h"
#include "callsite.h"
#include "stats.h"
#include "libc.h"
#include "zcwin.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* Valgrind cannot see the kernel writing the copybuf (its address sits
 * inside the getsockopt struct): say so, at the cost of a few no-op
 * instructions when not under valgrind. */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define TLS __attribute__((tls_model("initial-exec"))) __thread
#define PAGE 4096u
#define OK_FLAGS (MSG_DONTWAIT | MSG_WAITALL | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC)
#define MISS_LIMIT 4
#define BACKOFF_FIRST 16
#define BACKOFF_MAX 1024
#define TAIL_IOV 64
#define LITTLE_CAP (2 * PAGE)

static TLS int guard;
static size_t min_read = ZCFG_DEFAULT_MIN_READ;
static int populate_ok = 1;	/* kernel has MADV_POPULATE_WRITE */


void zcr_configure(const struct zcfg *cfg)
{
	min_read = cfg->min_read;
}

/* ---- the caller's buffers ------------------------------------------ */

struct iocur {
	const struct iovec *iov;
	int cnt;
	int i;
	size_t off;
};

static void cur_norm(struct iocur *c)
{
	while (c->i < c->cnt && c->off >= c->iov[c->i].iov_len) {
		c->off -= c->iov[c->i].iov_len;
		c->i++;
	}
}

static void cur_put(struct iocur *c, const uint8_t *src, size_t n)
{
	while (n) {
		cur_norm(c);
		size_t k = c->iov[c->i].iov_len - c->off;
		if (k > n)
			k = n;
		memcpy((uint8_t *)c->iov[c->i].iov_base + c->off, src, k);
		c->off += k;
		src += k;
		n -= k;
	}
	cur_norm(c);
}

static void cur_skip(struct iocur *c, size_t n)
{
	c->off += n;
	cur_norm(c);
}

/* Up to max iovecs describing the next n bytes; returns count, *covered. */
static int cur_slice(const struct iocur *c, size_t n, struct iovec *out, int max, size_t *covered)
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

/* Writable ranges seen recently by this thread: apps reuse their buffers,
 * so most reads need no check at all. */
#define VCACHE 4
static TLS uintptr_t vc_lo[VCACHE], vc_hi[VCACHE];
static TLS unsigned vc_next;

static int range_writable(uintptr_t p, size_t n)
{
	if (!n)
		return 1;
	if (p < PAGE || p + n < p)
		return 0;
	uintptr_t lo = p & ~(uintptr_t)(PAGE - 1), hi = (p + n + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	for (unsigned i = 0; i < VCACHE; i++)
		if (lo >= vc_lo[i] && hi <= vc_hi[i])
			return 1;
	if (!populate_ok)
		return 1;
	/* Faults the pages in writable, or fails on a hole or a read-only
	 * mapping: exactly the check memcpy needs, and the faults memcpy would
	 * have taken anyway. */
	if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE)) {
		if (errno == EINVAL) {
			/* Pre-5.14 kernel (or an I/O mapping): can't tell. */
			uint8_t probe[PAGE] __attribute__((aligned(4096)));
			if (madvise(probe, PAGE, MADV_POPULATE_WRITE) && errno == EINVAL)
				populate_ok = 0;
			return !populate_ok;
		}
		return 0;
	}
	unsigned slot = vc_next++ % VCACHE;
	vc_lo[slot] = lo;
	vc_hi[slot] = hi;
	return 1;
}

static int cur_writable(const struct iocur *c, size_t n)
{
	struct iovec v[TAIL_IOV];
	size_t covered;
	int k = cur_slice(c, n, v, TAIL_IOV, &covered);
	if (covered < n)
		return 0;
	for (int i = 0; i < k; i++)
		if (!range_writable((uintptr_t)v[i].iov_base, v[i].iov_len))
			return 0;
	return 1;
}

/* ---- the real call -------------------------------------------------- */

static ssize_t libc_call(const struct zcr_req *rq)
{
	ssize_t r;
	switch (rq->op) {
	case ZCR_READ:
		r = libc_read(rq->fd, rq->buf, rq->len);
		break;
	case ZCR_READV:
		r = libc_readv(rq->fd, rq->iov, rq->iovcnt);
		break;
	case ZCR_RECVFROM:
		r = libc_recvfrom(rq->fd, rq->buf, rq->len, rq->flags, rq->from, rq->fromlen);
		break;
	default:
		r = libc_recvmsg(rq->fd, rq->msg, rq->flags);
		break;
	}
	return r < 0 ? -errno : r;
}

static int take_pending(struct fdt_entry *e)
{
	return __atomic_exchange_n(&e->pending_err, 0, __ATOMIC_ACQ_REL);
}

/* Inlined: it is most of a pass-through read (small_read), where a call and
 * the spills around it measured 15% of the shim's instructions. */
static inline __attribute__((always_inline)) ssize_t passthrough(const struct zcr_req *rq, struct fdt_entry *e, size_t total,
			   int reason, struct zst_delta *d)
{
	ssize_t r = libc_call(rq);
	/* The kernel already gave the error to an earlier mapped-path call;
	 * report it where recv() would have: after the data, before EOF. */
	if (r == 0 && total && __atomic_load_n(&e->pending_err, __ATOMIC_RELAXED)) {
		int err = take_pending(e);
		if (err)
			r = -err;
	}
	if (r > 0 && !(rq->flags & MSG_PEEK)) {
		d->copied = (uint64_t)r;
		d->reason = reason;
	}
	return r;
}

/* The result of a mapped-path call must look like the real call's. */
static void finish_meta(const struct zcr_req *rq)
{
	if (rq->op == ZCR_RECVFROM && rq->from && rq->fromlen)
		*rq->fromlen = 0;	/* TCP reports no source address */
	if (rq->op == ZCR_RECVMSG) {
		if (rq->msg->msg_name)
			rq->msg->msg_namelen = 0;
		rq->msg->msg_controllen = 0;
		rq->msg->msg_flags = rq->flags & MSG_CMSG_CLOEXEC;
	}
}

/* ---- the mapped path ------------------------------------------------ */

/* Copies n bytes found at flat offset from (> 0) ahead of the cursor down to
 * the cursor, and advances past them.  Source and destination may overlap:
 * the copy goes forward, chunk by chunk, always from above to below. */
static void cur_pull_down(struct iocur *c, size_t from, size_t n)
{
	while (n) {
		struct iovec src, dst;
		size_t cov;
		struct iocur at = *c;
		cur_skip(&at, from);
		if (!cur_slice(&at, n, &src, 1, &cov) || !cur_slice(c, src.iov_len, &dst, 1, &cov))
			break;	/* cannot happen: both ranges lie inside the caller's iovecs */
		memmove(dst.iov_base, src.iov_base, dst.iov_len);
		cur_skip(c, dst.iov_len);
		n -= dst.iov_len;
	}
}

enum { TOOK, EMPTY, PASS };

struct run {
	const struct zcr_req *rq;
	struct fdt_entry *e;
	struct iocur cur;
	size_t total, got;
	uint32_t epoch;
	uint32_t gen;           /* the fd's generation when the read began */
	int unmappable;         /* a call found a page or more it could not map */
	uint32_t inq;           /* bytes the kernel still had queued after our last call */
	int fail;               /* why PASS: -errno, or ZCS_R_BUFFER */
	struct zst_delta *d;
};

#define CB_RESERVE (8u << 10)

/*
 * Exactly one system call that takes data from the socket, so that what one
 * read returns is one contiguous run of the stream even if a signal handler
 * or another thread reads the same socket between our calls.  The kernel's
 * copybuf takes an unmappable run in the same call: it is placed in the
 * caller's buffer after the map region and moved down behind the mapped
 * bytes.  Returns TOOK (s->got advanced), EMPTY or PASS.
 */
/* A plain non-blocking recv of at most n bytes into the caller's buffer. */
static int tail_copy(struct run *s, size_t n)
{
	size_t cov;
	struct iovec v[TAIL_IOV];
	struct msghdr m = { 0 };
	m.msg_iov = v;
	m.msg_iovlen = (size_t)cur_slice(&s->cur, n, v, TAIL_IOV, &cov);
	ssize_t t = libc_recvmsg(s->rq->fd, &m, MSG_DONTWAIT);
	if (t > 0) {
		cur_skip(&s->cur, (size_t)t);
		s->got += (size_t)t;
		s->d->copied += (size_t)t;
		return TOOK;
	}
	if (t == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
		return EMPTY;
	s->fail = -errno;
	return PASS;
}

static int one_call(struct run *s, struct zcw_win *w)
{
	size_t left = s->total - s->got;
	size_t want = left < w->size ? left : w->size;
	size_t map = want & ~(size_t)(PAGE - 1), cb_len = 0;
	uint8_t *cb = NULL;
	/* The copybuf only on fds whose stream has shown unmappable runs
	 * behind mapped ones (e.g. MSG_ZEROCOPY at the default MSS).  On a
	 * page-aligned stream it would do harm: with inq <= copybuf_len the
	 * kernel copies everything, a length that is no page multiple, and
	 * leaves the stream mid-page. */
	if (FDT_GET(s->e->had_skip) && want >= 2 * CB_RESERVE) {
		map = (want - CB_RESERVE) & ~(size_t)(PAGE - 1);
		cb_len = left - map < CB_RESERVE ? left - map : CB_RESERVE;
		struct iocur at = s->cur;
		struct iovec v;
		size_t cov;
		cur_skip(&at, map);
		cur_slice(&at, cb_len, &v, 1, &cov);
		cb = v.iov_base;
		cb_len = v.iov_len;	/* contiguous part only (readv, recvmsg) */
	}
	if (!map)
		return tail_copy(s, left);	/* under a page: nothing to map */
	if (!cur_writable(&s->cur, map)) {
		s->fail = ZCS_R_BUFFER;
		return PASS;
	}

	struct tcp_zerocopy_receive zc;
	const uint8_t *data = NULL;
	int r = zcw_receive(s->rq->fd, w, map, cb, cb_len, &zc, &data);
	s->d->zc_calls++;
	if (r < 0) {
		s->fail = r;
		/* EIO is EOF, ENOTCONN/ENOTSOCK/EBADF are about this fd: only
		 * other errors count against the mapped path itself. */
		if (r != -EIO && r != -ENOTCONN && r != -ENOTSOCK && r != -EBADF && r != -EOPNOTSUPP)
			zcw_call_failed(-r);
		return PASS;
	}
	zcw_call_failed(0);
	if (zc.err)
		__atomic_store_n(&s->e->pending_err, -zc.err, __ATOMIC_RELEASE);
	s->inq = zc.inq;
	size_t mapped = zc.length, copied = zc.copybuf_len > 0 ? (size_t)zc.copybuf_len : 0;
	if (copied)
		VALGRIND_MAKE_MEM_DEFINED(cb, copied);
	if (copied && mapped < map) {
		struct iocur at = s->cur;
		cur_skip(&at, mapped);
		cur_pull_down(&at, map - mapped, copied);
	}
	if (mapped)
		cur_put(&s->cur, data, mapped);
	cur_skip(&s->cur, copied);
	s->got += mapped + copied;
	s->d->mapped += mapped;
	s->d->copied += copied;
	size_t skip = zc.recv_skip_hint;
	if (mapped && skip > copied)
		FDT_SET(s->e->had_skip, 1);	/* unmappable data right behind mapped data */
	else if (mapped && mapped == map)
		FDT_SET(s->e->had_skip, 0);
	if (mapped + copied)
		return TOOK;
	if (!skip)
		return EMPTY;

	/* Nothing taken, an unmappable run at the head of the queue.  When
	 * the queue head is a partly consumed page, the kernel reports the
	 * rest of the whole skb; copying just skip % PAGE brings the stream
	 * back to a page boundary, after which it maps again.  Otherwise the
	 * data itself is unmappable: copy at most the space left. */
	size_t n = skip;
	if (skip >= PAGE && skip % PAGE)
		n = skip % PAGE;
	else if (skip >= PAGE)
		s->unmappable = 1;
	return tail_copy(s, n < left ? n : left);
}

static ssize_t mapped_path(struct run *s)
{
	const struct zcr_req *rq = s->rq;
	struct fdt_entry *e = s->e;
	int waitall = rq->flags & MSG_WAITALL;
	/* The last read emptied the queue, and this one may block: it would
	 * most likely find nothing, so wait first and save the empty call
	 * (a reader outpacing its sender waits on nearly every read). */
	int wait_first = FDT_GET(e->drained) && !(rq->flags & MSG_DONTWAIT) && fdt_blocking(rq->fd, e);
	for (;;) {
		if (wait_first) {
			wait_first = 0;
			goto wait;
		}
		fdt_lock(e);
		struct zcw_win *w = zcw_acquire();
		if (!w) {
			fdt_unlock(e);
			if (!s->got)
				return passthrough(rq, e, s->total, ZCS_R_NOWINDOW, s->d);
			break;
		}
		int how = one_call(s, w);
		zcw_release(w);
		fdt_unlock(e);

		if (how == PASS) {
			if (s->got)
				break;	/* the next read meets the condition again */
			int f = s->fail;
			if (f == ZCS_R_BUFFER)
				return passthrough(rq, e, s->total, ZCS_R_BUFFER, s->d);
			if (f == -ENOTSOCK || f == -EBADF || f == -EOPNOTSUPP) {
				/* Stale entry: fd is no longer a TCP socket. */
				fdt_forget(rq->fd);
				return libc_call(rq);
			}
			if (f == -ENOPROTOOPT) {
				zcw_disable(ENOPROTOOPT);
				zst_set_kernel(0);
				return passthrough(rq, e, s->total, ZCS_R_NOKERNEL, s->d);
			}
			if (!zcw_kernel()->supported) {	/* just disabled: failures in a row */
				zst_set_kernel(0);
				return passthrough(rq, e, s->total, ZCS_R_NOKERNEL, s->d);
			}
			/* EOF (EIO), not connected, listening...: the real call
			 * gives exactly the answer recv() gives. */
			return passthrough(rq, e, s->total, ZCS_R_UNMAPPABLE, s->d);
		}
		if (how == TOOK) {
			if (!waitall || s->got >= s->total)
				break;
			if (__atomic_load_n(&e->last, __ATOMIC_RELAXED) != s->epoch)
				break;	/* another read took bytes: keep ours contiguous */
			continue;
		}

		/* Nothing queued: wait as the real call would. */
	wait:
		zcw_before_wait();
		if (!s->got) {
			int err = take_pending(e);
			if (err)
				return -err;
		}
		char one;
		ssize_t p = libc_recvfrom(rq->fd, &one, 1, MSG_PEEK | (rq->flags & MSG_DONTWAIT), NULL, NULL);
		if (p > 0) {
			/* Another thread may have closed the fd while we slept, and
			 * the number may now be another socket: never read that.
			 * (Every close, dup over and socket creation through libc
			 * bumps gen; raw system calls are invisible, see README.) */
			if (__atomic_load_n(&e->gen, __ATOMIC_ACQUIRE) != s->gen) {
				if (s->got)
					break;
				return -EBADF;
			}
			if (s->got && __atomic_load_n(&e->last, __ATOMIC_RELAXED) != s->epoch)
				break;
			continue;
		}
		if (p == 0)
			break;	/* EOF or shut down: what we have, or 0 */
		int err = errno;
		if (!s->got)
			return -err;
		if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)
			__atomic_store_n(&e->pending_err, err, __ATOMIC_RELEASE);
		break;
	}
	finish_meta(rq);
	return (ssize_t)s->got;
}

static int kernel_ok(void)
{
	static int reported;
	const struct zcw_kernel *k = zcw_kernel();
	if (k->probed && !__atomic_load_n(&reported, __ATOMIC_RELAXED)) {
		__atomic_store_n(&reported, 1, __ATOMIC_RELAXED);
		zst_set_kernel(k->supported);
	}
	return k->supported;
}

static void adapt(struct fdt_entry *e, const struct run *s)
{
	if (s->d->mapped) {
		FDT_SET(e->miss_streak, 0);
		FDT_SET(e->backoff, 0);
	} else if (s->unmappable) {
		uint16_t streak = (uint16_t)(FDT_GET(e->miss_streak) + 1);
		FDT_SET(e->miss_streak, streak);
		if (streak >= MISS_LIMIT) {
			/* The sender's data does not map (plain send, no header
			 * split): stop paying for the probe, look again later. */
			uint16_t b = FDT_GET(e->backoff);
			b = b ? (uint16_t)(b * 2 > BACKOFF_MAX ? BACKOFF_MAX : b * 2) : BACKOFF_FIRST;
			FDT_SET(e->miss_streak, 0);
			FDT_SET(e->backoff, b);
			FDT_SET(e->backoff_left, b);
		}
	}
}

static int iov_total(const struct iovec *iov, int cnt, size_t *out)
{
	size_t t = 0;
	if (cnt < 0 || cnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - t)
			return -EINVAL;
		t += iov[i].iov_len;
	}
	*out = t;
	return 0;
}

/* A token for this read in e->last.  A plain store, not an atomic add: a
 * MSG_WAITALL loop only needs to see that some other read came in between
 * its calls. */
static inline uint32_t mark_read(struct fdt_entry *e)
{
	static TLS uint32_t calls;
	uint32_t epoch = (uint32_t)(uintptr_t)&calls * 2654435761u + ++calls;
	__atomic_store_n(&e->last, epoch, __ATOMIC_RELAXED);
	return epoch;
}

/* The fd's stats slot + 1, claimed on its first read (0: none). */
static inline uint32_t fd_slot(int fd, struct fdt_entry *e)
{
	uint32_t slot = __atomic_load_n(&e->slot, __ATOMIC_RELAXED);
	if (__builtin_expect(!slot && !guard, 0)) {
		int saved = errno;
		uint32_t mine = zst_claim(fd), z = 0;
		if (mine && !__atomic_compare_exchange_n(&e->slot, &z, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			zst_release(mine - 1);
		slot = __atomic_load_n(&e->slot, __ATOMIC_RELAXED);
		errno = saved;
	}
	return slot;
}

static inline void little_after(struct fdt_entry *e, ssize_t r)
{
	uint16_t l = FDT_GET(e->little);
	FDT_SET(e->little, r < 2 * (ssize_t)PAGE ? (uint16_t)(l < 2 ? l + 1 : 2) : 0);
}

/* The common pass-through, one buffer below ZCSHIM_MIN_READ: what the
 * general path below does for it (same result, errno, counters and call
 * sites), without its set-up, which cost as much as the rest together. */
static ssize_t small_read(const struct zcr_req *rq, struct fdt_entry *e)
{
	mark_read(e);
	uint32_t slot = fd_slot(rq->fd, e);
	struct zst_delta d = { 0, 0, 0, -1 };
	ssize_t r = passthrough(rq, e, rq->len, ZCS_R_SMALL, &d);
	little_after(e, r);
	zst_account(slot, &d);
	if (__builtin_expect(cs_enabled(), 0) && r > 0) {
		int saved = errno;
		cs_record(ZCS_R_SMALL, (uint64_t)r);
		errno = saved;
	}
	return r;
}

static ssize_t general_read(const struct zcr_req *rq, struct fdt_entry *e)
{
	struct zst_delta d = { 0, 0, 0, -1 };
	struct iovec one;
	const struct iovec *iov = &one;
	int cnt = 1, saved = errno;
	size_t total = 0;
	ssize_t r;

	uint32_t epoch = mark_read(e);
	uint32_t slot = fd_slot(rq->fd, e);

	switch (rq->op) {
	case ZCR_READ:
	case ZCR_RECVFROM:
		one.iov_base = rq->buf;
		one.iov_len = rq->len;
		break;
	case ZCR_READV:
		iov = rq->iov;
		cnt = rq->iovcnt;
		break;
	default:
		iov = rq->msg->msg_iov;
		cnt = (int)rq->msg->msg_iovlen;
		if (rq->msg->msg_iovlen > IOV_MAX)
			cnt = -1;
		break;
	}

	int reason = -1;
	if (guard)
		reason = ZCS_R_NESTED;
	else if ((rq->flags & ~OK_FLAGS) ||
		 (rq->op == ZCR_RECVMSG && rq->msg->msg_controllen))
		reason = ZCS_R_FLAGS;
	else if (iov_total(iov, cnt, &total) || total == 0)
		reason = ZCS_R_SMALL;	/* invalid or empty: the real call answers */
	else if (total < min_read)
		reason = ZCS_R_SMALL;
	else if (!kernel_ok())
		reason = ZCS_R_NOKERNEL;
	else if (FDT_GET(e->backoff_left)) {
		FDT_SET(e->backoff_left, FDT_GET(e->backoff_left) - 1);
		reason = ZCS_R_BACKOFF;
	} else if (FDT_GET(e->little) >= 2 && !(rq->flags & MSG_WAITALL)) {
		/* Request/response traffic: a mapping call would find under a
		 * page and cost a second system call.  Go straight to the real
		 * one until a read brings two pages or more. */
		reason = ZCS_R_LITTLE;
	}

	if (reason == ZCS_R_LITTLE && total > LITTLE_CAP) {
		/* At most two pages: all a request/response read needs, and a
		 * bulk stream that merely caught up with its sender loses one
		 * small copy, not a whole burst, before mapping again. */
		struct zcr_req capped = *rq;
		struct iovec v[8];
		struct msghdr m;
		size_t covered;
		struct iocur c = { iov, cnt, 0, 0 };
		cur_norm(&c);
		int k = cur_slice(&c, LITTLE_CAP, v, 8, &covered);
		capped.len = covered;
		capped.iov = v;
		capped.iovcnt = k;
		if (rq->op == ZCR_RECVMSG) {
			m = *rq->msg;
			m.msg_iov = v;
			m.msg_iovlen = (size_t)k;
			capped.msg = &m;
		}
		r = passthrough(&capped, e, covered, reason, &d);
		if (rq->op == ZCR_RECVMSG) {
			rq->msg->msg_namelen = m.msg_namelen;
			rq->msg->msg_controllen = m.msg_controllen;
			rq->msg->msg_flags = m.msg_flags;
		}
		if (r >= 2 * (ssize_t)PAGE)
			FDT_SET(e->little, 0);
	} else if (reason >= 0) {
		r = passthrough(rq, e, total, reason, &d);
		if (reason == ZCS_R_SMALL || reason == ZCS_R_BACKOFF)
			little_after(e, r);
	} else {
		struct run s = { .rq = rq, .e = e, .total = total, .epoch = epoch, .d = &d, .inq = UINT32_MAX,
				 .gen = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE) };
		s.cur.iov = iov;
		s.cur.cnt = cnt;
		cur_norm(&s.cur);
		guard++;
		r = mapped_path(&s);
		guard--;
		if (d.copied && d.reason < 0)
			d.reason = ZCS_R_UNMAPPABLE;
		adapt(e, &s);
		/* Little data: this read got under two pages and left the queue
		 * (nearly) empty, as request/response traffic does; a bulk
		 * stream's short read leaves plenty queued behind it. */
		FDT_SET(e->drained, r > 0 && s.inq == 0);
		if (r >= 0 && r < 2 * (ssize_t)PAGE && s.inq < PAGE)
			FDT_SET(e->little, (uint16_t)(FDT_GET(e->little) < 2 ? FDT_GET(e->little) + 1 : 2));
		else
			FDT_SET(e->little, 0);
	}
	zst_account(slot, &d);
	if (__builtin_expect(cs_enabled(), 0) && d.copied && reason != ZCS_R_NESTED)
		cs_record(d.reason, d.copied);
	errno = saved;
	return r;
}

ssize_t zcr_read(const struct zcr_req *rq, struct fdt_entry *e)
{
	if ((rq->op == ZCR_READ || rq->op == ZCR_RECVFROM) && rq->len && rq->len < min_read &&
	    !(rq->flags & ~OK_FLAGS) && !guard)
		return small_read(rq, e);
	return general_read(rq, e);
}
