/*
 * auto.c - see auto.h.
 *
 * Every figure is a hint shared by all threads without a lock (a hook may
 * run in a signal handler): relaxed atomics, and a lost update costs one
 * sample.  Each kind keeps its last RING samples (CPU ns and bytes of one
 * read); the estimate is their sum of ns over their sum of bytes, so a
 * short read's fixed costs weigh by its bytes, not as a whole read's, and
 * the first read (fresh buffers fault on first touch) is never timed.
 */
#define _GNU_SOURCE
#include "auto.h"

#include <errno.h>
#include <time.h>

#define RING 8
#define FEW 1           /* samples of each kind before a clear verdict */
#define ENOUGH 3        /* samples of each kind before any verdict */
#define CLEAR_PCT 150   /* one path this much dearer than the other: clear */
#define MARGIN_PCT 2    /* switch only when the other path wins by this */
#define BUDGET_PPM 5000 /* samples of the dearer path: <= 0.5% more CPU */
#define EVERY_MIN 16
#define EVERY_MAX 4096
#define FRESH_EVERY 64  /* the chosen path is timed this often */

struct ring {
	uint64_t ns[RING], bytes[RING];
	uint32_t n;             /* samples ever taken */
};

static int mode = ZCA_MAP;
static uint64_t fixed_map, fixed_copy;	/* injected costs, ns/MiB */
static struct ring rmap, rcopy;
static int verdict;
static uint32_t map_warm;	/* the first mapped sample also made a window: dropped */
static uint32_t every = EVERY_MIN;
static uint64_t reads;

void zca_configure(int m, uint64_t map_ns_per_mb, uint64_t copy_ns_per_mb)
{
	mode = m;
	fixed_map = map_ns_per_mb;
	fixed_copy = copy_ns_per_mb;
}

int zca_mode(void)
{
	return mode;
}

/* CPU ns per MiB over the ring's samples (0: none); injected costs stand
 * in for measured ones once a sample was taken. */
static uint64_t ring_rate(const struct ring *r)
{
	uint32_t n = __atomic_load_n(&r->n, __ATOMIC_RELAXED);
	if (n && (fixed_map || fixed_copy))
		return r == &rmap ? fixed_map : fixed_copy;
	unsigned __int128 ns = 0, bytes = 0;
	for (uint32_t i = 0; i < n && i < RING; i++) {
		ns += __atomic_load_n(&r->ns[i], __ATOMIC_RELAXED);
		bytes += __atomic_load_n(&r->bytes[i], __ATOMIC_RELAXED);
	}
	return bytes ? (uint64_t)(ns * (1u << 20) / bytes) : 0;
}

int zca_verdict(const struct zca_est *e)
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

uint32_t zca_sample_every(const struct zca_est *e)
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

static void estimate(struct zca_est *e)
{
	e->map_samples = __atomic_load_n(&rmap.n, __ATOMIC_RELAXED);
	e->copy_samples = __atomic_load_n(&rcopy.n, __ATOMIC_RELAXED);
	e->map_ns = ring_rate(&rmap);
	e->copy_ns = ring_rate(&rcopy);
	e->map_bytes = e->copy_bytes = 1u << 20;	/* the rates are per MiB */
	e->verdict = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
}

int zca_choose(void)
{
	uint64_t k = __atomic_fetch_add(&reads, 1, __ATOMIC_RELAXED);
	int v = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
	if (k == 0)
		return ZCA_GO_COPY;	/* warm-up: fresh buffers fault on first touch */
	if (!v)	/* learning: the cheap guess (copy) first, then alternate */
		return k % 2 ? ZCA_SAMPLE_COPY : ZCA_SAMPLE_MAP;
	uint32_t n = __atomic_load_n(&every, __ATOMIC_RELAXED);
	if (k % n == 0)
		return v == 1 ? ZCA_SAMPLE_COPY : ZCA_SAMPLE_MAP;
	if (k % FRESH_EVERY == 1)
		return v == 1 ? ZCA_SAMPLE_MAP : ZCA_SAMPLE_COPY;
	return v == 1 ? ZCA_GO_MAP : ZCA_GO_COPY;
}

uint64_t zca_clock(void)
{
	struct timespec t;
	int saved = errno;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	errno = saved;
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec + 1;	/* never 0 */
}

void zca_sampled(int choice, uint64_t token, uint64_t bytes)
{
	int map = choice == ZCA_SAMPLE_MAP;
	uint64_t fixed = map ? fixed_map : fixed_copy, ns;
	if (!bytes || (map && !__atomic_exchange_n(&map_warm, 1, __ATOMIC_RELAXED)))
		return;
	if (fixed_map || fixed_copy)	/* injected: ns per MiB */
		ns = (uint64_t)((unsigned __int128)fixed * bytes >> 20);
	else
		ns = zca_clock() - token;
	struct ring *r = map ? &rmap : &rcopy;
	uint32_t i = __atomic_fetch_add(&r->n, 1, __ATOMIC_RELAXED) % RING;
	__atomic_store_n(&r->ns[i], ns, __ATOMIC_RELAXED);
	__atomic_store_n(&r->bytes[i], bytes, __ATOMIC_RELAXED);
	struct zca_est e;
	estimate(&e);
	e.verdict = zca_verdict(&e);
	__atomic_store_n(&verdict, e.verdict, __ATOMIC_RELAXED);
	__atomic_store_n(&every, zca_sample_every(&e), __ATOMIC_RELAXED);
}

void zca_view(struct zca_view *v)
{
	v->mode = mode;
	v->verdict = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
	v->map_ns_per_mb = ring_rate(&rmap);
	v->copy_ns_per_mb = ring_rate(&rcopy);
}
