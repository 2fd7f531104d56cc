/*
 * auto.h - ZCSHIM_MODE=auto: map only where mapping measured cheaper.
 *
 * Whether mapping pages and copying out of them costs less CPU than the
 * kernel copying into the caller's buffer depends on the machine (on
 * bare metal mapping usually wins for large reads; in a VM with shadow
 * page tables every freshly mapped page costs a trap) and on the traffic.
 * In auto mode the shim times a sample of reads of each kind (thread CPU
 * time, system time included, per byte delivered, reads of 32 KiB or
 * more: below that a read is mostly its call and wake-up), keeps a decaying
 * estimate of both costs for the process, and sends each read that could
 * map down the cheaper path.  Reads of the other kind still run now and
 * then, fewer the more they cost, so a change in the traffic or the host
 * is noticed at a bounded price (at most ~0.25% of the CPU of the chosen
 * path).  ZCSHIM_MODE=map (the default) maps whenever it can.
 *
 * The estimates are process-wide (they are a property of the host, and
 * are kept for the next process: auto_load/auto_save); what
 * maps on each fd is still the fd's own business (policy.c).  Only reads
 * the policy would map are considered: small reads and options the mapped
 * path cannot honour pass through as in map mode.
 */
#ifndef ZCSHIM_AUTO_H
#define ZCSHIM_AUTO_H

#include <stdint.h>

enum auto_mode { AUTO_MAP = 0, AUTO_AUTO = 1 };

/* What one read that could map does in auto mode. */
enum auto_choice {
	AUTO_GO_MAP = 0,         /* map, untimed */
	AUTO_GO_COPY = 1,        /* pass through, untimed */
	AUTO_SAMPLE_MAP = 2,     /* map, timed */
	AUTO_SAMPLE_COPY = 3,    /* pass through, timed */
};

/* The estimates and the verdict (copied to the stats segment). */
struct auto_view {
	int mode;               /* enum auto_mode */
	int verdict;            /* 0 not yet, 1 map, 2 copy */
	uint64_t map_ns_per_mb, copy_ns_per_mb;   /* CPU per MiB; 0: no sample yet */
	int prior;              /* started from the host's saved estimates */
};

/* mode, and costs to use instead of measured ones (ns per MiB, both 0:
 * measure), from ZCSHIM_MODE and ZCSHIM_AUTO_COSTS. */
void auto_configure(int mode, uint64_t map_ns_per_mb, uint64_t copy_ns_per_mb);
/* The mode (inline: every read that could map asks). */
extern int auto_mode_now;
static inline int auto_mode(void)
{
	return auto_mode_now;
}
/* For a read the policy would map: which way, and whether to time it.
 * *run: with AUTO_GO_COPY, how many of the fd's next reads may copy
 * untimed without asking (they are counted now; the hooks pass them
 * through as a run, policy.h): asking measured about 2% of a 64 KiB
 * copy here.  0 otherwise. */
int auto_choose(uint32_t *run);
/* An fd closes (or is reused) with n reads of its run not made: the
 * count that schedules samples takes them back. */
void auto_unclaim(uint32_t n);
/* A timed read: auto_mark() before it, auto_sampled() with its bytes after.
 * The thread's CPU clock and its page faults (two system calls): a read
 * that faulted in the caller's fresh buffer is not timed (the fault would
 * be charged to whichever way happened to touch the page first). */
struct auto_mark {
	uint64_t cpu_ns;
	uint64_t faults;
	uint64_t released_ns;   /* auto_released's total then: taken off the sample */
};
void auto_mark(struct auto_mark *m);
void auto_sampled(int choice, const struct auto_mark *before, uint64_t bytes);
void auto_view(struct auto_view *v);

/* Mapped pages leave a window a whole trip at a time (zcwin.c): one read
 * in many (32 at 64 KiB reads into a 2 MiB window) pays to unmap and free
 * the pages of all of them, which the median of per-read samples never
 * sees.  In auto mode the window reports each such release here
 * (zcwin_on_release; ns: the thread CPU it took; bytes: what that trip had
 * mapped), and the map cost is the sampled one plus the releases' cost
 * per byte.  Measured before
 * this (zcbench queued zc4108 64K): samples said map ~= copy while mapping
 * cost 1.41x, and auto mapped 48% of the stream at 1.23x plain CPU. */
void auto_released(uint64_t ns, uint64_t bytes);

/* The host's estimates, kept between processes in dir/auto-host (this
 * boot only): a new process starts from them instead of learning, so
 * short-lived programs pay no learning samples.  Real samples replace
 * them as they come.  auto_save writes what this process measured (at
 * least two samples of each way). */
void auto_load(const char *dir);
void auto_save(const char *dir);

/* The decision itself, pure, for the unit tests: given the estimates,
 * the verdict (1 map, 2 copy, 0 not enough samples yet) and how many
 * reads pass between two samples of the path not chosen. */
struct auto_est {
	uint64_t map_ns, map_bytes, copy_ns, copy_bytes;
	uint32_t map_samples, copy_samples;
	int verdict;
};
int auto_verdict_of(const struct auto_est *e);
uint32_t auto_sample_every(const struct auto_est *e);

#endif
