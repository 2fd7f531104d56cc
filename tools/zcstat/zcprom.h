/*
 * zcprom.h - the shim's counters in the Prometheus text exposition format
 * (zcstat -l --prometheus, zcstat export --textfile DIR).
 *
 * Metric names are stable: zcshim_processes, zcshim_kernel_zerocopy,
 * zcshim_reads_total, zcshim_bytes_mapped_total, zcshim_bytes_copied_total
 * (by reason), zcshim_zc_calls_total, zcshim_api_calls_total.  Per-process
 * series carry pid and command; past PROM_MAX_PROCS processes (by bytes
 * received) the rest are summed under pid="other", so a host with many
 * short-lived processes keeps a bounded number of series.  Per-fd figures
 * stay in zcstat's own views.
 *
 * An exporter that runs on (zcprom_fold) remembers every process it has seen
 * and, when one exits, adds its last counts to pid="exited": host totals
 * then never go down when processes end.
 */
#ifndef ZCSHIM_ZCPROM_H
#define ZCSHIM_ZCPROM_H

#include "segfmt.h"

#include <stddef.h>
#include <stdio.h>

#define PROM_MAX_PROCS 50

struct zcprom_proc {
	int pid;
	unsigned long long start;       /* /proc start time: a pid's identity */
	char command[64];
	struct segfmt_counters c;
};

struct zcprom_state {
	struct zcprom_proc *seen;         /* processes seen at the last fold */
	size_t n, cap;
	struct segfmt_counters exited;     /* last counts of those that ended */
	int have_exited;
};

/* Records live (n processes) as seen now; those seen before and gone are
 * added to st->exited. */
void zcprom_fold(struct zcprom_state *st, const struct zcprom_proc *live, size_t n);
/* Writes the exposition: live processes (sorted by bytes, bounded), the
 * exited totals when st is given, and the kernel's answer (-1 unknown). */
void zcprom_write(FILE *f, struct zcprom_proc *live, size_t n, const struct zcprom_state *st, int kernel);

#endif
