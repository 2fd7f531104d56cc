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
struct zst_delta {
	uint64_t mapped;
	uint64_t copied;
	uint32_t zc_calls;
	int reason;             /* why copied bytes were not mapped; -1 none */
	int probed;             /* the read took the mapped path */
	int api;                /* a zcshim_recv() call */
	uint32_t skip_runs;     /* unmappable runs taken (see zcs_counters) */
};

/* Creates (or, in a fork child, re-creates) the segment.  0 or -errno;
 * on failure the anonymous fallback is in place. */
int zst_init(const struct zcfg *cfg);
/* Claims a slot for fd; returns slot index + 1 (0: overflow). */
uint32_t zst_claim(int fd);
/* Marks a slot closed; its counts stay visible. */
void zst_release(uint32_t idx);
/* Adds one receive call's figures to slot (index + 1, 0 = overflow). */
void zst_account(uint32_t slot1, const struct zst_delta *d);
void zst_set_kernel(int supported);
/* ZCSHIM_MODE=auto's state, for zcstat. */
void zst_set_auto(int mode, int verdict, uint64_t map_ns_per_mb, uint64_t copy_ns_per_mb, int prior);
/* The per-user stats directory in use (NULL: no file segment, e.g. secure
 * mode): auto.c keeps the host's estimates there. */
const char *zst_dir(void);
/* The call-site table (NULL, *n = 0 when call sites are off). */
struct zcs_callsite *zst_callsites(uint32_t *n);
void zst_callsite_dropped(void);
/* Fork child: a segment of its own, parent's left untouched. */
void zst_after_fork_child(void);
/* Normal exit: mark exited; unlink the file unless zcstat is collecting it. */
void zst_exit(void);

#endif
