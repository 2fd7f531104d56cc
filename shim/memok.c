/*
 * memok.c - see memok.h.
 */
#define _GNU_SOURCE
#include "memok.h"
#include "page.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

#define TLS __attribute__((tls_model("initial-exec"))) __thread
#define SLOTS 4

struct proved {
	uintptr_t lo, hi;
	uint32_t gen;
	uint32_t how;           /* MEMOK_WRITE covers MEMOK_READ */
};

static uint32_t gen = 1;
static int populate_ok = 1;	/* kernel has MADV_POPULATE_* */
static TLS struct proved cache[SLOTS];
static TLS unsigned next_slot;

/* Uninstrumented: called from maphooks.c, whatever the sanitizer. */
__attribute__((no_sanitize_thread, no_sanitize_address)) void memok_changed(void)
{
	__atomic_add_fetch(&gen, 1, __ATOMIC_RELEASE);
}

static int cached(uintptr_t lo, uintptr_t hi, int how, uint32_t now)
{
	for (unsigned i = 0; i < SLOTS; i++)
		if (cache[i].gen == now && lo >= cache[i].lo && hi <= cache[i].hi && (int)cache[i].how >= how)
			return 1;
	return 0;
}

/* Pre-5.14 kernels (EINVAL on a page that is certainly fine): the shim
 * cannot tell, and trusts the pointer as it always did there. */
static int populate_missing(void)
{
	/* Not on the stack: this may run on a handler's 8 KiB stack. */
	static uint8_t probe[PAGE] __attribute__((aligned(4096)));
	if (madvise(probe, PAGE, MADV_POPULATE_WRITE) && errno == EINVAL)
		__atomic_store_n(&populate_ok, 0, __ATOMIC_RELAXED);
	return !__atomic_load_n(&populate_ok, __ATOMIC_RELAXED);
}

int memok(const void *p, size_t n, int how)
{
	uintptr_t a = (uintptr_t)p;
	if (!n)
		return 1;
	if (a < PAGE || a + n < a)
		return 0;
	uintptr_t lo = a & ~(uintptr_t)(PAGE - 1), hi = (a + n + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	uint32_t now = __atomic_load_n(&gen, __ATOMIC_ACQUIRE);
	if (cached(lo, hi, how, now))
		return 1;
	if (!__atomic_load_n(&populate_ok, __ATOMIC_RELAXED))
		return 1;
	int saved = errno;
	int bad = madvise((void *)lo, hi - lo, how == MEMOK_WRITE ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	if (bad && errno == EINVAL)
		bad = !populate_missing();
	errno = saved;
	if (bad)
		return 0;
	struct proved *s = &cache[next_slot++ % SLOTS];
	s->lo = lo;
	s->hi = hi;
	s->gen = now;
	s->how = (uint32_t)how;
	return 1;
}
