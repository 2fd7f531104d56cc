/*
 * zcread.h - the one receive routine behind every hooked read call.
 *
 * read, readv, recv, recvfrom, recvmsg and their _chk variants describe
 * their request as a struct zcread_req (the destination always as an iovec
 * array) and call zcread_read.  It decides between the mapped path and the
 * real call, and on the mapped path returns what recv() would: min(len,
 * what is queued), waiting as recv() waits (blocking, O_NONBLOCK,
 * SO_RCVTIMEO, SO_RCVLOWAT, MSG_WAITALL, signals), keeping the socket
 * error the kernel handed over early until recv() would report it.
 */
#ifndef ZCSHIM_ZCREAD_H
#define ZCSHIM_ZCREAD_H

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"
#include "callsite.h"
#include "fdtable.h"
#include "libc.h"
#include "policy.h"
#include "stats.h"

enum zcread_op { ZCREAD_READ, ZCREAD_READV, ZCREAD_RECVFROM, ZCREAD_RECVMSG };

struct zcread_req {
	int op;
	int fd;
	int flags;                      /* MSG_* (0 for read/readv) */
	const struct iovec *iov;        /* the destination, whatever the call */
	int iovcnt;
	struct msghdr *msg;             /* RECVMSG */
	struct sockaddr *from;          /* RECVFROM */
	socklen_t *fromlen;
};

void zcread_configure(const struct zcfg *cfg);

/* What the hooks may pass straight through, before describing it, when
 * it is small or in a run (policy.h): read(), or recv() with no flag but
 * MSG_DONTWAIT and MSG_NOSIGNAL.  They serve it with zcread_pass_read, the
 * entry that skips describing the request (most of a pass-through read's
 * own cost). */
static inline int zcread_plain_flags(int flags)
{
	return !(flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL));
}

/* ---- inline, for the hooks: the pass-through read and its accounting -- */

/* Out of line halves of what follows (zcread.c). */
struct segfmt_counters *zcread_counters_slow(int fd, struct fdtable_entry *e);
ssize_t zcread_pass_unusual(int fd, struct fdtable_entry *e, ssize_t r, int err, int reason);
/* The program spliced n bytes out of fd (a TCP socket the shim serves):
 * counted as copied for SEGFMT_R_SPLICED, the hints told the head moved. */
void zcread_spliced(int fd, struct fdtable_entry *e, size_t n);
/* e's fd starts meaning something else (closed, reused, dup'ed over;
 * fdtable_init's callback): its statistics slot (slot + 1, 0 none) goes
 * back, and so do the reads of auto's run it claimed and did not make
 * (auto_unclaim). */
void zcread_entry_reset(struct fdtable_entry *e, uint32_t slot);
void zcread_record_site(const struct stats_delta *d);

/* The fd's counters, found through its stats slot on first use, then
 * cached in its entry: after a system call the shim's data has often left
 * the L1 cache, and slot -> segment -> counters was a chain of misses.  A
 * reset clears ctr after the slot; zcread_counters_slow re-reads the slot
 * after caching and undoes a cache that raced with it. */
static inline struct segfmt_counters *zcread_counters(int fd, struct fdtable_entry *e)
{
	struct segfmt_counters *c = __atomic_load_n(&e->ctr, __ATOMIC_ACQUIRE);
	return __builtin_expect(c != NULL, 1) ? c : zcread_counters_slow(fd, e);
}

/* One call's figures into fd's counters and, for unmapped bytes, its call
 * site.  Inline where the delta is built, so the fields a path never sets
 * cost nothing (a pass-through read sets two of eight). */
static inline __attribute__((always_inline)) void zcread_count_as(int fd, struct fdtable_entry *e,
								const struct stats_delta *d, int single)
{
	stats_add_as(zcread_counters(fd, e), d, single);
	if (__builtin_expect(callsite_enabled(), 0) && d->copied)
		zcread_record_site(d);
}

static inline __attribute__((always_inline)) void zcread_count(int fd, struct fdtable_entry *e, const struct stats_delta *d)
{
	zcread_count_as(fd, e, d, stats_single_threaded());
}

/* Serves a read the shim passes through for a traffic reason
 * (policy_traffic_reason: below ZCSHIM_MIN_READ, backing off an unmappable
 * stream, request/response traffic, auto's choice): recv through
 * recvfrom(fd, buf, n, flags, NULL, NULL), else read().  Inline in the
 * exported hook (and in zcread_read), so that the system call is made in the
 * caller's own frame (libc.h: after a system call every frame returned
 * through costs a misprediction; a forwarding library with 0, 1 and 2
 * frames measured 0.998, 1.010 and 1.014x plain recv() CPU). */
static inline __attribute__((always_inline)) ssize_t zcread_pass_read(int fd, struct fdtable_entry *e, void *buf,
								   size_t n, int flags, int recv, int reason)
{
	/* Read once: no other thread can start one meanwhile. */
	int single = stats_single_threaded();
	ssize_t r;
	int err = 0;
	if (single && libc_direct) {
		if (__builtin_expect(__atomic_load_n(&libc_cancel_asked, __ATOMIC_RELAXED), 0))
			pthread_testcancel();	/* as libc's read would, before taking data */
		r = recv ? libc_sys_recv(fd, buf, n, flags) : libc_sys_read(fd, buf, n);
		if (__builtin_expect(r <= 0, 0))
			return zcread_pass_unusual(fd, e, r < 0 ? -1 : 0, (int)-r, reason);
	} else {
		int token = single ? 0 : fdtable_consume_begin(e);
		r = recv ? libc_recvfrom(fd, buf, n, flags, NULL, NULL) : libc_read(fd, buf, n);
		if (r < 0)
			err = errno;
		fdtable_consume_end(token);
		if (__builtin_expect(r <= 0, 0))
			return zcread_pass_unusual(fd, e, r, err, reason);
	}
	policy_learn_pass(e, r, reason);
	struct stats_delta d = { .copied = (uint64_t)r, .reason = reason };
	zcread_count_as(fd, e, &d, single);
	return r;
}
/* A result as libc gives it: -errno becomes errno and -1. */
static inline ssize_t zcread_ret(ssize_t r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* zcread_pass_read out of line, for the reads of a run (and a first read
 * the policy passes through), its result as libc gives it: one compact
 * copy the hooks tail-call, so that the system call is still made one
 * frame below the hook's caller.  Inline in each hook, its blocks lay
 * scattered among the small read's over 14-16 cache lines of code a
 * read, and a connection's reads come after waits that leave the shim's
 * lines cold (bench/conn-lines.py). */
ssize_t zcread_pass_run(int fd, struct fdtable_entry *e, void *buf, size_t n, int flags, int reason_recv);
/* zcread_pass_run's last argument: the reason, | ZCREAD_RUN_RECV for a
 * recv (six arguments: all in registers, so the hooks can tail-call). */
#define ZCREAD_RUN_RECV 0x100

/* The receive routine behind every hook.  e: the fd's entry, kind TCP.
 * Returns bytes or -errno; errno untouched.  The policy (and auto)
 * decide, unless zcread_route already did (decided: its answer, choice:
 * auto's; -1 each where not), then the general path serves it.  The hooks
 * of one buffer (zcread_read_buf) come here only for what is not a
 * traffic pass-through. */
ssize_t zcread_read(struct zcread_req *rq, struct fdtable_entry *e, int decided, int choice);
/* For one buffer and no source address: policy_decide (and auto's
 * choice, into *choice: -1 none) for a read not in a run. */
int zcread_route(struct fdtable_entry *e, int flags, size_t n, int *choice);

/* zcread_read for one buffer (read: op ZCREAD_READ, flags 0, no address; recv
 * and recvfrom: ZCREAD_RECVFROM), inline in the hook: a read below
 * ZCSHIM_MIN_READ, or one of a run the policy passes through (a back-off,
 * auto's copies), is served before the request is even described, the
 * system call made from the hook's own frame.
 * Measured (plain sender, 121 interleaved runs): auto's copies at 64 KiB
 * 1.022-1.028 -> 1.018x plain with runs.  The run's read is a second
 * copy of zcread_pass_read: with one copy and the reason in a variable, 4
 * KiB reads cost 1.007 -> 1.020x; called out of line (with a frame, or
 * tail-called), a run's read saved auto half as much or nothing.  The
 * labels keep the small read the straight path (it still measured about
 * 0.5% dearer at 4 KiB than without the run's copy: 1.015 vs 1.010).
 * A read that starts no run takes the run's copy too, once zcread_route
 * has decided: a connection's first read (auto's copies) used to be served
 * by a third copy out of line, and a short connection ran both (17 cache
 * lines of code more a connection: bench/conn-lines.py). */
static inline __attribute__((always_inline)) ssize_t zcread_read_buf(int op, int fd, struct fdtable_entry *e, void *buf,
								  size_t n, int flags, struct sockaddr *from,
								  socklen_t *fromlen)
{
	int why;
	if (policy_small_some(n) && !from && zcread_plain_flags(flags))
		goto small;
	if (policy_in_run(e) && !from && n && zcread_plain_flags(flags) && (why = policy_take_pass(&e->hints)) != POLICY_MAP)
		goto run;
	int choice = -1;
	why = -1;
	if (!from && (why = zcread_route(e, flags, n, &choice)) != POLICY_MAP && policy_traffic_reason(why) && n)
		goto run;
	struct iovec one = { buf, n };
	struct zcread_req rq = { .op = op, .fd = fd, .flags = flags, .iov = &one, .iovcnt = 1,
			      .from = from, .fromlen = fromlen };
	return zcread_ret(zcread_read(&rq, e, why, choice));
small: __attribute__((hot));
	return zcread_ret(zcread_pass_read(fd, e, buf, n, flags, op == ZCREAD_RECVFROM, SEGFMT_R_SMALL));
run: __attribute__((cold));
	return zcread_pass_run(fd, e, buf, n, flags, why | (op == ZCREAD_RECVFROM ? ZCREAD_RUN_RECV : 0));
}

#endif
