/*
 * stats.h - the shim's side of the statistics segment (layout: segfmt.h).
 *
 * The segment is created at init in the per-user stats directory, named
 * PID-N.zcs, and mapped shared.  When no file can be created (no /dev/shm,
 * read-only, full, secure-execution mode) an anonymous mapping takes its
 * place: counting still works, nothing is visible outside, and the reason is
 * logged once.  Updates are relaxed atomic adds; no locks anywhere.
 */
#ifndef ZCSHIM_STATS_H
#define ZCSHIM_STATS_H

#include "segfmt.h"
#include "statdir.h"

#include <stddef.h>
#include <stdint.h>

struct zcfg;

/* What one receive call did, for accounting. */
struct stats_delta {
	uint64_t mapped;
	uint64_t copied;
	uint32_t zc_calls;
	int reason;             /* why copied bytes were not mapped; -1 none */
	int probed;             /* the read took the mapped path */
	int api;                /* a zcshim_recv() call */
	uint32_t skip_runs;     /* unmappable runs taken (see segfmt_counters) */
};

/* Creates (or, in a fork child, re-creates) the segment.  0 or -errno;
 * on failure the anonymous fallback is in place. */
int stats_init(const struct zcfg *cfg);
/* Claims a slot for fd; returns slot index + 1 (0: overflow). */
uint32_t stats_claim(int fd);
/* Marks a slot closed; its counts stay visible. */
void stats_release(uint32_t idx);
/* The counters of a slot (index + 1, 0 = overflow). */
struct segfmt_counters *stats_counters(uint32_t slot1);

/* glibc >= 2.32 keeps this true until the process first creates a thread
 * (and again in a fork child).  Weak: absent on older glibc. */
extern char __libc_single_threaded __attribute__((weak));

/* Counter adds.  Readers (zcstat) only load whole aligned words, so the
 * only hazard is two writers: another thread, or a signal handler of the
 * same thread.  In a single-threaded process an x86-64 add to memory is
 * one instruction, which no signal can split: the lock prefix, which
 * costs more than the rest of a pass-through read's accounting, is only
 * needed once there are threads. */
static inline int stats_single_threaded(void)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	return &__libc_single_threaded && __atomic_load_n(&__libc_single_threaded, __ATOMIC_RELAXED);
#else
	return 0;
#endif
}

static inline void stats_add_u64(uint64_t *p, uint64_t v, int single)
{
#if defined(__x86_64__)
	if (single) {
		__asm__ __volatile__("addq %1, %0" : "+m"(*p) : "er"(v));
		return;
	}
#else
	(void)single;
#endif
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

/* Adds one receive call's figures to c, single: stats_single_threaded(),
 * as the caller read it.  Inline, so that where the delta is built the
 * fields a path never sets cost nothing (a pass-through read sets two of
 * eight). */
static inline __attribute__((always_inline)) void stats_add_as(struct segfmt_counters *c, const struct stats_delta *d,
							     int single)
{
	stats_add_u64(&c->reads, 1, single);
	if (d->mapped)
		stats_add_u64(&c->bytes_mapped, d->mapped, single);
	if (d->copied)
		stats_add_u64(&c->bytes_copied, d->copied, single);
	if (d->zc_calls)
		stats_add_u64(&c->zc_calls, d->zc_calls, single);
	if (d->probed)
		stats_add_u64(&c->bytes_probed, d->mapped + d->copied, single);
	if (d->api)
		stats_add_u64(&c->api_calls, 1, single);
	if (d->skip_runs)
		stats_add_u64(&c->skip_runs, d->skip_runs, single);
	if (d->reason >= 0 && d->reason < SEGFMT_R_COUNT) {
		stats_add_u64(&c->fb_reads[d->reason], 1, single);
		stats_add_u64(&c->fb_bytes[d->reason], d->copied, single);
	}
}

static inline __attribute__((always_inline)) void stats_add(struct segfmt_counters *c, const struct stats_delta *d)
{
	stats_add_as(c, d, stats_single_threaded());
}

void stats_set_kernel(int supported);
/* ZCSHIM_MODE=auto's state, for zcstat. */
void stats_set_auto(int mode, int verdict, uint64_t map_ns_per_mb, uint64_t copy_ns_per_mb, int prior);
/* The per-user stats directory in use (NULL: no file segment, e.g. secure
 * mode): auto.c keeps the host's estimates there. */
const char *stats_dir_path(void);
/* The call-site table (NULL, *n = 0 when call sites are off). */
struct segfmt_callsite *stats_callsites(uint32_t *n);
void stats_callsite_dropped(void);
/* Fork child: a segment of its own, parent's left untouched. */
void stats_after_fork_child(void);
/* Normal exit: mark exited; unlink the file unless zcstat is collecting it. */
/* The process installed a seccomp filter (1) or strict mode (2), or took
 * back a failed attempt (0): zcstat says the shim stepped aside. */
void stats_set_sandboxed(uint32_t how);

void stats_exit(int may_syscall);

#endif
