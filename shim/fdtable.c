/*
 * fdtable.c - see fdtable.h.
 */
#define _GNU_SOURCE
#include "fdtable.h"
#include "hot.h"
#include "peer.h"
#include "libc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/single_threaded.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#define FDTABLE_DEFAULT (1u << 20)
#define FDTABLE_MAX (1u << 22)

static void readers_init(void);

HOT struct fdtable_table fdtable_tab;
#define table fdtable_tab.entries
#define table_len fdtable_tab.len
static HOT_CONN unsigned high_water;	/* 1 + largest fd ever touched; bounds range walks */
static HOT_CONN int tcp_open;		/* entries of kind TCP right now */

static HOT void (*on_reset)(struct fdtable_entry *e, uint32_t slot);

int fdtable_init(void (*reset_fn)(struct fdtable_entry *e, uint32_t slot))
{
	on_reset = reset_fn;
	/* At least the kernel's default nr_open (2^20): a program may raise
	 * RLIMIT_NOFILE after we start.  MAP_NORESERVE: only entries of fds
	 * actually used cost memory. */
	struct rlimit rl;
	unsigned n = FDTABLE_DEFAULT;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_max != RLIM_INFINITY && rl.rlim_max > n)
		n = rl.rlim_max > FDTABLE_MAX ? FDTABLE_MAX : (unsigned)rl.rlim_max;
	/* Raw syscall: the app may interpose mmap too, and this runs early. */
	void *p = (void *)syscall(SYS_mmap, NULL, (size_t)n * sizeof(struct fdtable_entry),
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	table = p;
	table_len = n;
	readers_init();
	return 0;
}

static void touch(int fd)
{
	unsigned want = (unsigned)fd + 1, cur = __atomic_load_n(&high_water, __ATOMIC_RELAXED);
	while (cur < want &&
	       !__atomic_compare_exchange_n(&high_water, &cur, want, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

int fdtable_is_tcp(int fd)
{
	int v;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) || v != IPPROTO_TCP)
		return 0;
	l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) || (v != AF_INET && v != AF_INET6))
		return 0;
	l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) || v != SOCK_STREAM)
		return 0;
	return 1;
}

static HOT_CONN uint32_t sid_next;

static uint32_t new_sid(void)
{
	return __atomic_add_fetch(&sid_next, 1, __ATOMIC_RELAXED);
}

/* The options a socket already had when the shim first met it. */
static void opts_read(int fd, struct fdtable_opts *o)
{
	static const struct { int level, name, flag; } on[] = {
		{ SOL_SOCKET, SO_OOBINLINE, FDTABLE_OPT_OOBINLINE },
		{ IPPROTO_TCP, TCP_REPAIR, FDTABLE_OPT_REPAIR },
		{ IPPROTO_TCP, TCP_INQ, FDTABLE_OPT_INQ },
		{ SOL_SOCKET, SO_TIMESTAMP_OLD, FDTABLE_OPT_TSTAMP },
		{ SOL_SOCKET, SO_TIMESTAMPNS_OLD, FDTABLE_OPT_TSTAMP },
		{ SOL_SOCKET, SO_TIMESTAMPING_OLD, FDTABLE_OPT_TSTAMP },
	};
	int v;
	socklen_t l;
	o->flags = 0;
	for (unsigned i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		l = sizeof(v);
		if (!getsockopt(fd, on[i].level, on[i].name, &v, &l) && v > 0)
			o->flags |= (uint32_t)on[i].flag;
	}
	l = sizeof(v);
	if (!getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &v, &l) && v >= 0)
		o->flags |= FDTABLE_OPT_PEEK_OFF;
}

static void opts_store(struct fdtable_entry *e, const struct fdtable_opts *o)
{
	FDTABLE_SET(e->opts.flags, o->flags);
}

int fdtable_classify(int fd, struct fdtable_entry *e)
{
	uint32_t k = __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE);
	if (k != FDTABLE_UNKNOWN)
		return (int)k;
	int saved = errno;
	struct fdtable_opts o = { 0 };
	k = fdtable_is_tcp(fd) ? FDTABLE_TCP : FDTABLE_OTHER;
	if (k == FDTABLE_TCP) {
		opts_read(fd, &o);
		touch(fd);
	}
	errno = saved;
	uint32_t unknown = FDTABLE_UNKNOWN;
	opts_store(e, &o);
	/* Met, not made here: inherited across exec, received by
	 * SCM_RIGHTS, made by a raw call.  Taken as this process's alone: the
	 * program that handed it over (inetd, a shell, a supervisor) does not
	 * read it meanwhile, as a program that forks may (docs/design.md, Guarantees;
	 * measured: one consuming call a read cost cat 1.34x the floor on an
	 * inherited socket, against 1.10). */
	FDTABLE_SET(e->solo, 1);
	FDTABLE_SET(e->sid, new_sid());
	if (__atomic_compare_exchange_n(&e->kind, &unknown, k, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		if (k == FDTABLE_TCP)
			__atomic_fetch_add(&tcp_open, 1, __ATOMIC_RELAXED);
		return (int)k;
	}
	return (int)unknown;	/* someone else classified it first */
}

void fdtable_hints_clear(struct fdtable_hints *h)
{
	FDTABLE_SET(h->miss_streak, 0);
	FDTABLE_SET(h->backoff, 0);
	FDTABLE_SET(h->pass_left, 0);
	FDTABLE_SET(h->little, 0);
	FDTABLE_SET(h->queued, 0);
	FDTABLE_SET(h->blocking, 0);
	FDTABLE_SET(h->head_off, 0);
	FDTABLE_SET(h->tail_len, 0);
	FDTABLE_SET(h->peer, 0);
}

static HOT void (*reset_hook)(int fd);

void fdtable_set_reset_hook(void (*hook)(int fd))
{
	if (__atomic_load_n(&reset_hook, __ATOMIC_RELAXED) != hook)
		__atomic_store_n(&reset_hook, hook, __ATOMIC_RELEASE);
}

/* sid: the socket's (0: a new one); solo as in fdtable.h. */
static void reset(struct fdtable_entry *e, uint32_t kind, const struct fdtable_opts *o, uint32_t sid, int solo)
{
	static const struct fdtable_opts fresh = { 0 };
	void (*hook)(int) = __atomic_load_n(&reset_hook, __ATOMIC_ACQUIRE);
	if (hook)
		hook((int)(e - table));
	peer_forget((int)(e - table));
	uint32_t slot = __atomic_exchange_n(&e->slot, 0, __ATOMIC_ACQ_REL);
	/* After the slot: a reader caching ctr re-checks the slot (zcread.c). */
	__atomic_store_n(&e->ctr, NULL, __ATOMIC_RELEASE);
	if (on_reset)
		on_reset(e, slot);
	fdtable_hints_clear(&e->hints);
	opts_store(e, o ? o : &fresh);
	FDTABLE_SET(e->sid, sid ? sid : new_sid());
	FDTABLE_SET(e->solo, (uint8_t)solo);
	__atomic_add_fetch(&e->gen, 1, __ATOMIC_RELEASE);
	uint32_t old = __atomic_exchange_n(&e->kind, kind, __ATOMIC_ACQ_REL);
	if (old == FDTABLE_TCP && kind != FDTABLE_TCP)
		__atomic_fetch_sub(&tcp_open, 1, __ATOMIC_RELAXED);
	else if (old != FDTABLE_TCP && kind == FDTABLE_TCP)
		__atomic_fetch_add(&tcp_open, 1, __ATOMIC_RELAXED);
}

int fdtable_tcp_open(void)
{
	return __atomic_load_n(&tcp_open, __ATOMIC_RELAXED);
}

void fdtable_set_tcp(int fd, int nonblock)
{
	struct fdtable_entry *e = fdtable_get(fd);
	if (!e)
		return;
	touch(fd);
	reset(e, FDTABLE_TCP, NULL, 0, 1);
	FDTABLE_SET(e->hints.blocking, nonblock ? 2 : 1);
}

void fdtable_forget(int fd)
{
	struct fdtable_entry *e = fdtable_get(fd);
	if (e && __atomic_load_n(&e->kind, __ATOMIC_RELAXED) != FDTABLE_UNKNOWN)
		reset(e, FDTABLE_UNKNOWN, NULL, 0, 0);
}

void fdtable_dup(int oldfd, int newfd)
{
	struct fdtable_entry *o = fdtable_get(oldfd), *n = fdtable_get(newfd);
	if (!n)
		return;
	uint32_t k = o ? __atomic_load_n(&o->kind, __ATOMIC_ACQUIRE) : FDTABLE_UNKNOWN, sid = 0;
	struct fdtable_opts opts = { 0 };
	if (k == FDTABLE_TCP) {
		touch(newfd);
		opts.flags = FDTABLE_GET(o->opts.flags);
		sid = FDTABLE_GET(o->sid);
	}
	/* Another fd of the same socket in this process: the same lock. */
	reset(n, k, &opts, sid, k == FDTABLE_TCP && FDTABLE_GET(o->solo));
	if (k == FDTABLE_TCP) {
		peer_copy(oldfd, newfd);	/* the same peer, and what was learned of it */
		FDTABLE_SET(n->hints.peer, FDTABLE_GET(o->hints.peer));
	}
}

void fdtable_accepted(int lfd, int fd, int nonblock)
{
	struct fdtable_entry *l = fdtable_get(lfd), *n = fdtable_get(fd);
	if (!n)
		return;
	if (fdtable_kind(lfd, l) != FDTABLE_TCP) {
		reset(n, FDTABLE_UNKNOWN, NULL, 0, 0);
		return;
	}
	/* The kernel clones the listener's socket options into the child. */
	struct fdtable_opts o = { FDTABLE_GET(l->opts.flags) & ~(uint32_t)FDTABLE_OPT_REPAIR };
	touch(fd);
	reset(n, FDTABLE_TCP, &o, 0, 1);
	FDTABLE_SET(n->hints.blocking, nonblock ? 2 : 1);
}

static void opt_flag_one(struct fdtable_entry *e, uint32_t flag, int on)
{
	uint32_t f = FDTABLE_GET(e->opts.flags);
	FDTABLE_SET(e->opts.flags, on ? f | flag : f & ~flag);
	/* The hooks pass a run of reads through before the policy sees the
	 * options again (policy.h): an option it must answer ends the run. */
	if (on && (flag & FDTABLE_OPT_NOMAP))
		FDTABLE_SET(e->hints.pass_left, 0);
}

/* The option belongs to the socket: every fd of it here sees it.  A walk
 * of the table, only for the few options a read must honour. */
static void opt_flag(struct fdtable_entry *e, uint32_t flag, int on)
{
	uint32_t sid = FDTABLE_GET(e->sid);
	unsigned end = __atomic_load_n(&high_water, __ATOMIC_RELAXED);
	opt_flag_one(e, flag, on);
	for (unsigned fd = 0; fd < end && fd < table_len; fd++)
		if (&table[fd] != e && FDTABLE_GET(table[fd].sid) == sid &&
		    __atomic_load_n(&table[fd].kind, __ATOMIC_ACQUIRE) == FDTABLE_TCP)
			opt_flag_one(&table[fd], flag, on);
}

void fdtable_shared_all(void)
{
	unsigned end = __atomic_load_n(&high_water, __ATOMIC_RELAXED);
	for (unsigned fd = 0; fd < end && fd < table_len; fd++)
		FDTABLE_SET(table[fd].solo, 0);
}

void fdtable_setsockopt(int fd, int level, int name, const void *val, unsigned len)
{
	struct fdtable_entry *e = fdtable_get(fd);
	if (!e || __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE) != FDTABLE_TCP || len < sizeof(int))
		return;
	int v;
	memcpy(&v, val, sizeof(v));	/* the kernel read it without fault */
	if (level == SOL_SOCKET && name == SO_PEEK_OFF)
		opt_flag(e, FDTABLE_OPT_PEEK_OFF, v >= 0);
	else if (level == SOL_SOCKET && name == SO_OOBINLINE)
		opt_flag(e, FDTABLE_OPT_OOBINLINE, v != 0);
	else if (level == SOL_SOCKET && (name == SO_TIMESTAMP_OLD || name == SO_TIMESTAMPNS_OLD ||
					 name == SO_TIMESTAMPING_OLD || name == SO_TIMESTAMP_NEW ||
					 name == SO_TIMESTAMPNS_NEW || name == SO_TIMESTAMPING_NEW))
		opt_flag(e, FDTABLE_OPT_TSTAMP, v != 0);
	else if (level == IPPROTO_TCP && name == TCP_REPAIR)
		opt_flag(e, FDTABLE_OPT_REPAIR, v == TCP_REPAIR_ON);
	else if (level == IPPROTO_TCP && name == TCP_INQ)
		opt_flag(e, FDTABLE_OPT_INQ, v != 0);
}

void fdtable_forget_range(unsigned lo, unsigned hi)
{
	unsigned end = __atomic_load_n(&high_water, __ATOMIC_RELAXED);
	if (hi < end)
		end = hi + 1;
	for (unsigned fd = lo; fd < end && fd < table_len; fd++)
		fdtable_forget((int)fd);
}

int fdtable_blocking(int fd, struct fdtable_entry *e)
{
	uint8_t b = FDTABLE_GET(e->hints.blocking);
	if (!b) {
		/* ioctl(FIONBIO) is not hooked, so this can go stale: it only
		 * picks a strategy, never changes what a read returns. */
		int saved = errno;
		int fl = libc_fcntl(fd, F_GETFL, NULL);
		errno = saved;
		if (fl < 0)
			return 0;
		b = (fl & O_NONBLOCK) ? 2 : 1;
		FDTABLE_SET(e->hints.blocking, b);
	}
	return b == 1;
}

void fdtable_flags_changed(int fd)
{
	struct fdtable_entry *e = fdtable_get(fd);
	if (e)
		FDTABLE_SET(e->hints.blocking, 0);
}

/* The per-socket lock and reader count, by sid.  Sockets that share a
 * bucket only serialise their takes (a few non-blocking calls each) and
 * see each other's readers (one consuming call a take, never a wrong
 * byte). */
#define BUCKETS 1024
static struct {
	uint32_t lock;          /* 0 free, 1 held */
	uint32_t readers;       /* threads in a consuming real call; each
				 * registration is undone exactly once */
} __attribute__((aligned(64))) bucket[BUCKETS];

static __typeof__(bucket[0]) *bucket_of(const struct fdtable_entry *e)
{
	return &bucket[FDTABLE_GET(e->sid) % BUCKETS];
}

void fdtable_lock(struct fdtable_entry *e)
{
	uint32_t *lock = &bucket_of(e)->lock;
	/* Holders never block in the kernel (TCP_ZEROCOPY_RECEIVE and the
	 * MSG_DONTWAIT tail reads never sleep), so the wait is short. */
	for (unsigned spins = 0;; spins++) {
		if (!__atomic_load_n(lock, __ATOMIC_RELAXED) && !__atomic_exchange_n(lock, 1, __ATOMIC_SEQ_CST))
			return;
		if (spins < 64)
			cpu_relax();
		else
			sched_yield();
	}
}

void fdtable_unlock(struct fdtable_entry *e)
{
	__atomic_store_n(&bucket_of(e)->lock, 0, __ATOMIC_RELEASE);
}

int fdtable_others_consuming(struct fdtable_entry *e)
{
	/* Sequentially consistent against consume_begin: either the reader
	 * sees the lock held and waits, or the take sees the reader. */
	return __atomic_load_n(&bucket_of(e)->readers, __ATOMIC_SEQ_CST) != 0;
}

/* ---- reader registration (multithreaded processes) ------------------- */

#define TLS __attribute__((tls_model("initial-exec"))) __thread

static TLS uint32_t *consuming;	/* this thread's registration: a reader count */
static TLS uint8_t exit_armed;		/* reader_key set for this thread */
static pthread_key_t reader_key;
static int reader_key_ok;

static void undo_registration(void)
{
	uint32_t *r = consuming;
	if (r) {
		consuming = NULL;
		__atomic_sub_fetch(r, 1, __ATOMIC_RELEASE);
	}
}

/* Runs when a thread exits, cancelled inside a consuming call included. */
static void reader_exit(void *unused)
{
	(void)unused;
	undo_registration();
}

static void readers_init(void)
{
	reader_key_ok = !pthread_key_create(&reader_key, reader_exit);
}

int fdtable_consume_begin_mt(struct fdtable_entry *e)
{
	undo_registration();	/* left by a siglongjmp out of the last one */
	if (!exit_armed && reader_key_ok) {
		int saved = errno;
		exit_armed = !pthread_setspecific(reader_key, &consuming);
		errno = saved;
	}
	__typeof__(bucket[0]) *b = bucket_of(e);
	__atomic_add_fetch(&b->readers, 1, __ATOMIC_SEQ_CST);
	consuming = &b->readers;
	/* A take holds the lock for a few non-blocking calls, signals
	 * blocked: wait it out, it will make no further call now. */
	while (__atomic_load_n(&b->lock, __ATOMIC_SEQ_CST))
		sched_yield();
	return 1;
}

void fdtable_consume_end_mt(void)
{
	undo_registration();
}

void fdtable_after_fork_child(void)
{
	unsigned end = __atomic_load_n(&high_water, __ATOMIC_RELAXED);
	for (unsigned fd = 0; fd < end && fd < table_len; fd++) {
		FDTABLE_SET(table[fd].slot, 0);
		FDTABLE_SET(table[fd].ctr, NULL);
		FDTABLE_SET(table[fd].solo, 0);
	}
	for (unsigned i = 0; i < BUCKETS; i++) {
		FDTABLE_SET(bucket[i].lock, 0);
		FDTABLE_SET(bucket[i].readers, 0);
	}
	consuming = NULL;
}
