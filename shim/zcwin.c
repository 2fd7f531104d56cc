/*
 * zcwin.c - see zcwin.h.
 */
#define _GNU_SOURCE
#include "zcwin.h"
#include "hot.h"
#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 64
#define HUGE_ALIGN (2u << 20)
#define RSS_BUDGET (64u << 20)	/* pages left mapped, all windows together */
/* What an idle window may keep when the last TCP socket closes: the last
 * few short connections' pages, given back with the next ones in one
 * madvise.  A release at every close was 5-6% of a 16 KiB mapped
 * connection (one system call and TLB flush for four pages); one every
 * fourth is 1-2% (docs/benchmarks.md, run O). */
#define TRIM_KEEP (64u << 10)

static struct zcwin_win pool[POOL_MAX];
static HOT unsigned pool_len = 4;
/* Some window may hold pages: set when a trip maps its first, cleared by a
 * trim that left none (it sets it again for what it keeps, TRIM_KEEP).
 * A sequential client trims at every close (preload.c); a trim with
 * nothing to release touches no window. */
static HOT_CONN uint32_t held;
static size_t win_size = 2u << 20;

size_t zcwin_size(void)
{
	return win_size;
}
static struct zcwin_kernel kinfo;
static uint32_t kstate;		/* 0 unprobed, 1 probing, 2 done */
HOT int zcwin_usable;
static void (*on_verdict)(int supported);

void zcwin_on_verdict(void (*fn)(int supported))
{
	__atomic_store_n(&on_verdict, fn, __ATOMIC_RELEASE);
	if (fn && __atomic_load_n(&kstate, __ATOMIC_ACQUIRE) == 2)
		fn(kinfo.supported);	/* probed before anyone listened */
}

void zcwin_configure(size_t window)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	win_size = window;
	/* Enough windows for every CPU to read at once, twice over, within the
	 * resident-memory budget. */
	unsigned n = ncpu > 0 ? (unsigned)ncpu * 2 : 4;
	unsigned cap = (unsigned)(RSS_BUDGET / window);
	if (n > cap)
		n = cap;
	if (n > POOL_MAX)
		n = POOL_MAX;
	pool_len = n ? n : 1;
}

#ifndef __SANITIZE_THREAD__
static int private_socket(void)
{
	return (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}
static void private_close(int fd)
{
	syscall(SYS_close, fd);	/* close() is a cancellation point */
}
#else
/* TSan must see the socket made and closed: it sees the window's mmap of
 * it, and a socket it never saw closed made another thread's dup() that
 * got the number next a reported race (make test SANITIZE=thread,
 * zcstress, about 1 run in 10).  Through the first definitions in the
 * process (TSan's interceptors, which hand the calls on to the shim's
 * hooks and libc), with cancellation held off around close. */
static int private_socket(void)
{
	int (*first)(int, int, int) = (int (*)(int, int, int))dlsym(RTLD_DEFAULT, "socket");
	return first(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}
static void private_close(int fd)
{
	int old, (*first)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "close");
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	first(fd);
	pthread_setcancelstate(old, NULL);
}
#endif

static void probe(void)
{
	struct kzc_info k;
	kzc_probe(&k);
	kinfo.supported = k.supported;
	kinfo.optlen = k.optlen;
	kinfo.why = k.why;
}

static void say_verdict(void)
{
	if (kinfo.supported)
		zlog(ZLOG_INFO, "kernel zero-copy receive available (struct %u bytes, copybuf %s)",
		     kinfo.optlen, kinfo.optlen >= KZC_LEN_COPYBUF ? "yes" : "no");
	else
		zlog(ZLOG_INFO, "kernel zero-copy receive unavailable (%s): passing reads through",
		     strerror(kinfo.why));
}

const struct zcwin_kernel *zcwin_kernel(void)
{
	if (__atomic_load_n(&kstate, __ATOMIC_ACQUIRE) == 2)
		return &kinfo;
	uint32_t z = 0;
	if (__atomic_compare_exchange_n(&kstate, &z, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		probe();
		static int retries;
		if (!kinfo.supported && kzc_transient(kinfo.why) && ++retries < 16) {
			/* At the fd limit or out of memory right now: no verdict
			 * on the kernel; ask again on a later read. */
			__atomic_store_n(&kstate, 0, __ATOMIC_RELEASE);
			static const struct zcwin_kernel later = { 0, 0, 0, EAGAIN };
			return &later;
		}
		kinfo.probed = 1;
		say_verdict();	/* once: the verdict is final */
		void (*fn)(int) = __atomic_load_n(&on_verdict, __ATOMIC_ACQUIRE);
		if (fn)
			fn(kinfo.supported);
		__atomic_store_n(&zcwin_usable, kinfo.supported, __ATOMIC_RELEASE);
		__atomic_store_n(&kstate, 2, __ATOMIC_RELEASE);
		return &kinfo;
	}
	/* Another thread (or an interrupted frame of ours) is probing: until
	 * it is done, treat zero-copy as unavailable rather than wait. */
	static const struct zcwin_kernel pending = { 0, 0, 0, EAGAIN };
	return __atomic_load_n(&kstate, __ATOMIC_ACQUIRE) == 2 ? &kinfo : &pending;
}

void zcwin_call_failed(int err)
{
	/* The option exists but keeps failing: after a run of failures in a
	 * row, stop paying for a call that cannot help. */
	static uint32_t streak;
	if (err == 0) {
		__atomic_store_n(&streak, 0, __ATOMIC_RELAXED);
		return;
	}
	if (__atomic_add_fetch(&streak, 1, __ATOMIC_RELAXED) == 64)
		zcwin_disable(err);
}

void zcwin_disable(int why)
{
	if (kinfo.supported) {
		__atomic_store_n(&zcwin_usable, 0, __ATOMIC_RELAXED);
		kinfo.supported = 0;
		kinfo.why = why;
		zlog(ZLOG_INFO, "kernel refused zero-copy receive (%s): passing reads through", strerror(why));
	}
}

uint8_t *zcwin_map(size_t size, int inherit)
{
	/* Reserve size + 2 MiB, then place the socket mapping on a 2 MiB
	 * boundary inside it, so a window needs the fewest page-table pages. */
	size_t span = size + HUGE_ALIGN;
	uint8_t *res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return NULL;
	uint8_t *at = (uint8_t *)(((uintptr_t)res + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
	int fd = private_socket();
	if (fd < 0) {
		munmap(res, span);
		return NULL;
	}
	void *p = mmap(at, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	int e = errno;
	private_close(fd);	/* the mapping holds the socket; no fd kept */
	if (p == MAP_FAILED) {
		munmap(res, span);
		errno = e;
		return NULL;
	}
	if (at > res)
		munmap(res, (size_t)(at - res));
	if (res + span > at + size)
		munmap(at + size, (size_t)(res + span - (at + size)));
	if (!inherit)
		madvise(at, size, MADV_DONTFORK);
	return at;
}

struct zcwin_win *zcwin_acquire(void)
{
	/* Start at a per-thread spot so threads rarely collide. */
	static __attribute__((tls_model("initial-exec"))) __thread unsigned home;
	static unsigned next_home;
	if (!home)
		home = __atomic_add_fetch(&next_home, 1, __ATOMIC_RELAXED);
	unsigned start = home;
	for (unsigned i = 0; i < pool_len; i++) {
		struct zcwin_win *w = &pool[(start + i) % pool_len];
		if (__atomic_load_n(&w->busy, __ATOMIC_RELAXED) ||
		    __atomic_exchange_n(&w->busy, 1, __ATOMIC_ACQUIRE))
			continue;
		if (!w->addr) {
			w->addr = zcwin_map(win_size, 0);
			w->size = win_size;
			if (!w->addr) {
				static int said;
				if (!said++)
					zlog(ZLOG_WARN, "cannot map a zero-copy window: %s", strerror(errno));
				__atomic_store_n(&w->busy, 0, __ATOMIC_RELEASE);
				return NULL;
			}
		}
		return w;
	}
	return NULL;
}

void zcwin_release(struct zcwin_win *w)
{
	__atomic_store_n(&w->busy, 0, __ATOMIC_RELEASE);
}

static void (*on_release)(uint64_t ns, uint64_t bytes);

void zcwin_on_release(void (*fn)(uint64_t ns, uint64_t bytes))
{
	__atomic_store_n(&on_release, fn, __ATOMIC_RELEASE);
}

static uint64_t thread_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Unmaps everything the window's last trip mapped, and starts a new trip,
 * timed for on_release if set. */
void zcwin_zap(struct zcwin_win *w)
{
	void (*fn)(uint64_t, uint64_t) = __atomic_load_n(&on_release, __ATOMIC_ACQUIRE);
	uint64_t t0 = 0, bytes = w->next;
	int saved = errno;
	if (fn && bytes)
		t0 = thread_ns();
	/* Only as far as any call reached: a short connection's few pages
	 * cost a walk of 2 MiB of page tables otherwise (madvise's share of
	 * a 16 KiB mapped connection: docs/benchmarks.md, run N). */
	if (w->reach)
		madvise(w->addr, w->reach < w->size ? w->reach : w->size, MADV_DONTNEED);
	if (fn && bytes)
		fn(thread_ns() - t0, bytes);
	errno = saved;
	__atomic_store_n(&w->next, 0, __ATOMIC_RELAXED);	/* zcwin_trim peeks without the window */
	w->reach = 0;
}

/* The struct is passed up to inq and no further: the kernel reads (and
 * clears) the socket's pending error for any length that reaches err
 * (do_tcp_getsockopt, TCP_ZEROCOPY_RECEIVE), and an error taken here is
 * lost to recv(), poll, SO_ERROR and every other holder of the socket.
 * So the copybuf and the flags behind err (TLB_CLEAN_HINT) go unused:
 * measured, interleaved queued A/B, 31 runs, 256 KiB reads: zc4108
 * 1.125/1.133 -> 1.179/1.133x plain, default-MSS MSG_ZEROCOPY
 * 1.430/1.389 -> 1.460/1.484x (stragglers now come by a copy of their
 * own; the kernel zaps the range it maps into). */
static int call(int fd, uint8_t *at, size_t map_len, struct tcp_zerocopy_receive *zc)
{
	socklen_t len = kinfo.optlen >= KZC_LEN_ERR ? (socklen_t)KZC_END(inq) : kinfo.optlen;
	memset(zc, 0, sizeof(*zc));
	zc->address = (uint64_t)(uintptr_t)at;
	zc->length = (uint32_t)map_len;
	return getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc, &len) ? -errno : 0;
}

/* Nothing mapped, copied or to skip, yet data queued.  At an urgent mark
 * the kernel answers so every time; elsewhere it is a passing state (seen
 * on loopback about once per 256 MiB, a GSO unit queued) and the same call
 * made again maps.  1 when it is worth asking once more: not at the mark
 * (SIOCATMARK, a raw call: nothing of libc's on this path). */
static int stalled(int fd, const struct tcp_zerocopy_receive *zc)
{
	int at = 1;
	if (zc->length || zc->recv_skip_hint || !zc->inq || kinfo.optlen < KZC_LEN_ERR)
		return 0;
	return syscall(SYS_ioctl, fd, SIOCATMARK, &at) == 0 && !at;
}

int zcwin_receive(int fd, struct zcwin_win *w, size_t map_len, struct tcp_zerocopy_receive *zc, const uint8_t **data)
{
	if (w->next + map_len > w->size) {
		zcwin_zap(w);	/* round the ring */
	}
	uint8_t *at = w->addr + w->next;
	if (w->next + map_len > w->reach)
		w->reach = w->next + map_len;
	int r = call(fd, at, map_len, zc);
	if (!r && stalled(fd, zc))
		r = call(fd, at, map_len, zc);	/* the same question again */
	if (r)
		return r;
	if (zc->length && !w->next && !__atomic_load_n(&held, __ATOMIC_RELAXED))
		__atomic_store_n(&held, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&w->next, w->next + zc->length, __ATOMIC_RELAXED);	/* a page multiple; see zcwin_zap */
	*data = at;
	if (kinfo.optlen < KZC_LEN_ERR)
		zc->inq = UINT32_MAX;	/* unknown: the caller keeps asking */
	return 0;
}

void zcwin_settle(struct zcwin_win *w)
{
	if (w->next >= w->size / 2)
		zcwin_zap(w);
}

void zcwin_trim(void)
{
	if (!__atomic_load_n(&held, __ATOMIC_RELAXED))
		return;
	/* Cleared first: a trip that maps meanwhile sets it again. */
	__atomic_store_n(&held, 0, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < pool_len; i++) {
		struct zcwin_win *w = &pool[i];
		/* Only a window with pages in it: a connection that mapped
		 * nothing costs no madvise when it closes. */
		size_t next = w->addr ? __atomic_load_n(&w->next, __ATOMIC_RELAXED) : 0;
		if (!next)
			continue;
		/* Under TRIM_KEEP (a few short connections share one madvise)
		 * or in use: its pages stay, and a later trim looks again. */
		if (next < TRIM_KEEP || __atomic_exchange_n(&w->busy, 1, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&held, 1, __ATOMIC_RELAXED);
			continue;
		}
		zcwin_zap(w);
		__atomic_store_n(&w->busy, 0, __ATOMIC_RELEASE);
	}
}

void zcwin_after_fork_child(void)
{
	held = 0;
	for (unsigned i = 0; i < POOL_MAX; i++) {
		pool[i].addr = NULL;
		pool[i].next = 0;
		pool[i].reach = 0;
		pool[i].busy = 0;
	}
}
