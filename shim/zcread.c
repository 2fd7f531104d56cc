/*
 * zcread.c - see zcread.h.
 *
 * A read on the mapped path:
 *   1. the door: prove every caller pointer the shim will touch (else the
 *      real call answers, EFAULT and all), describe the destination once
 *      as a cursor, ask policy.c what to do;
 *   2. act on a pending cancellation (read is a cancellation point: before
 *      taking data, never after);
 *   3. wait as recv() would, before taking anything, with the kernel's own
 *      wait (take.h: take_wait), unless the queue as the last call saw it
 *      already holds all the read can take (then no SO_RCVLOWAT or
 *      MSG_WAITALL could make recv() wait);
 *   4. take (take.h: take_lock): with signals blocked and the fd locked,
 *      TCP_ZEROCOPY_RECEIVE (mapped pages copied out) and non-blocking copies of
 *      unmappable runs, until the destination is full or the queue is
 *      empty: what one read returns is min(len, queued), one contiguous
 *      run of the stream, as recv() returns it.  Several consuming calls
 *      only where the shim knows no one else reads the socket (fdtable.h:
 *      solo); elsewhere one, more only to reach what the kernel's wait
 *      said the read must return.  Nothing in there blocks, is a
 *      cancellation point, or lets a signal handler run, so no lock or
 *      window can be left behind by a siglongjmp or a cancellation.
 * Where the kernel will not let the shim take what is queued (an urgent
 * mark), the real call does the read.  Every byte the kernel hands over
 * goes to the caller in this call: poll/epoll readiness stays true.
 */
#define _GNU_SOURCE
#include "zcread.h"
#include "page.h"
#include "auto.h"
#include "callsite.h"
#include "iocur.h"
#include "libc.h"
#include "memok.h"
#include "peer.h"
#include "policy.h"
#include "sigwatch.h"
#include "state.h"
#include "stats.h"
#include "take.h"
#include "zcwin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TAIL_IOV 8

void zcread_configure(const struct zcfg *cfg)
{
	policy_configure(cfg->min_read);
	auto_configure(cfg->mode, cfg->auto_map_cost, cfg->auto_copy_cost);
	zcwin_on_release(cfg->mode == AUTO_AUTO ? auto_released : NULL);
	zcwin_on_verdict(stats_set_kernel);
	sigwatch_init();
}

/* ---- the real call -------------------------------------------------- */

static ssize_t real_call(const struct zcread_req *rq, struct fdtable_entry *e)
{
	ssize_t r;
	int token = rq->flags & MSG_PEEK ? 0 : fdtable_consume_begin(e);
	switch (rq->op) {
	case ZCREAD_READ:
		r = libc_read(rq->fd, rq->iov[0].iov_base, rq->iov[0].iov_len);
		break;
	case ZCREAD_READV:
		r = libc_readv(rq->fd, rq->iov, rq->iovcnt);
		break;
	case ZCREAD_RECVFROM:
		r = libc_recvfrom(rq->fd, rq->iov[0].iov_base, rq->iov[0].iov_len, rq->flags, rq->from, rq->fromlen);
		break;
	default:
		r = libc_recvmsg(rq->fd, rq->msg, rq->flags);
		break;
	}
	r = r < 0 ? -errno : r;
	fdtable_consume_end(token);
	return r;
}

/* The general path's real call for a read it passes through.  Inlined:
 * a call and the spills around it measured 15% of the shim's
 * instructions on this path. */
static inline __attribute__((always_inline)) ssize_t passthrough(const struct zcread_req *rq, struct fdtable_entry *e,
								 int reason, struct stats_delta *d)
{
	ssize_t r = real_call(rq, e);
	if (r > 0 && !(rq->flags & MSG_PEEK)) {
		d->copied = (uint64_t)r;
		d->reason = reason;
	}
	return r;
}

/* ---- the door: what the shim may touch ------------------------------- */

/* theirs: the array is the program's (readv, recvmsg), not the one-entry
 * array a hook made for read, recv or recvfrom. */
static int iov_total(const struct iovec *iov, int cnt, int theirs, size_t *out)
{
	size_t t = 0;
	if (cnt <= 0 || cnt > IOV_MAX || (theirs && !memok(NULL, iov, (size_t)cnt * sizeof(*iov), MEMOK_READ)))
		return -1;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - t)
			return -1;
		t += iov[i].iov_len;
	}
	*out = t;
	return 0;
}

/* Fills rq->iov for recvmsg and the total; -1 when the shim cannot serve
 * the request exactly as the kernel would (bad pointers, lengths the
 * kernel refuses): then the real call answers it. */
static int describe(struct zcread_req *rq, size_t *total)
{
	if (rq->op == ZCREAD_RECVMSG) {
		struct msghdr *m = rq->msg;
		if (!memok(NULL, m, sizeof(*m), MEMOK_WRITE) || m->msg_iovlen > IOV_MAX ||
		    (m->msg_name && (int)m->msg_namelen < 0))
			return -1;
		rq->iov = m->msg_iov;
		rq->iovcnt = (int)m->msg_iovlen;
	}
	/* recvfrom checks *fromlen after taking the data: only a valid one
	 * can be served without reproducing that. */
	if (rq->from && (!memok(NULL, rq->fromlen, sizeof(*rq->fromlen), MEMOK_WRITE) || (int)*rq->fromlen < 0))
		return -1;
	return iov_total(rq->iov, rq->iovcnt, rq->op == ZCREAD_READV || rq->op == ZCREAD_RECVMSG, total);
}

/* 1 if the next n bytes of the destination may be written by memcpy:
 * proved for each call, for exactly what it may copy (the kernel's own
 * copies answer EFAULT by themselves). */
static int cur_writable(const struct iocur *c, size_t n, struct memok_scope *sc)
{
	size_t off = c->off;
	for (int i = c->i; i < c->cnt && n; i++, off = 0) {
		size_t k = c->iov[i].iov_len - off;
		if (k > n)
			k = n;
		if (!memok(sc, (const uint8_t *)c->iov[i].iov_base + off, k, MEMOK_WRITE))
			return 0;
		n -= k;
	}
	return 1;
}

/* The result of a mapped-path call must look like the real call's. */
static void finish_meta(const struct zcread_req *rq)
{
	if (rq->op == ZCREAD_RECVFROM && rq->from)
		*rq->fromlen = 0;	/* TCP reports no source address */
	if (rq->op == ZCREAD_RECVMSG) {
		if (rq->msg->msg_name)
			rq->msg->msg_namelen = 0;
		rq->msg->msg_controllen = 0;
		rq->msg->msg_flags = rq->flags & MSG_CMSG_CLOEXEC;
	}
}

/* ---- take: the locked, signal-free part ------------------------------ */

enum { TOOK, EMPTY, STUCK, FAIL };

struct rd {
	const struct zcread_req *rq;
	struct fdtable_entry *e;
	struct iocur cur;
	size_t got;
	size_t need;            /* the kernel's last wait counted this many
				 * (from base) queued for the read */
	size_t base, need_low;  /* got at that wait; what the read must take of
				 * them (0: not asked yet; see need_now) */
	uint32_t inq;           /* queued after our last call (UINT32_MAX: not known) */
	int inq_carried;        /* inq is the fd's last read's count, no call
				 * of this read has asked yet: a floor only */
	int solo;               /* no one else can read the socket meanwhile */
	int more;               /* this take may make several consuming calls */
	int64_t t0, deadline_ns; /* MSG_WAITALL: the call's start; its
				 * SO_RCVTIMEO deadline (0 not yet asked, -1 none) */
	uint32_t gen;           /* the fd's generation when the read began */
	int fail;               /* FAIL: -errno, or -ENOSR for no window */
	int answered;           /* fail is the socket's own answer to a copy
				 * (its error, now consumed): the read's */
	int unmappable;
	int doubted;            /* the fd is in back-off (its reads found
				 * nothing to map): this read is a probe */
	int at_page;            /* the last call left the head at the start of
				 * a page (all it mapped, or a whole straggler) */
	int guessed;            /* the last call copied a guessed rest of a page */
	uint32_t head_off;      /* the head is this far into a mappable page
				 * (a copy the room cut short; 0: not known) */
	uint32_t tail_len;      /* see fdtable_hints */
	int rested;             /* the last call copied the rest of a page
				 * on the word of head_off alone */
	uint32_t skip;          /* the last call mapped pages and then met
				 * this many unmappable bytes: the next call of
				 * this take copies them without asking again */
	struct memok_scope mem; /* what the kernel said of the destination */
	struct stats_delta *d;
};

/* What is left queued after a non-blocking copy of t bytes that asked
 * for cov. */
static uint32_t left_after_copy(const struct rd *s, size_t t, size_t cov)
{
	/* Less than asked: nothing more was queued (or an urgent mark
	 * stopped it), whatever the count said (the kernel's counts one
	 * byte more for a FIN, and a call to map would only answer EIO). */
	if (t < cov)
		return 0;
	/* As far as the last call knew it.  A count carried from the last
	 * read is a floor (data may have come since): a copy that took all
	 * it asked for has not drained the queue on its word. */
	uint32_t left = s->inq != UINT32_MAX && s->inq >= t ? s->inq - (uint32_t)t : UINT32_MAX;
	return !left && s->inq_carried ? UINT32_MAX : left;
}

/* A non-blocking copy of at most n bytes into the caller's buffer.  A raw
 * system call: libc's recvmsg is a cancellation point. */
static int tail_copy(struct rd *s, size_t n)
{
	size_t cov;
	struct iovec v[TAIL_IOV];
	struct msghdr m = { 0 };
	m.msg_iov = v;
	m.msg_iovlen = (size_t)iocur_slice(&s->cur, n, v, TAIL_IOV, &cov);
	/* One piece (most reads): recvfrom, which copies no msghdr and
	 * imports no iovec array. */
	ssize_t t = m.msg_iovlen == 1 ? syscall(SYS_recvfrom, s->rq->fd, v[0].iov_base, v[0].iov_len, MSG_DONTWAIT, NULL, NULL)
				      : syscall(SYS_recvmsg, s->rq->fd, &m, MSG_DONTWAIT);
	if (t > 0) {
		iocur_skip(&s->cur, (size_t)t);
		s->got += (size_t)t;
		s->d->copied += (size_t)t;
		s->inq = left_after_copy(s, (size_t)t, cov);
		return TOOK;
	}
	if (t == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
		return EMPTY;
	s->fail = -errno;
	/* EFAULT consumed nothing, and a socket that is not ours is the real
	 * call's to answer; any other error the copy took is gone from the
	 * socket. */
	s->answered = errno != EFAULT && !take_not_ours(-errno);
	return FAIL;
}

/* The rest of the room, less than a page, by one copy, behind an
 * unmappable run of n bytes that ends a page (0: the head is at a page
 * start already).  Nothing more of this read could be mapped, so a run
 * and the room come by one copy, not two (a default-MSS stream read 64K
 * at a time: three copies a read, now two).  The bytes past the run start
 * a page (at_page's assumption), so they leave the stream that far into
 * it: the next read copies the rest of that page first and maps on
 * (head_off).  Known only where the rest of the page is queued behind (a
 * page of an skb arrives whole): a drained queue ends the page here, and
 * what comes next starts where the sender's next segment does. */
static int run_and_room(struct rd *s, size_t n)
{
	size_t want = s->cur.left, before = s->got;
	int how = tail_copy(s, want);
	size_t t = s->got - before;
	int rest = s->inq != 0 && s->inq != UINT32_MAX;
	s->head_off = how == TOOK && t == want && t > n && rest ? (uint32_t)(t - n) : 0;
	s->at_page = how == TOOK && t == n;
	return how;
}

/* Nothing taken, an unmappable run at the head of the queue.  A head in
 * the middle of a page reports the rest of its whole skb.  Where the last
 * read stopped inside a mappable page, the rest of that page is known
 * (head_off).  Otherwise skip % PAGE guesses it (right when the skb ends on
 * a page boundary); if the next call still meets a mid-page head the guess
 * was wrong, and the rest of that skb is copied, so a misaligned head costs
 * one skb, not a run of them.  Any other run: copy what the kernel
 * reported (no further: what follows may map), and the take loop goes on. */
static int head_unmappable(struct rd *s, size_t skip)
{
	size_t n = skip;
	int guess = 0;
	if (skip >= PAGE && s->head_off)
		n = PAGE - s->head_off;
	else if (skip >= PAGE && skip % PAGE && !s->guessed) {
		n = skip % PAGE, guess = 1;
		s->unmappable += s->unmappable < UINT8_MAX;	/* a page or more */
	} else if (skip >= PAGE && !(skip % PAGE)) {
		/* Whole pages that cannot be mapped.  A probe of a stream
		 * already in doubt has its answer: the rest of the room comes
		 * by one copy, not skb by skb, each asked first. */
		s->unmappable += s->unmappable < UINT8_MAX;
		if (s->doubted)
			n = s->cur.left;
	}
	s->guessed = guess;
	s->head_off = 0;
	s->at_page = n <= skip && n < s->cur.left && !guess;
	if (s->at_page && s->cur.left - n < PAGE)
		return run_and_room(s, n);
	return tail_copy(s, n < s->cur.left ? n : s->cur.left);
}

/* The rest of a page copied on head_off's word was wrong: that page was
 * the short last page of an skb, and the copy ran on into the next one.
 * Where the sender's segments all end tail_len bytes into a page and
 * start at a page, the copy ran PAGE - tail_len bytes in, and the next
 * page starts tail_len bytes on.  Any other layout: as for any head the
 * kernel reports unmappable. */
static int wrong_rest(struct rd *s, size_t skip)
{
	size_t n = s->tail_len;
	if (!n || n >= skip || !(skip % PAGE) || s->head_off)
		return head_unmappable(s, skip);
	s->guessed = 1;	/* a guess: a wrong one copies the rest of that skb */
	s->at_page = n < s->cur.left;
	return tail_copy(s, n < s->cur.left ? n : s->cur.left);
}

/* The room ends inside a page: copy what fits, from a page start where
 * the head is at one (run_and_room). */
static int room_tail(struct rd *s)
{
	if (s->at_page)
		return run_and_room(s, 0);
	s->head_off = 0;
	return tail_copy(s, s->cur.left);
}

/* How much of the room to map: whole pages, no more than the window, nor
 * than what is queued as far as the kernel has said (the pages of the
 * destination proved writable are the pages this call fills).  No
 * copybuf: asking for one would hand the socket's error over too (zcwin.c,
 * call()); the straggler behind mapped pages comes by a copy of its own
 * (head_unmappable). */
static size_t plan_call(const struct rd *s, const struct zcwin_win *w)
{
	size_t want = s->cur.left < w->size ? s->cur.left : w->size;
	size_t queued = s->inq < PAGE ? PAGE : s->inq;
	if (s->inq != UINT32_MAX && queued < want)
		want = queued;
	return want & ~(size_t)(PAGE - 1);
}

static int one_call(struct rd *s, struct zcwin_win *w)
{
	if (s->head_off && !s->got) {
		/* The last read stopped this far into a page it was mapping:
		 * the rest of that page comes by a copy, and a call to map
		 * would only say so (nothing mapped, a hint).  Should someone
		 * else have moved the head meanwhile, these are still the
		 * stream's next bytes, only copied where they might have
		 * been mapped. */
		s->d->skip_runs++;
		int how = head_unmappable(s, PAGE);
		s->rested = how == TOOK;
		return how;
	}
	if (s->skip) {
		size_t skip = s->skip;
		s->skip = 0;
		s->d->skip_runs++;
		return head_unmappable(s, skip);
	}
	size_t map = plan_call(s, w);
	if (!map)
		return room_tail(s);	/* under a page: nothing to map */
	if (!cur_writable(&s->cur, map, &s->mem)) {
		s->fail = -EFAULT;	/* the real call answers, EFAULT and all */
		return FAIL;
	}
	struct tcp_zerocopy_receive zc;
	const uint8_t *data = NULL;
	int r = take_map(s->rq->fd, w, map, &zc, &data, s->d);
	if (r < 0) {
		s->fail = r;
		return FAIL;
	}
	s->inq = zc.inq;
	s->inq_carried = 0;
	size_t mapped = zc.length;
	int rested = s->rested;
	s->rested = 0;
	if (mapped && mapped < map && zc.recv_skip_hint && zc.recv_skip_hint < PAGE)
		s->tail_len = zc.recv_skip_hint;
	iocur_put(&s->cur, data, mapped);
	s->got += mapped;
	/* Mapped up to the room: the head is at a mappable page boundary. */
	s->at_page = mapped == map;
	if (mapped) {
		s->head_off = 0;
		s->guessed = 0;
	}
	s->d->mapped += mapped;
	/* A run is counted where it starts to be taken: at the head. */
	s->d->skip_runs += !mapped && zc.recv_skip_hint;
	/* Stopped short of the room at an unmappable run: the kernel has
	 * said what the next call would say (the same hint, nothing mapped);
	 * where the take goes on, it copies the run at once.  Only where no
	 * one else can take from the socket meanwhile (more). */
	if (mapped && mapped < map && zc.recv_skip_hint && s->more)
		s->skip = zc.recv_skip_hint;
	if (mapped)
		return TOOK;
	if (zc.recv_skip_hint && rested)
		return wrong_rest(s, zc.recv_skip_hint);
	if (zc.recv_skip_hint)
		return head_unmappable(s, zc.recv_skip_hint);
	/* Nothing taken, nothing to skip, yet data queued: the kernel will
	 * not hand it over this way (an urgent mark).  inq unknown: empty. */
	return zc.inq && zc.inq != UINT32_MAX ? STUCK : EMPTY;
}

static int sock_int(int fd, int level, int name, int dflt)
{
	int v = dflt;
	socklen_t l = sizeof(v);
	if (syscall(SYS_getsockopt, fd, level, name, &v, &l))
		v = dflt;
	return v;
}

/* What this read must take before it may return: all that the kernel's
 * wait counted, where several consuming calls are safe (the take goes on
 * while anything is queued anyway); elsewhere only what recv() must
 * return, the kernel's low-water mark of it (asked when first needed):
 * most often one call. */
static size_t need_now(struct rd *s)
{
	if (s->more || s->need <= s->base)
		return s->need;
	if (!s->need_low) {
		size_t low = (size_t)sock_int(s->rq->fd, SOL_SOCKET, SO_RCVLOWAT, 1), q = s->need - s->base;
		s->need_low = s->base + (low < q ? low : q);
	}
	return s->need_low;
}

/* Whether the kernel's count says more is queued.  It counts a FIN
 * received as one byte: once the read holds all that its wait counted,
 * a count of 1 is most likely that FIN, and a call to map would only
 * answer EIO (a third of a 16 KiB mapped connection's calls).  A byte
 * that did come meanwhile is the next read's, as if it came a moment
 * later. */
static int more_queued(const struct rd *s)
{
	return s->inq != 0 && !(s->inq == 1 && s->need && s->got >= s->need);
}

static int take_locked(struct rd *s, struct zcwin_win *w)
{
	/* Past the first consuming call only if no one else can read the
	 * socket: no other process (solo) and no other thread in a consuming
	 * call when we took the lock (none can start one while we hold it).
	 * What a read returns is then one contiguous run of the stream.
	 * Elsewhere further calls only to reach what the read must return.
	 * All of it here, under the lock, signals blocked: nothing, not even
	 * a signal handler reading the same socket, can land inside a read.
	 * A call that says nothing is queued is believed unless the kernel's
	 * wait counted more (at a reset it reports 0 with data queued). */
	int how;
	s->more = s->solo && !fdtable_others_consuming(s->e);
	s->skip = 0;	/* a hint from before the lock is stale */
	do
		how = one_call(s, w);
	while (how == TOOK && s->cur.left && (more_queued(s) || s->got < s->need) &&
	       (s->more || s->got < need_now(s)));
	/* Queue drained: this read or the next is about to sleep.  Don't sit
	 * on a full window meanwhile: its pages stay pinned while mapped.
	 * (Not a local sender's buffers: the kernel copies a MSG_ZEROCOPY
	 * sender's data at local delivery, and its completion, marked
	 * copied, comes while the pages are still mapped; seen on 6.18.) */
	if (s->inq == 0 || (how == EMPTY && !s->got))
		zcwin_settle(w);
	return how;
}

static int take(struct rd *s)
{
	struct take_guard g;
	if (!init_serving()) {
		s->fail = -ENOSR;	/* sandboxed meanwhile: the real call, or what we hold */
		return FAIL;
	}
	take_lock(s->e, &g);
	struct zcwin_win *w = zcwin_acquire();
	int how = FAIL;
	s->fail = -ENOSR;
	if (w) {
		how = take_locked(s, w);
		zcwin_release(w);
	}
	take_unlock(s->e, &g);
	return how;
}

/* ---- waiting as recv() waits ---------------------------------------- */

/* The kernel's wait, before taking, for what a read of len bytes waits
 * for (min(len, SO_RCVLOWAT as the kernel caps it)).  1: data is there
 * (s->need says how much the read must take); else the read's answer (0
 * at EOF, -errno). */
static int wait_kernel(struct rd *s, size_t len)
{
	const struct zcread_req *rq = s->rq;
	if (!init_serving())
		return 1;	/* the take that follows steps aside (take) */
	ssize_t q = take_wait(rq->fd, s->cur.iov + s->cur.i, s->cur.cnt - s->cur.i, len, 0, s->got != 0);
	if (q <= 0)
		return (int)q;
	/* Another thread may have closed the fd while we slept, and the
	 * number may now be another socket: never read that.  (Every close,
	 * dup over and socket creation through libc bumps gen; raw system
	 * calls are invisible, see docs/design.md.) */
	if (__atomic_load_n(&s->e->gen, __ATOMIC_ACQUIRE) != s->gen)
		return -EBADF;
	s->base = s->got;
	s->need = s->got + (size_t)q;
	s->need_low = 0;
	s->inq = (uint32_t)(q < UINT32_MAX ? q : UINT32_MAX - 1);
	s->inq_carried = 0;
	return 1;
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* MSG_WAITALL, after some data: wait for more.  Not a MSG_WAITALL peek:
 * a peek consumes nothing, so one for more than the queue can hold would
 * never end.  poll wakes on any data (or at SO_RCVLOWAT, where that is
 * no more than the read still needs), returns on any signal with a
 * handler as recv() then returns what it holds, and ends at the call's
 * own SO_RCVTIMEO deadline, counted from its start (both asked of the
 * kernel here, when a read first needs them).  Unlike recv(), it sleeps
 * on after a stop (SIGSTOP, SIGTSTP and SIGCONT) that comes meanwhile
 * (docs/design.md, Guarantees).  1: take again. */
static int wait_more(struct rd *s)
{
	int fd = s->rq->fd, saved = errno;
	if (!init_serving())
		return 0;	/* sandboxed meanwhile: no call of our own */
	/* The kept O_NONBLOCK flag (fdtable_blocking) can be stale (FIONBIO is
	 * not hooked): a non-blocking socket returns what it has. */
	int fl = (int)syscall(SYS_fcntl, fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return 0;
	if (!s->deadline_ns) {
		struct timeval tv = { 0, 0 };
		socklen_t l = sizeof(tv);
		s->deadline_ns = -1;
		if (!syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &l) && (tv.tv_sec || tv.tv_usec))
			s->deadline_ns = s->t0 + (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
	}
	int ms = -1, r;
	if (s->deadline_ns > 0) {
		int64_t left = s->deadline_ns - now_ns();
		if (left <= 0)
			return 0;
		ms = (int)((left + 999999) / 1000000);
	}
	if ((size_t)sock_int(fd, SOL_SOCKET, SO_RCVLOWAT, 1) <= s->cur.left) {
		/* The raw call: no cancellation point while the read holds
		 * data (take.h, take_wait). */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
		r = (int)syscall(SYS_ppoll, &p, 1, ms < 0 ? NULL : &ts, NULL, _NSIG / 8);
	} else {
		/* poll would wait for the whole low-water mark, more than the
		 * read needs: the kernel's peek waits for exactly the rest. */
		r = wait_kernel(s, s->cur.left);
	}
	errno = saved;
	return r > 0 && __atomic_load_n(&s->e->gen, __ATOMIC_ACQUIRE) == s->gen;
}

/* What the read still owes after taking some without having waited for
 * it (the queue the last call saw was gone: someone else read it): what
 * recv() would have waited for, the low-water mark asked of the kernel.
 * Bytes still to wait for (0: return what we have). */
static size_t still_owed(struct rd *s)
{
	size_t low = (size_t)sock_int(s->rq->fd, SOL_SOCKET, SO_RCVLOWAT, 1);
	size_t target = low < s->got + s->cur.left ? low : s->got + s->cur.left;
	return s->got < target ? target - s->got : 0;
}

/* ---- the mapped path ------------------------------------------------- */

/* Nothing was taken and the call failed: the answer, or a pass-through. */
static ssize_t failed(struct rd *s, int reason_hint)
{
	const struct zcread_req *rq = s->rq;
	int f = s->fail;
	if (s->answered)
		return f;
	if (take_not_ours(f)) {
		fdtable_forget(rq->fd);	/* stale entry: no longer a TCP socket */
		return real_call(rq, s->e);
	}
	if (f == -ENOPROTOOPT)
		zcwin_disable(ENOPROTOOPT);
	if (f == -ENOPROTOOPT || !zcwin_kernel()->supported) {
		stats_set_kernel(0);
		return passthrough(rq, s->e, SEGFMT_R_NOKERNEL, s->d);
	}
	if (f == -EFAULT)
		reason_hint = SEGFMT_R_BUFFER;
	/* EOF (EIO), not connected, an urgent mark...: the real call gives
	 * exactly the answer recv() gives. */
	return passthrough(rq, s->e, f == -ENOSR ? SEGFMT_R_NOWINDOW : reason_hint, s->d);
}

/* Waits first unless the queue as last seen holds all the read can take
 * (then neither SO_RCVLOWAT nor MSG_WAITALL could make recv() wait), then
 * takes.  A read waits after taking only for the rest of a MSG_WAITALL
 * read, or where someone else took the queue it had seen (docs/design.md's
 * Guarantees). */
static ssize_t mapped_read(struct rd *s)
{
	const struct zcread_req *rq = s->rq;
	int blocking = !(rq->flags & MSG_DONTWAIT) && fdtable_blocking(rq->fd, s->e);
	int waitall = !!(rq->flags & MSG_WAITALL), waits = 0, woke = 0, w;
	if (waitall && blocking)
		s->t0 = now_ns();	/* SO_RCVTIMEO counts from the call's start */
	if (blocking && (s->inq == UINT32_MAX || s->inq < s->cur.left)) {
		if ((w = wait_kernel(s, s->cur.left)) != 1)
			return w;
		waits = 1;
	}
	for (;;) {
		size_t before = s->got;
		int how = take(s);	/* one take: a handler may run between two */
		if (!s->cur.left || (s->got && (how == FAIL || how == STUCK)))
			break;
		if (!s->got) {
			if (how == FAIL || how == STUCK || !blocking || waits > 1) {
				if (how != FAIL)
					s->fail = 0;
				return failed(s, SEGFMT_R_UNMAPPABLE);
			}
			if ((w = wait_kernel(s, s->cur.left)) != 1)	/* the queue seen was gone */
				return w;
			waits++;
			continue;
		}
		if (!blocking || (woke && s->got == before))
			break;	/* readable, yet nothing to take: EOF or an error next */
		if (waitall) {
			if (!(woke = wait_more(s)))
				break;
			continue;
		}
		size_t owed = waits ? 0 : still_owed(s);
		if (!owed || wait_kernel(s, owed) != 1)
			break;
		waits++;
	}
	finish_meta(rq);
	return (ssize_t)s->got;
}

/* ---- accounting and the entry point ---------------------------------- */

/* The fd's stats slot + 1, claimed on its first read (0: none). */
static uint32_t fd_slot(int fd, struct fdtable_entry *e)
{
	uint32_t slot = __atomic_load_n(&e->slot, __ATOMIC_RELAXED);
	if (!slot) {
		int saved = errno;
		uint32_t mine = stats_claim(fd), z = 0;
		if (mine && !__atomic_compare_exchange_n(&e->slot, &z, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			stats_release(mine - 1);
		slot = __atomic_load_n(&e->slot, __ATOMIC_RELAXED);
		/* A peer learned only now (the claim asked the kernel): start
		 * from what was learned of it. */
		if (!FDTABLE_GET(e->hints.peer))
			policy_met_peer(&e->hints, peer_key(fd));
		errno = saved;
	}
	return slot;
}

struct segfmt_counters *zcread_counters_slow(int fd, struct fdtable_entry *e)
{
	uint32_t slot = fd_slot(fd, e);
	struct segfmt_counters *c = stats_counters(slot), *cached = c;
	if (!slot)
		return c;	/* the overflow block: claim again next time */
	__atomic_store_n(&e->ctr, c, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&e->slot, __ATOMIC_SEQ_CST) != slot)
		__atomic_compare_exchange_n(&e->ctr, &cached, NULL, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
	return c;
}

void zcread_record_site(const struct stats_delta *d)
{
	int saved = errno;
	callsite_record(d->reason, d->copied);
	errno = saved;
}

/* The mapped path for a read the policy sends there. */
static ssize_t map_read(struct zcread_req *rq, struct fdtable_entry *e, size_t total, struct stats_delta *d,
			struct policy_outcome *o)
{
	struct rd s = { .rq = rq, .e = e, .d = d, .inq = FDTABLE_GET(e->hints.queued), .inq_carried = 1,
			.solo = fdtable_solo(e), .gen = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE) };
	iocur_init(&s.cur, rq->iov, rq->iovcnt, total);
	s.head_off = FDTABLE_GET(e->hints.head_off);
	s.tail_len = FDTABLE_GET(e->hints.tail_len);
	/* In back-off, not merely in a miss streak: a read that copies the
	 * rest of its room cannot break a streak by mapping later pages, so
	 * doubting earlier would let a passing unmappable spell back a
	 * mappable stream off (veth at MTU 1500 under ASan in CI: 84% mapped
	 * once, 93% before). */
	s.doubted = FDTABLE_GET(e->hints.backoff) != 0;
	pthread_testcancel();	/* a pending cancel acts before we take data */
	d->probed = 1;
	ssize_t r = mapped_read(&s);
	if (d->copied && d->reason < 0)
		d->reason = SEGFMT_R_UNMAPPABLE;
	o->mapped = d->mapped;
	o->unmappable = s.unmappable;
	o->inq = s.inq;
	o->head_off = s.head_off;
	o->tail_len = s.tail_len;
	return r;
}

/* auto_choose for a read on e; a run of copies it grants, the fd's next
 * reads pass through without asking (policy.h). */
static int choose_for(struct fdtable_entry *e)
{
	uint32_t run;
	int choice = auto_choose(&run);
	if (run)
		policy_pass_next(&e->hints, run, SEGFMT_R_AUTO);
	return choice;
}

/* ZCSHIM_MODE=auto: the way that measured cheaper, a sample timed now
 * and then (auto.c). */
static ssize_t auto_read(struct zcread_req *rq, struct fdtable_entry *e, size_t total, struct stats_delta *d,
			 struct policy_outcome *o, int choice)
{
	if (choice < 0)
		choice = choose_for(e);
	int timed = choice == AUTO_SAMPLE_MAP || choice == AUTO_SAMPLE_COPY;
	struct auto_mark m0;
	if (timed)
		auto_mark(&m0);
	ssize_t r;
	if (choice == AUTO_GO_COPY || choice == AUTO_SAMPLE_COPY)
		r = passthrough(rq, e, o->reason = SEGFMT_R_AUTO, d);
	else
		r = map_read(rq, e, total, d, o);
	if (timed && r > 0) {
		int saved = errno;
		auto_sampled(choice, &m0, (uint64_t)r);
		struct auto_view v;
		auto_view(&v);
		stats_set_auto(v.mode, v.verdict, v.map_ns_per_mb, v.copy_ns_per_mb, v.prior);
		errno = saved;
	}
	return r;
}

/* decided: policy_decide's answer when zcread_read already asked (else -1);
 * choice: auto_choose's likewise. */
static ssize_t serve(struct zcread_req *rq, struct fdtable_entry *e, struct stats_delta *d, struct policy_outcome *o,
		     int decided, int choice)
{
	size_t total;
	if (describe(rq, &total))
		return real_call(rq, e);	/* the kernel's own EFAULT, EINVAL, EMSGSIZE */
	o->reason = decided >= 0 ? decided : policy_decide(e, rq->flags, total, rq->op == ZCREAD_RECVMSG);
	if (o->reason != POLICY_MAP)
		return passthrough(rq, e, o->reason, d);
	if (__builtin_expect(auto_mode() == AUTO_AUTO, 0))
		return auto_read(rq, e, total, d, o, choice);
	return map_read(rq, e, total, d, o);
}

ssize_t zcread_read(struct zcread_req *rq, struct fdtable_entry *e, int decided, int choice)
{
	struct stats_delta d = { .reason = -1 };
	struct policy_outcome o = { .reason = SEGFMT_R_FLAGS, .inq = UINT32_MAX, .peek = !!(rq->flags & MSG_PEEK) };
	int saved = errno;
	ssize_t r = serve(rq, e, &d, &o, decided, choice);
	o.result = r;
	policy_learn(e, &o);
	zcread_count(rq->fd, e, &d);
	errno = saved;
	return r;
}

/* Where a passed-through read (of at least a byte) ended unusually: an
 * error (-errno), or EOF. */
ssize_t zcread_pass_unusual(int fd, struct fdtable_entry *e, ssize_t r, int err, int reason)
{
	r = r < 0 ? -err : r;
	struct stats_delta d = { .reason = -1 };
	policy_learn_pass(e, r, reason);
	zcread_count(fd, e, &d);
	return r;
}

ssize_t zcread_pass_run(int fd, struct fdtable_entry *e, void *buf, size_t n, int flags, int reason_recv)
{
	return zcread_ret(zcread_pass_read(fd, e, buf, n, flags, !!(reason_recv & ZCREAD_RUN_RECV),
					   reason_recv & (ZCREAD_RUN_RECV - 1)));
}

void zcread_entry_reset(struct fdtable_entry *e, uint32_t slot)
{
	if (slot)
		stats_release(slot - 1);
	uint32_t left = FDTABLE_GET(e->hints.pass_left);
	if (left && FDTABLE_GET(e->hints.pass_why) == SEGFMT_R_AUTO)
		auto_unclaim(left);
}

void zcread_spliced(int fd, struct fdtable_entry *e, size_t n)
{
	struct stats_delta d = { .copied = n, .reason = SEGFMT_R_SPLICED };
	policy_learn_pass(e, (ssize_t)n, SEGFMT_R_SPLICED);
	zcread_count(fd, e, &d);
}

/* A one-buffer read not in a run: the policy (and auto) decide, out of
 * line.  A traffic reason sends the hook to its own copy of the
 * pass-through read, the one a run's reads take (zcread_read_buf). */
int zcread_route(struct fdtable_entry *e, int flags, size_t n, int *choice)
{
	int why = policy_decide(e, flags, n, 0);
	*choice = -1;
	if (why == POLICY_MAP && __builtin_expect(auto_mode() == AUTO_AUTO, 0) && (*choice = choose_for(e)) == AUTO_GO_COPY)
		why = SEGFMT_R_AUTO;
	return why;
}
