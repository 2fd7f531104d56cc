/*
 * fdtable.h - what the shim knows about each file descriptor.
 *
 * A plain array indexed by fd (as redis ae.c does), sized from the hard
 * RLIMIT_NOFILE and mapped MAP_NORESERVE so only entries of fds actually
 * used cost memory.  An fd the shim never saw created starts UNKNOWN and is
 * classified on its first read (one getsockopt), then cached.  A cached TCP
 * entry can go stale when the app closes the fd behind the shim's back
 * (fclose of an fdopen'ed stream, a raw syscall): the read path notices the
 * ENOTSOCK/EOPNOTSUPP from the kernel and reclassifies, so a stale entry can
 * cost one syscall but never misroute a read.
 */
#ifndef ZCSHIM_FDTABLE_H
#define ZCSHIM_FDTABLE_H

#include <stdint.h>
#include <stddef.h>
#include <sys/single_threaded.h>

enum fdtable_kind { FDTABLE_UNKNOWN = 0, FDTABLE_OTHER = 1, FDTABLE_TCP = 2 };

/* What past reads of the fd suggest.  Only hints: they pick a strategy,
 * never change what a read returns.  Cleared as a whole (fdtable_hints_clear)
 * whenever the fd number starts meaning something else. */
struct fdtable_hints {
	uint16_t miss_streak;   /* unmappable runs met by mapped-path reads in a
				 * row that mapped nothing */
	uint16_t backoff;       /* reads to pass through before probing again */
	uint32_t pass_left;     /* reads the hooks pass through before deciding
				 * again: a back-off, or a run of auto's copies */
	uint8_t pass_why;       /* what those count as: SEGFMT_R_BACKOFF or _AUTO */
	uint8_t little;         /* reads in a row that delivered under two pages (max 2) */
	uint16_t tail_len;      /* the last unmappable run met behind mapped pages,
				 * where under a page: how far into its last page
				 * the sender's segments end */
	uint32_t queued;        /* bytes the last mapped-path call saw queued
				 * (0: drained or not known; UINT32_MAX: the
				 * kernel does not say) */
	uint8_t blocking;       /* 0 not known, 1 blocking, 2 O_NONBLOCK */
	uint16_t head_off;      /* the last read stopped this far into a mappable page */
	uint32_t peer;          /* peer_key of the fd's peer (0: not known) */
};

/* Socket options that change what a read must do, as the program set them
 * through setsockopt (hooked) on any fd of the socket in this process, or
 * as the kernel reported them when the shim first met a socket it did not
 * see created.  They belong to the socket: every fd of it in the process
 * holds the same flags (fdtable_setsockopt sets them on all, by sid).  The
 * waits that SO_RCVLOWAT and SO_RCVTIMEO shape are the kernel's own
 * (take.h), so the shim keeps no copy of them. */
enum {
	FDTABLE_OPT_PEEK_OFF = 1,   /* SO_PEEK_OFF >= 0: reads must move the peek offset */
	FDTABLE_OPT_REPAIR = 2,     /* TCP_REPAIR: reads must fail with EPERM */
	FDTABLE_OPT_OOBINLINE = 4,  /* SO_OOBINLINE: reads must stop at the urgent mark */
	FDTABLE_OPT_INQ = 8,        /* TCP_INQ: recvmsg reports a control message */
	FDTABLE_OPT_TSTAMP = 16,    /* SO_TIMESTAMP*: recvmsg reports a control message */
};
#define FDTABLE_OPT_NOMAP (FDTABLE_OPT_PEEK_OFF | FDTABLE_OPT_REPAIR | FDTABLE_OPT_OOBINLINE)
#define FDTABLE_OPT_CMSG (FDTABLE_OPT_INQ | FDTABLE_OPT_TSTAMP)

struct fdtable_opts {
	uint32_t flags;         /* FDTABLE_OPT_* */
};

struct segfmt_counters;

/* One cache line an entry: a pass-through read touches only its own. */
struct __attribute__((aligned(64))) fdtable_entry {
	struct segfmt_counters *ctr; /* the counters of its stats slot, once claimed
				   * (NULL: not yet); atomic, cleared after slot */
	uint32_t kind;          /* enum fdtable_kind; atomic */
	uint32_t slot;          /* stats slot + 1, 0 = none yet; atomic */
	uint32_t gen;           /* bumped whenever the fd is closed, reused or dup'ed over */
	uint32_t sid;           /* the socket (open file description) as this
				 * process knows it: dups share it */
	uint8_t solo;           /* no other process reads the socket: made here
				 * (socket, accept) or met (inherited, received:
				 * fdtable_classify), no fork since */
	struct fdtable_opts opts;
	struct fdtable_hints hints;
};
_Static_assert(sizeof(struct fdtable_entry) == 64, "one cache line an entry");

/* Allocates the table; 0 or -errno.  Called once from init, with the
 * function that gives back what an entry holds of others' when the fd
 * starts meaning something else, before its hints are cleared: its
 * statistics slot (slot + 1, 0 none) and the rest of a run of auto's
 * (zcread.c: zcread_entry_reset; passed in, so the table needs nothing of
 * the statistics or of auto). */
int fdtable_init(void (*on_reset)(struct fdtable_entry *e, uint32_t slot));
/* Entry for fd, or NULL when fd is negative or beyond the table. */
/* The table: a plain array indexed by fd (after redis's ae.c), reserved
 * at start-up.  Its lookup is inline: every hooked call makes one. */
struct fdtable_table {
	struct fdtable_entry *entries;
	unsigned len;
};
extern struct fdtable_table fdtable_tab;

static inline struct fdtable_entry *fdtable_get(int fd)
{
	if ((unsigned)fd >= fdtable_tab.len || !fdtable_tab.entries)
		return NULL;	/* a negative fd wraps above len */
	return &fdtable_tab.entries[fd];
}
/* Classifies an UNKNOWN fd (one getsockopt); its kind. */
int fdtable_classify(int fd, struct fdtable_entry *e);
/* Entry kind, classifying UNKNOWN fds.  NULL entry: OTHER.  Inline: every
 * hooked call asks, and all but the first find the answer stored. */
static inline int fdtable_kind(int fd, struct fdtable_entry *e)
{
	if (!e)
		return FDTABLE_OTHER;
	uint32_t k = __atomic_load_n(&e->kind, __ATOMIC_ACQUIRE);
	return __builtin_expect(k != FDTABLE_UNKNOWN, 1) ? (int)k : fdtable_classify(fd, e);
}
/* Kernel view: 1 if fd is an AF_INET/AF_INET6 SOCK_STREAM TCP socket. */
int fdtable_is_tcp(int fd);

/* Lifecycle: fd now refers to a TCP socket the shim saw created, with
 * O_NONBLOCK (nonblock) or not: known here, so no read asks. */
void fdtable_set_tcp(int fd, int nonblock);
/* fd closed (or about to be reused): forgets everything, releases its stats slot. */
void fdtable_forget(int fd);
/* newfd is a duplicate of oldfd. */
void fdtable_dup(int oldfd, int newfd);
/* fd was accepted from lfd: a TCP socket with the listener's options, and
 * O_NONBLOCK only if accept4 asked (Linux does not inherit it). */
void fdtable_accepted(int lfd, int fd, int nonblock);
/* The program set a socket option on fd (after it succeeded). */
void fdtable_setsockopt(int fd, int level, int name, const void *val, unsigned len);
/* close_range(lo, hi) closed these fds. */
void fdtable_forget_range(unsigned lo, unsigned hi);

/* The socket may now be read by someone else too: every TCP entry (a
 * fork: both sides), or fd's socket (its fds in this process). */
void fdtable_shared_all(void);
static inline int fdtable_solo(const struct fdtable_entry *e)
{
	return __atomic_load_n(&e->solo, __ATOMIC_RELAXED);
}

/* How many fds the table knows as TCP now (0: none open). */
int fdtable_tcp_open(void);

/* The per-fd hints (streaks, backoff, flags) may be touched by a reader
 * and by another thread closing or reusing the fd at the same time: all
 * access goes through these relaxed atomics (values are only hints). */
#define FDTABLE_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define FDTABLE_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

void fdtable_hints_clear(struct fdtable_hints *h);

/* 1 if reads on fd block (no O_NONBLOCK), asked once per fd and cached;
 * the fcntl hook calls fdtable_flags_changed on F_SETFL. */
int fdtable_blocking(int fd, struct fdtable_entry *e);
void fdtable_flags_changed(int fd);

/* Serialises the mapped-path reads of one socket among threads, whichever
 * fd of it they read (a lock per socket: per sid, in a table of buckets a
 * few sockets may share).  Held only with signals blocked and across no
 * cancellation point (take.h), so no holder can vanish without releasing
 * it. */
void fdtable_lock(struct fdtable_entry *e);
void fdtable_unlock(struct fdtable_entry *e);
/* With the lock held: 1 if another thread is in a consuming real call on
 * the socket (it registered before the lock was taken; any later one
 * waits for the lock), so the holder may make only one consuming call. */
int fdtable_others_consuming(struct fdtable_entry *e);

/* Around a consuming real call (a pass-through read) in a multithreaded
 * process: registers the thread as a reader of e's socket and waits out a
 * take in progress.  A registration left by a siglongjmp out of the call is undone
 * at the thread's next consume_begin, one left by a cancellation when the
 * thread exits.  consume_end takes what consume_begin returned. */
int fdtable_consume_begin_mt(struct fdtable_entry *e);
void fdtable_consume_end_mt(void);
static inline int fdtable_consume_begin(struct fdtable_entry *e)
{
	if (__builtin_expect(__libc_single_threaded, 1) || !e)
		return 0;
	return fdtable_consume_begin_mt(e);
}
static inline void fdtable_consume_end(int token)
{
	if (token)
		fdtable_consume_end_mt();
}

/* hook(fd) runs whenever fd starts meaning something else (close, dup
 * over, reuse), before the entry is reset (inplace.c: lent pages go). */
void fdtable_set_reset_hook(void (*hook)(int fd));

/* In a fork child: drop locks and reader registrations of threads that no
 * longer exist and forget stats slots, which belonged to the parent's
 * segment. */
void fdtable_after_fork_child(void);

#endif
