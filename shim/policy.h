/*
 * policy.h - the read path's heuristics, in one home.
 *
 * decide: what this read does (the mapped path, or the real call and why),
 * from the request, the fd's socket options and its hints.
 * learn: what the fd's hints become after the read, from what it found.
 * Nothing here changes what a read returns: only which way it is served.
 */
#ifndef ZCSHIM_POLICY_H
#define ZCSHIM_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fdtable.h"
#include "page.h"
#include "segfmt.h"
#include "zcwin.h"

#define POLICY_MAP (-1)

/* A read under this many bytes, with the queue (nearly) empty behind it,
 * is the little data of request/response traffic (policy_learn). */
#define POLICY_LITTLE (2 * (ssize_t)PAGE)

/* What a read found, for learn. */
struct policy_outcome {
	int reason;             /* what decide said */
	ssize_t result;         /* bytes delivered, or -errno */
	uint64_t mapped;        /* bytes of them mapped */
	int unmappable;         /* runs of a page or more it could not map */
	uint32_t inq;           /* queued after it (UINT32_MAX: not known) */
	int peek;               /* MSG_PEEK: nothing consumed */
	uint32_t head_off;      /* it stopped this far into a mappable page */
	uint32_t tail_len;      /* the last short unmappable run behind mapped pages */
};

void policy_configure(size_t min_read);
/* Reads of fewer bytes than ZCSHIM_MIN_READ (or none) pass straight to
 * the real call.  policy_small_some: 1 to ZCSHIM_MIN_READ - 1 bytes, in one
 * compare (the hooks' test: with two branches the compiler laid out the
 * empty read, not the small one, as the straight path). */
extern size_t policy_small_lim;	/* ZCSHIM_MIN_READ - 1, or 0 */
static inline int policy_small_some(size_t n)
{
	return n - 1 < policy_small_lim;
}
static inline int policy_small(size_t total)
{
	return total == 0 || policy_small_some(total);
}
/* A run of reads to pass through without deciding: a back-off from an
 * unmappable stream (policy_learn), or auto's copies up to its next sample
 * (zcread.c).  why: SEGFMT_R_BACKOFF or SEGFMT_R_AUTO. */
static inline void policy_pass_next(struct fdtable_hints *h, uint32_t reads, int why)
{
	FDTABLE_SET(h->pass_why, (uint8_t)why);
	FDTABLE_SET(h->pass_left, reads);
}
/* One read of that run: its reason, or POLICY_MAP when none is left. */
static inline int policy_take_pass(struct fdtable_hints *h)
{
	uint32_t left = FDTABLE_GET(h->pass_left);
	if (!left)
		return POLICY_MAP;
	FDTABLE_SET(h->pass_left, left - 1);
	return FDTABLE_GET(h->pass_why);
}

/* Whether the fd is in such a run: the hooks then pass a plain read
 * (one buffer, flags no more than MSG_DONTWAIT|MSG_NOSIGNAL) through
 * before describing it (zcread_read_buf).  A run stands in for the rest of
 * policy_decide: it starts only where policy_decide said POLICY_MAP (so the
 * kernel can map), and an option that would say otherwise ends it
 * (fdtable.c). */
static inline int policy_in_run(const struct fdtable_entry *e)
{
	return FDTABLE_GET(e->hints.pass_left) != 0;
}

/* POLICY_MAP, or the segfmt_reason for passing the read to the real call.
 * total: bytes the caller asked for; cmsg_read: a recvmsg.  Inline in
 * the read path (zcread.c decides once per read, before it describes
 * the request): callgrind, 64 KiB reads backing off, 158 -> 125 shim
 * instructions a read.  (Inlined into every hook as well, it grew each
 * hook by 900 bytes and made 4 KiB pass-through reads dearer.) */
#define POLICY_OK_FLAGS (MSG_DONTWAIT | MSG_WAITALL | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC)
static inline __attribute__((always_inline)) int policy_decide(struct fdtable_entry *e, int flags, size_t total,
							    int cmsg_read)
{
	struct fdtable_hints *h = &e->hints;
	if (flags & ~POLICY_OK_FLAGS)
		return SEGFMT_R_FLAGS;	/* MSG_PEEK, MSG_OOB, MSG_TRUNC...: the kernel's own */
	if (policy_small(total))
		return SEGFMT_R_SMALL;
	/* Options the mapped path cannot honour: the peek offset moves with
	 * reads, repair mode refuses them, inline urgent data stops them at
	 * the mark, and recvmsg owes TCP_INQ/timestamp control messages. */
	uint32_t opts = FDTABLE_GET(e->opts.flags);
	if ((opts & FDTABLE_OPT_NOMAP) || (cmsg_read && (opts & FDTABLE_OPT_CMSG)))
		return SEGFMT_R_SOCKOPT;
	if (!zcwin_kernel_ok())
		return SEGFMT_R_NOKERNEL;
	int why = policy_take_pass(h);
	if (why != POLICY_MAP)
		return why;
	/* Request/response traffic: a mapping call would find under a page
	 * and cost a second system call.  Go straight to the real one until
	 * a read brings two pages or more. */
	if (FDTABLE_GET(h->little) >= 2 && !(flags & MSG_WAITALL))
		return SEGFMT_R_LITTLE;
	return POLICY_MAP;
}
void policy_learn(struct fdtable_entry *e, const struct policy_outcome *o);

/* The reasons policy_learn reads as news of the traffic (a pass-through read
 * whose size says whether little data is coming): SMALL, BACKOFF, LITTLE
 * and AUTO.  zcread_pass_read serves only these. */
static inline int policy_traffic_reason(int reason)
{
	return reason == SEGFMT_R_SMALL || reason == SEGFMT_R_BACKOFF || reason == SEGFMT_R_LITTLE || reason == SEGFMT_R_AUTO;
}

/* policy_learn for a pass-through read for one of those reasons, with a test
 * in front for its usual case, where nothing would change: the
 * little-data streak already saturated (or already broken) and no head
 * offset to forget.  The rule itself stays in policy_learn. */
static inline void policy_learn_pass(struct fdtable_entry *e, ssize_t r, int reason)
{
	uint8_t l = FDTABLE_GET(e->hints.little);
	int small = r >= 0 && r < POLICY_LITTLE;
	if ((small ? l == 2 : l == 0) && !FDTABLE_GET(e->hints.head_off))
		return;
	struct policy_outcome o = { .reason = reason, .result = r, .inq = UINT32_MAX };
	policy_learn(e, &o);
}

/* fd's peer is known (connect, accept): remember it in the hints, and
 * start from what was learned of that peer's traffic (peer.h). */
void policy_met_peer(struct fdtable_hints *h, uint32_t key);

#endif
