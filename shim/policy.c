/*
 * policy.c - see policy.h.
 */
#define _GNU_SOURCE
#include "policy.h"
#include "hot.h"
#include "config.h"
#include "peer.h"
#include "page.h"
#include "segfmt.h"

#include <sys/socket.h>

#define MISS_LIMIT 4
#define BACKOFF_FIRST 16
#define BACKOFF_MAX 1024
#define PROBE_EVERY_MAX 256	/* no more than peer_learned.waited counts to */

HOT size_t policy_small_lim = CONFIG_DEFAULT_MIN_READ - 1;	/* until configured */

void policy_configure(size_t m)
{
	policy_small_lim = m ? m - 1 : 0;
}

static void learn_backoff(struct fdtable_hints *h, const struct policy_outcome *o)
{
	uint32_t peer = FDTABLE_GET(h->peer);
	if (o->mapped) {
		if (FDTABLE_GET(h->backoff) || FDTABLE_GET(h->miss_streak))
			peer_learn(peer, (struct peer_learned){ 0, 0, 0 });	/* this peer's data maps */
		FDTABLE_SET(h->miss_streak, 0);
		FDTABLE_SET(h->backoff, 0);
		return;
	}
	if (!o->unmappable)
		return;
	/* Each run of a page or more that would not map is a miss: a read
	 * that met four and mapped nothing has its answer (a short
	 * connection's one read of 16 KiB from a plain sender meets four). */
	uint16_t streak = (uint16_t)(FDTABLE_GET(h->miss_streak) + (unsigned)o->unmappable);
	FDTABLE_SET(h->miss_streak, streak);
	peer_learn(peer, (struct peer_learned){ (uint8_t)(streak < 255 ? streak : 255), 0, FDTABLE_GET(h->backoff) });
	/* MISS_LIMIT misses in a row before the first back-off (a stream may
	 * start with a few unmappable pages); after one, the first probe that
	 * finds nothing to map backs off again. */
	if (streak < MISS_LIMIT && !FDTABLE_GET(h->backoff))
		return;
	/* The sender's data does not map (plain send, no header split): stop
	 * paying for the probe, look again later, less often each time. */
	uint16_t b = FDTABLE_GET(h->backoff);
	b = b ? (uint16_t)(b * 2 > BACKOFF_MAX ? BACKOFF_MAX : b * 2) : BACKOFF_FIRST;
	FDTABLE_SET(h->miss_streak, 0);
	FDTABLE_SET(h->backoff, b);
	peer_learn(peer, (struct peer_learned){ 0, 0, b });
	policy_pass_next(h, b, SEGFMT_R_BACKOFF);
}

/* Connections from a peer in back-off between two probes: 4, 16, 64,
 * then 256 as each probe's miss doubles the back-off.  A probe long after
 * the last finds the mapped path cold, the kernel's and the shim's: on
 * this VM it cost 70-90% of a 16 KiB connection (18-22 us against 25 us)
 * where one a few connections after the last cost next to nothing.
 * Spaced 1, 2, 4 ... 64, probes took 1.2-1.6% of such a stream of
 * connections (bench/conns-ab.py against a build that never probes). */
static unsigned probe_every(uint16_t backoff)
{
	unsigned steps = 0;
	for (unsigned b = backoff; b > BACKOFF_FIRST && steps < 3; b >>= 1)
		steps++;
	return steps >= 3 ? PROBE_EVERY_MAX : 4u << (2 * steps);
}

void policy_met_peer(struct fdtable_hints *h, uint32_t key)
{
	FDTABLE_SET(h->peer, key);
	struct peer_learned l = peer_recall(key);
	/* A new connection from a peer whose data did not map starts where
	 * the last one left off: its misses count on, and a back-off holds,
	 * its reads passed through.  Short connections may end before a
	 * back-off runs out, so the peer is also probed afresh every so many
	 * connections: a peer whose data maps again is found. */
	FDTABLE_SET(h->miss_streak, l.misses);
	if (!l.backoff)
		return;
	if (l.waited + 1u >= probe_every(l.backoff)) {
		peer_learn(key, (struct peer_learned){ l.misses, 0, l.backoff });
		FDTABLE_SET(h->backoff, l.backoff);	/* a miss doubles it */
		return;	/* this connection probes at its first read */
	}
	peer_learn(key, (struct peer_learned){ l.misses, (uint8_t)(l.waited + 1), l.backoff });
	FDTABLE_SET(h->backoff, l.backoff);
	policy_pass_next(h, l.backoff, SEGFMT_R_BACKOFF);
}

static void learn_mapped(struct fdtable_hints *h, const struct policy_outcome *o)
{
	learn_backoff(h, o);
	FDTABLE_SET(h->queued, o->result > 0 ? o->inq : 0);
	FDTABLE_SET(h->head_off, (uint16_t)o->head_off);
	FDTABLE_SET(h->tail_len, (uint16_t)o->tail_len);
}

void policy_learn(struct fdtable_entry *e, const struct policy_outcome *o)
{
	struct fdtable_hints *h = &e->hints;
	int small = o->result >= 0 && o->result < POLICY_LITTLE;
	uint8_t l = FDTABLE_GET(h->little);
	if (o->reason == POLICY_MAP) {
		learn_mapped(h, o);
		/* Little data: under two pages and the queue (nearly) empty, as
		 * request/response traffic leaves it; a bulk stream's short read
		 * leaves plenty queued behind it. */
		small = small && o->inq < PAGE;
	} else {
		if (o->result > 0 && !o->peek && FDTABLE_GET(h->head_off))
			FDTABLE_SET(h->head_off, 0);	/* a real call moved the head */
		if (o->reason != SEGFMT_R_SMALL && o->reason != SEGFMT_R_BACKOFF && o->reason != SEGFMT_R_LITTLE &&
		    o->reason != SEGFMT_R_AUTO)
			return;	/* flags, options, kernel: say nothing about the traffic */
	}
	FDTABLE_SET(h->little, small ? (uint8_t)(l < 2 ? l + 1 : 2) : 0);
}
