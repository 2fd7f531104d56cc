/*
 * inplace.c - zcshim_recv() and zcshim_release(): see include/zcshim.h.
 *
 * Each fd that borrows gets a window of its own (the configured window
 * size, outside the pool hooked reads share), mapped on its first call and
 * kept for the fd number's life.  A call maps at the window's next free
 * offset and lends exactly those pages; the ring is zapped once per trip
 * round it, or at a release once it is half used, so lent pages stay
 * valid until the next call or release (and usually longer), and a fd
 * keeps at most one window of pages resident.  Across all fds, resident
 * lent pages are bounded by LEND_BUDGET: past it a call releases its own
 * window first and, if that is not enough, copies.
 *
 * What cannot be mapped comes through one kernel copy into a buffer the fd
 * owns (COPY_BUF bytes, mapped on first need): the same call, the same
 * answer.  The map call, its errors, the EOF rule, the wait (recv()'s
 * own, by the kernel) and the window's release are the receive core's
 * (take.h), shared with the transparent reads.
 *
 * Windows are kept across fork (not MADV_DONTFORK): a child's copy of a
 * lent page is its own page-table entry, which nothing in the parent
 * changes.  The consuming call runs under the fd's lock with asynchronous
 * signals blocked (take_lock), as hooked reads do, so the two may be mixed
 * on one fd.
 */
#define _GNU_SOURCE
#include "zcshim.h"
#include "export.h"
#include "page.h"
#include "fdtable.h"
#include "libc.h"
#include "init.h"
#include "stats.h"
#include "take.h"
#include "zcread.h"
#include "zcwin.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COPY_BUF (256u << 10)
#define LEND_BUDGET (256ull << 20)
#define MAX_FDS (1u << 20)

struct lend {
	uint32_t busy;          /* a call is inside (CAS 0 -> 1) */
	int32_t owner;          /* tid of the outstanding borrow, 0: none */
	struct zcwin_win w;       /* addr NULL until first mapped call */
	uint8_t *buf;           /* copy buffer, NULL until first needed */
};

static struct lend *lends;	/* MAP_NORESERVE, indexed by fd */
static uint64_t resident;	/* window bytes mapped, all fds */

static struct lend *lend_of(int fd)
{
	if (fd < 0 || (unsigned)fd >= MAX_FDS)
		return NULL;
	struct lend *t = __atomic_load_n(&lends, __ATOMIC_ACQUIRE);
	if (!t) {
		void *p = (void *)syscall(SYS_mmap, NULL, (size_t)MAX_FDS * sizeof(struct lend),
					  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		struct lend *none = NULL;
		if (!__atomic_compare_exchange_n(&lends, &none, (struct lend *)p, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			syscall(SYS_munmap, p, (size_t)MAX_FDS * sizeof(struct lend));
			t = none;
		} else {
			t = p;
		}
	}
	return &t[fd];
}

static int my_tid(void)
{
	static __attribute__((tls_model("initial-exec"))) __thread int tid;
	if (!tid)
		tid = (int)syscall(SYS_gettid);
	return tid;
}

/* Unmap the whole window: every page it lent goes back. */
static void zap(struct lend *l)
{
	if (l->w.addr && l->w.next) {
		__atomic_sub_fetch(&resident, l->w.next, __ATOMIC_RELAXED);
		zcwin_zap(&l->w);
	}
}

/* The borrow is over: let the pages go once the window is half used (the
 * next trip round would have to zap anyway). */
static void give_back(struct lend *l)
{
	l->owner = 0;
	if (l->w.next >= l->w.size / 2 && init_ready())	/* not under the program's filter */
		zap(l);
}

/* Called by the fd table whenever fd starts meaning something else. */
static void forget(int fd)
{
	struct lend *t = __atomic_load_n(&lends, __ATOMIC_ACQUIRE);
	if (!t || fd < 0 || (unsigned)fd >= MAX_FDS || !t[fd].w.addr)
		return;
	struct lend *l = &t[fd];
	uint32_t z = 0;
	if (!__atomic_compare_exchange_n(&l->busy, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;	/* a call on it is running: it will find the fd closed */
	l->owner = 0;
	zap(l);
	__atomic_store_n(&l->busy, 0, __ATOMIC_RELEASE);
}

/* ---- one borrow ------------------------------------------------------ */

/* The fd's copy buffer, mapped on first need.  0 or -ENOMEM. */
static int ensure_buf(struct lend *l)
{
	if (!l->buf) {
		void *p = mmap(NULL, COPY_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		l->buf = p;
	}
	return 0;
}

/* The copy path: one kernel copy into the fd's buffer. */
static ssize_t copy_in(int fd, struct lend *l, const void **data, size_t max, int flags, struct stats_delta *d)
{
	if (ensure_buf(l))
		return -ENOMEM;
	size_t n = max < COPY_BUF ? max : COPY_BUF;
	int token = fdtable_consume_begin(fdtable_get(fd));
	ssize_t r = libc_recvfrom(fd, l->buf, n, flags, NULL, NULL);
	if (r < 0 && errno == ENOTSOCK) {
		/* A pipe, a file, a tty: read() (MSG_DONTWAIT: only if ready). */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if ((flags & MSG_DONTWAIT) && poll(&p, 1, 0) == 0)
			errno = EAGAIN;
		else
			r = libc_read(fd, l->buf, n);
	}
	r = r < 0 ? -errno : r;
	fdtable_consume_end(token);
	if (r > 0) {
		*data = l->buf;
		d->copied = (uint64_t)r;
		d->reason = SEGFMT_R_UNMAPPABLE;
	}
	return r;
}

/* One TCP_ZEROCOPY_RECEIVE into the fd's window, under the fd's lock with
 * asynchronous signals blocked.  0 or -errno; *zc filled. */
static int map_call(int fd, struct fdtable_entry *e, struct lend *l, size_t len, struct tcp_zerocopy_receive *zc,
		    const uint8_t **at, struct stats_delta *d)
{
	struct take_guard g;
	take_lock(e, &g);
	size_t before = l->w.next;
	int r = take_map(fd, &l->w, len, zc, at, d);
	take_unlock(e, &g);
	/* Pages mapped minus pages a wrap of the ring zapped: either way the
	 * window now holds next bytes where it held before. */
	__atomic_add_fetch(&resident, (uint64_t)((int64_t)l->w.next - (int64_t)before), __ATOMIC_RELAXED);
	return r;
}

/* How much to map: max and the window, in whole pages, within budget. */
static size_t plan(struct lend *l, size_t max)
{
	size_t len = (max < l->w.size ? max : l->w.size) & ~(size_t)(PAGE - 1);
	if (l->w.next + len > l->w.size)
		zap(l);	/* round the ring here, where resident is kept */
	if (__atomic_load_n(&resident, __ATOMIC_RELAXED) + len > LEND_BUDGET) {
		zap(l);	/* our own pages first */
		if (__atomic_load_n(&resident, __ATOMIC_RELAXED) + len > LEND_BUDGET)
			return 0;
	}
	return len;
}

/* recv()'s own wait for data (take.h): > 0 data queued, else the answer.
 * The wait names the fd's copy buffer, which the kernel leaves alone. */
static ssize_t wait_data(int fd, struct lend *l, size_t max, int flags)
{
	if (ensure_buf(l))
		return -ENOMEM;
	struct iovec v = { l->buf, max < COPY_BUF ? max : COPY_BUF };
	return take_wait(fd, &v, 1, v.iov_len, flags & MSG_DONTWAIT, 0);
}

static ssize_t borrow_tcp(int fd, struct fdtable_entry *e, struct lend *l, const void **data, size_t max, int flags,
			  struct stats_delta *d)
{
	if (!l->w.addr) {
		l->w.size = zcwin_size();
		l->w.addr = zcwin_map(l->w.size, 1);
		if (!l->w.addr)
			return copy_in(fd, l, data, max, flags, d);
	}
	for (;;) {
		size_t len = plan(l, max);
		if (!len)
			return copy_in(fd, l, data, max, flags, d);
		struct tcp_zerocopy_receive zc;
		const uint8_t *at;
		int r = map_call(fd, e, l, len, &zc, &at, d);
		if (r)	/* EOF (EIO), not connected...: recv()'s own answer */
			return copy_in(fd, l, data, max, flags, d);
		if (zc.length) {
			*data = at;
			d->mapped = zc.length;
			return (ssize_t)zc.length;
		}
		d->skip_runs += zc.recv_skip_hint != 0;
		if (zc.recv_skip_hint || (zc.inq && zc.inq != UINT32_MAX))
			return copy_in(fd, l, data, zc.recv_skip_hint && zc.recv_skip_hint < max ? zc.recv_skip_hint : max,
				       flags, d);	/* unmappable run, or an urgent mark */
		ssize_t w = wait_data(fd, l, max, flags);
		if (w <= 0)
			return w;
	}
}

static ssize_t borrow(int fd, struct lend *l, const void **data, size_t max, int flags, struct stats_delta *d)
{
	struct fdtable_entry *e = init_ready() ? fdtable_get(fd) : NULL;
	if (!e || fdtable_kind(fd, e) != FDTABLE_TCP || max < PAGE || !zcwin_kernel()->supported)
		return copy_in(fd, l, data, max, flags, d);
	fdtable_set_reset_hook(forget);
	ssize_t r = borrow_tcp(fd, e, l, data, max, flags, d);
	zcread_count(fd, e, d);
	return r;
}

EXPORT ssize_t zcshim_recv(int fd, const void **data, size_t max, int flags)
{
	ssize_t (*first)(int, const void **, size_t, int);
	if (!init_ready() && (first = __atomic_load_n(&init_first_recv, __ATOMIC_ACQUIRE)))
		return first(fd, data, max, flags);	/* another copy serves (init.c) */
	struct lend *l = lend_of(fd);
	if (!l || !data) {
		errno = !l ? EBADF : EFAULT;
		return -1;
	}
	if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL)) {
		errno = EINVAL;
		return -1;
	}
	uint32_t z = 0;
	int owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED), me = my_tid();
	if ((owner && owner != me) ||
	    !__atomic_compare_exchange_n(&l->busy, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		errno = EBUSY;
		return -1;
	}
	int saved = errno;
	give_back(l);
	struct stats_delta d = { .reason = -1, .probed = 1, .api = 1 };
	ssize_t r = max ? borrow(fd, l, data, max, flags, &d) : 0;
	if (!max)
		*data = l->buf;
	if (r > 0)
		l->owner = me;
	__atomic_store_n(&l->busy, 0, __ATOMIC_RELEASE);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved;
	return r;
}

EXPORT int zcshim_release(int fd)
{
	if (!init_ready() && __atomic_load_n(&init_first_recv, __ATOMIC_ACQUIRE) && init_first_release)
		return init_first_release(fd);
	struct lend *l = lend_of(fd);
	if (!l) {
		errno = EBADF;
		return -1;
	}
	uint32_t z = 0;
	if (!__atomic_compare_exchange_n(&l->busy, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		errno = EBUSY;
		return -1;
	}
	give_back(l);
	__atomic_store_n(&l->busy, 0, __ATOMIC_RELEASE);
	return 0;
}
