/*
 * auto.c - see auto.h.
 *
 * Every figure is a hint shared by all threads without a lock (a hook may
 * run in a signal handler): relaxed atomics, and a lost update costs one
 * sample.  Each kind keeps its last RING samples (CPU ns and bytes of one
 * read of 32 KiB or more, without a page fault); the estimate is the
 * median of their rates.  The first read and the first mapped read (it
 * makes a window) are never timed.
 */
#define _GNU_SOURCE
#include "auto.h"
#include "hot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "autohost.h"
#include "zfmt.h"

#define RING 8
#define FEW 3           /* samples of each kind before a clear verdict */
#define ENOUGH 5        /* samples of each kind before a close verdict */
#define CLEAR_PCT 150   /* one path this much dearer than the other: clear */
#define MARGIN_PCT 2    /* switch only when the other path wins by this */
#define BUDGET_PPM 2500 /* samples of the dearer path: <= 0.25% more CPU */
#define EVERY_MIN 16
#define EVERY_MAX 4096
#define FRESH_EVERY 1024 /* the chosen path is timed this often */
#define RUN_MAX 64      /* copies an fd makes without asking (copy_run) */
#define SAMPLE_MIN (32u << 10) /* shorter reads are all fixed cost: not timed */
#define SHORT_STREAK 8  /* learning samples in a row too short to count */
#define SHORT_EVERY 64  /* after them, one read in this many is timed */

struct ring {
	uint64_t ns[RING], bytes[RING];
	uint32_t n;             /* samples ever taken */
};

HOT int auto_mode_now = AUTO_MAP;
static uint64_t fixed_map, fixed_copy;	/* injected costs, ns/MiB */
static struct ring rmap, rcopy;
static int verdict;
static uint32_t map_warm;	/* the first mapped sample also made a window: dropped */
static uint32_t measured_map, measured_copy;	/* real samples (not injected, not the prior) */
static int prior;
static uint32_t every = EVERY_MIN;
static uint64_t reads;
static uint32_t phase;	/* where in each interval this process samples */
static uint64_t released_ns, released_bytes;	/* window releases (auto_released) */
static uint64_t prior_release;			/* ns per MiB, from the host's estimates */
/* What a process's first mapped read costs beyond a sampled one (it makes
 * the window; the first read that maps also scans the signal handlers):
 * CPU ns, measured on that read here, else the host's estimate. */
static uint64_t setup_ns;
static uint64_t copy_read_bytes;	/* bytes of the last timed copy */
static uint32_t measured_setup;
/* Timed reads in a row that brought less than SAMPLE_MIN (0 after one
 * that counted).  While learning, every read is timed (two system calls
 * each side); a process whose reads stay short (short connections, small
 * messages) would pay that on every read and never learn: after
 * SHORT_STREAK of them only one read in SHORT_EVERY is timed, the others
 * copy untimed (a bulk stream that comes later makes thousands of reads:
 * it is timed within a few hundred).  Measured: zcbench's conns rows
 * without a prior, 16 KiB connections, auto/plain 1.10-1.12. */
static uint32_t short_samples;

void auto_configure(int m, uint64_t map_ns_per_mb, uint64_t copy_ns_per_mb)
{
	auto_mode_now = m;
	fixed_map = map_ns_per_mb;
	fixed_copy = copy_ns_per_mb;
	/* Short processes started from the host's estimates may read fewer
	 * times than one interval: each samples at its own point of it, so
	 * that across them the path not chosen is still timed one read in N,
	 * and the estimates they save stay current. */
	phase = (uint32_t)syscall(SYS_getpid) * 2654435761u;
}

/* CPU ns per MiB: the median of the ring's per-read rates (0: none), so
 * one read that also paid for the socket's backlog, or ran while the
 * sender had the CPU's cache, does not decide; injected costs stand in for
 * measured ones once a sample was taken. */
static uint64_t ring_rate(const struct ring *r)
{
	uint32_t n = __atomic_load_n(&r->n, __ATOMIC_RELAXED);
	if (n && (fixed_map || fixed_copy))
		return r == &rmap ? fixed_map : fixed_copy;
	uint64_t v[RING];
	if (n > RING)
		n = RING;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t b = __atomic_load_n(&r->bytes[i], __ATOMIC_RELAXED);
		v[i] = b ? (uint64_t)((unsigned __int128)__atomic_load_n(&r->ns[i], __ATOMIC_RELAXED) * (1u << 20) / b) : 0;
	}
	for (uint32_t i = 1; i < n; i++)	/* insertion sort: at most RING values */
		for (uint32_t j = i; j && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return !n ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void auto_released(uint64_t ns, uint64_t bytes)
{
	__atomic_add_fetch(&released_ns, ns, __ATOMIC_RELAXED);
	__atomic_add_fetch(&released_bytes, bytes, __ATOMIC_RELAXED);
}

/* Releasing mapped pages, ns per MiB mapped: measured, else the prior's. */
static uint64_t release_rate(void)
{
	uint64_t b = __atomic_load_n(&released_bytes, __ATOMIC_RELAXED);
	if (!b)
		return prior_release;
	return (uint64_t)((unsigned __int128)__atomic_load_n(&released_ns, __ATOMIC_RELAXED) * (1u << 20) / b);
}

/* Mapping's full cost per MiB: the sampled reads plus their release. */
static uint64_t map_rate(void)
{
	uint64_t r = ring_rate(&rmap);
	return r && !fixed_map ? r + release_rate() : r;
}

int auto_verdict_of(const struct auto_est *e)
{
	if (e->map_samples < FEW || e->copy_samples < FEW || !e->map_bytes || !e->copy_bytes)
		return e->verdict;
	/* Compare ns per byte without dividing: map_ns/map_bytes vs copy_ns/copy_bytes. */
	unsigned __int128 m = (unsigned __int128)e->map_ns * e->copy_bytes;
	unsigned __int128 c = (unsigned __int128)e->copy_ns * e->map_bytes;
	if (m * 100 >= c * CLEAR_PCT)
		return 2;
	if (c * 100 >= m * CLEAR_PCT)
		return 1;
	if (e->map_samples < ENOUGH || e->copy_samples < ENOUGH)
		return e->verdict;
	if (e->verdict == 1)
		return m * 100 > c * (100 + MARGIN_PCT) ? 2 : 1;
	return m * 100 < c * (100 - MARGIN_PCT) ? 1 : 2;
}

uint32_t auto_sample_every(const struct auto_est *e)
{
	if (!e->map_bytes || !e->copy_bytes || !e->map_ns || !e->copy_ns)
		return EVERY_MIN;
	/* ppm by which the path not chosen is dearer than the chosen one; a
	 * sample every N reads costs that / N. */
	unsigned __int128 m = (unsigned __int128)e->map_ns * e->copy_bytes;
	unsigned __int128 c = (unsigned __int128)e->copy_ns * e->map_bytes;
	unsigned __int128 dear = e->verdict == 1 ? c : m, cheap = e->verdict == 1 ? m : c;
	if (dear <= cheap)
		return EVERY_MIN;
	unsigned __int128 ppm = (dear - cheap) * 1000000 / cheap;
	unsigned __int128 n = ppm / BUDGET_PPM;
	return n < EVERY_MIN ? EVERY_MIN : n > EVERY_MAX ? EVERY_MAX : (uint32_t)n;
}

static void estimate(struct auto_est *e)
{
	e->map_samples = __atomic_load_n(&rmap.n, __ATOMIC_RELAXED);
	e->copy_samples = __atomic_load_n(&rcopy.n, __ATOMIC_RELAXED);
	e->map_ns = map_rate();
	e->copy_ns = ring_rate(&rcopy);
	e->map_bytes = e->copy_bytes = 1u << 20;	/* the rates are per MiB */
	e->verdict = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
}

/* A process that starts from the host's estimates with copying the
 * cheaper way pays for its first mapped sample once it has read enough
 * that the set-up, too, fits the sampling budget: a short process
 * (measured: 256 MiB at 64 KiB reads here, set-up about 0.4% of it) then
 * never maps, and the estimates are kept current by longer ones. */
static int first_map_due(uint64_t k)
{
	uint64_t setup = __atomic_load_n(&setup_ns, __ATOMIC_RELAXED);
	if (__atomic_load_n(&map_warm, __ATOMIC_RELAXED) || !prior || !setup)
		return 1;
	/* k reads of copy_read_bytes at the copy rate, times the budget */
	unsigned __int128 spent = (unsigned __int128)k * __atomic_load_n(&copy_read_bytes, __ATOMIC_RELAXED) *
				  ring_rate(&rcopy) * BUDGET_PPM;
	return spent >= ((unsigned __int128)setup * 1000000u) << 20;
}

/* Read k copies, untimed: how many reads after it may copy untimed too
 * without asking, claimed now.  The run ends before the next read that
 * samples either way, so the claims skip no sample, only the asking; it
 * is capped, so an fd copies at most RUN_MAX reads after the verdict
 * changes.  The reads an fd claimed and never made are given back when it
 * closes or is reused (auto_unclaim): a run ends at the next sample, so a short
 * connection that kept them left the count at a sample for the next
 * connection's first read, and short connections sampled far more often
 * than the budget allows.
 * 0 when another thread counted a read meanwhile. */
static uint32_t copy_run(uint64_t k, uint32_t n)
{
	uint64_t to_sample = n - (k + phase) % n;
	uint64_t r = k % FRESH_EVERY, to_fresh = r < 1 ? 1 - r : FRESH_EVERY + 1 - r;
	uint64_t run = (to_sample < to_fresh ? to_sample : to_fresh) - 1;
	run = run > RUN_MAX ? RUN_MAX : run;
	uint64_t next = k + 1;
	if (!run || !__atomic_compare_exchange_n(&reads, &next, k + 1 + run, 0, __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
		return 0;
	return (uint32_t)run;
}

void auto_unclaim(uint32_t n)
{
	/* The count only schedules samples: a give-back that races with
	 * another fd's claim moves one sample, never loses a read. */
	__atomic_fetch_sub(&reads, n, __ATOMIC_RELAXED);
}

int auto_choose(uint32_t *run)
{
	uint64_t k = __atomic_fetch_add(&reads, 1, __ATOMIC_RELAXED);
	int v = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
	*run = 0;
	if (k == 0)
		return AUTO_GO_COPY;	/* warm-up: fresh buffers fault on first touch */
	if (!v && __atomic_load_n(&short_samples, __ATOMIC_RELAXED) >= SHORT_STREAK) {
		if (k % SHORT_EVERY)
			return AUTO_GO_COPY;
		return (k / SHORT_EVERY) % 2 ? AUTO_SAMPLE_COPY : AUTO_SAMPLE_MAP;
	}
	if (!v)	/* learning: the cheap guess (copy) first, then alternate */
		return k % 2 ? AUTO_SAMPLE_COPY : AUTO_SAMPLE_MAP;
	uint32_t n = __atomic_load_n(&every, __ATOMIC_RELAXED);
	if ((k + phase) % n == 0 && (v == 1 || first_map_due(k)))
		return v == 1 ? AUTO_SAMPLE_COPY : AUTO_SAMPLE_MAP;
	if (k % FRESH_EVERY == 1)
		return v == 1 ? AUTO_SAMPLE_MAP : AUTO_SAMPLE_COPY;
	if (v == 1)
		return AUTO_GO_MAP;
	*run = copy_run(k, n);
	return AUTO_GO_COPY;
}

void auto_mark(struct auto_mark *m)
{
	/* CPU from the thread clock (precise: it brings the running thread's
	 * time up to date; getrusage's can lag by a tick), faults from
	 * getrusage. */
	struct rusage ru;
	struct timespec t;
	int saved = errno;
	getrusage(RUSAGE_THREAD, &ru);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	errno = saved;
	m->cpu_ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
	m->faults = (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
	m->released_ns = __atomic_load_n(&released_ns, __ATOMIC_RELAXED);
}

/* The first mapped read took ns for bytes: what it cost beyond the
 * mapped rate known so far is the set-up (none known: learn it later). */
static void note_setup(uint64_t ns, uint64_t bytes)
{
	uint64_t rate = map_rate();
	if (!rate)
		return;
	uint64_t usual = (uint64_t)((unsigned __int128)rate * bytes >> 20);
	__atomic_store_n(&setup_ns, ns > usual ? ns - usual : 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&measured_setup, 1, __ATOMIC_RELAXED);
}

void auto_sampled(int choice, const struct auto_mark *before, uint64_t bytes)
{
	int map = choice == AUTO_SAMPLE_MAP;
	uint64_t fixed = map ? fixed_map : fixed_copy, ns;
	/* A read that brought little is mostly its call and wake-up, whatever
	 * the path: it says nothing about the cost per byte. */
	if (bytes < SAMPLE_MIN) {
		if (__atomic_load_n(&short_samples, __ATOMIC_RELAXED) < SHORT_STREAK)
			__atomic_add_fetch(&short_samples, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&short_samples, 0, __ATOMIC_RELAXED);
	int first = map && !__atomic_exchange_n(&map_warm, 1, __ATOMIC_RELAXED);
	if (fixed_map || fixed_copy) {	/* injected: ns per MiB */
		if (first)
			return;
		ns = (uint64_t)((unsigned __int128)fixed * bytes >> 20);
	} else {
		struct auto_mark now;
		auto_mark(&now);
		/* A release inside the sample is counted apart (auto_released). */
		uint64_t rel = now.released_ns - before->released_ns;
		ns = now.cpu_ns - before->cpu_ns;
		ns = ns > rel ? ns - rel : 0;
		if (first) {	/* its faults (the mapped path's code, first run) are set-up too */
			note_setup(ns, bytes);
			return;
		}
		if (now.faults != before->faults)
			return;
		__atomic_add_fetch(map ? &measured_map : &measured_copy, 1, __ATOMIC_RELAXED);
		if (!map)
			__atomic_store_n(&copy_read_bytes, bytes, __ATOMIC_RELAXED);
	}
	struct ring *r = map ? &rmap : &rcopy;
	uint32_t i = __atomic_fetch_add(&r->n, 1, __ATOMIC_RELAXED) % RING;
	__atomic_store_n(&r->ns[i], ns, __ATOMIC_RELAXED);
	__atomic_store_n(&r->bytes[i], bytes, __ATOMIC_RELAXED);
	struct auto_est e;
	estimate(&e);
	e.verdict = auto_verdict_of(&e);
	__atomic_store_n(&verdict, e.verdict, __ATOMIC_RELAXED);
	__atomic_store_n(&every, auto_sample_every(&e), __ATOMIC_RELAXED);
}

void auto_view(struct auto_view *v)
{
	v->mode = auto_mode_now;
	v->verdict = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
	v->map_ns_per_mb = map_rate();
	v->copy_ns_per_mb = ring_rate(&rcopy);
	v->prior = prior;
}

/* ---- the host's estimates between processes -------------------------- */


static int boot_id(char *out, size_t cap)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = syscall(SYS_read, fd, out, cap - 1);
	syscall(SYS_close, fd);
	if (n < 32)
		return -1;
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
	return 0;
}

static void seed(struct ring *r, uint64_t ns_per_mb)
{
	for (uint32_t i = 0; i < FEW; i++) {
		r->ns[i] = ns_per_mb;
		r->bytes[i] = 1u << 20;
	}
	r->n = FEW;
}

void auto_load(const char *dir)
{
	char path[512], buf[256], id[64];
	struct autohost h;
	if (auto_mode_now != AUTO_AUTO || !dir || fixed_map || fixed_copy || boot_id(id, sizeof(id)))
		return;
	zfmtf(path, sizeof(path), "%s" AUTOHOST_FILE, dir);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if (autohost_parse(buf, id, &h))
		return;
	prior_release = h.release;
	setup_ns = h.setup;
	seed(&rmap, h.map);
	seed(&rcopy, h.copy);
	prior = 1;
	struct auto_est e;
	estimate(&e);
	verdict = auto_verdict_of(&e);
	e.verdict = verdict;
	every = auto_sample_every(&e);
}

void auto_save(const char *dir)
{
	char path[512], tmp[512], id[64], line[256];
	/* From scratch: three samples of each before saying anything.  From
	 * the host's estimates: any sample of its own updates them (seeded
	 * rings: one new sample moves the median a step). */
	uint32_t mm = measured_map, mc = measured_copy;
	int enough = prior ? mm + mc + measured_setup > 0 : mm >= FEW && mc >= FEW;
	if (auto_mode_now != AUTO_AUTO || !dir || fixed_map || fixed_copy || !enough || boot_id(id, sizeof(id)))
		return;
	int len = (int)zfmtf(line, sizeof(line), AUTOHOST_FMT, id,
			(unsigned long long)ring_rate(&rmap), (unsigned long long)ring_rate(&rcopy),
			(unsigned long long)release_rate(), (unsigned long long)setup_ns);
	zfmtf(path, sizeof(path), "%s" AUTOHOST_FILE, dir);
	zfmtf(tmp, sizeof(tmp), "%s" AUTOHOST_FILE ".%d", dir, (int)syscall(SYS_getpid));
	int fd = (int)syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	int ok = len > 0 && syscall(SYS_write, fd, line, (size_t)len) == len;
	syscall(SYS_close, fd);
	if (!ok || syscall(SYS_rename, tmp, path))
		syscall(SYS_unlink, tmp);
}
