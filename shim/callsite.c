/*
 * callsite.c - see callsite.h.
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "callsite.h"
#include "hot.h"
#include "log.h"
#include "segfmt.h"
#include "stats.h"

#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <link.h>
#include <string.h>

#define S2(x) #x
#define S(x) S2(x)

static HOT int on;
static uintptr_t self_lo, self_hi;	/* the shim's own code: frames to skip */
static int (*u_getcontext)(unw_context_t *);
static int (*u_init_local)(unw_cursor_t *, unw_context_t *);
static int (*u_step)(unw_cursor_t *);
static int (*u_get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
static int (*u_get_proc_name)(unw_cursor_t *, char *, size_t, unw_word_t *);
static int (*u_backtrace)(void **, int);

int callsite_enabled(void)
{
	return on;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (info->dlpi_addr != (uintptr_t)arg)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (!self_lo || lo < self_lo)
			self_lo = lo;
		if (hi > self_hi)
			self_hi = hi;
	}
	return 1;
}

int callsite_init(void)
{
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		h = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		zlog(ZLOG_WARN, "ZCSHIM_CALLSITES=1 but libunwind cannot be loaded: call sites not recorded");
		return -ENOENT;
	}
	*(void **)&u_getcontext = dlsym(h, S(unw_tdep_getcontext));
	*(void **)&u_init_local = dlsym(h, S(unw_init_local));
	*(void **)&u_step = dlsym(h, S(unw_step));
	*(void **)&u_get_reg = dlsym(h, S(unw_get_reg));
	*(void **)&u_get_proc_name = dlsym(h, S(unw_get_proc_name));
	*(void **)&u_backtrace = dlsym(h, "unw_backtrace");
	/* Cache unwind info per thread: repeated sites unwind without
	 * re-parsing DWARF tables or locking. */
	int (*set_policy)(unw_addr_space_t, unw_caching_policy_t);
	*(void **)&set_policy = dlsym(h, S(unw_set_caching_policy));
	unw_addr_space_t *local = dlsym(h, S(unw_local_addr_space));
	if (set_policy && local)
		set_policy(*local, UNW_CACHE_PER_THREAD);
	if (!u_getcontext || !u_init_local || !u_step || !u_get_reg || !u_get_proc_name) {
		zlog(ZLOG_WARN, "libunwind lacks the functions call sites need: not recorded");
		return -ENOSYS;
	}
	Dl_info di;
	if (dladdr((void *)callsite_init, &di))
		dl_iterate_phdr(find_self, di.dli_fbase);
	on = 1;
	return 0;
}

static void name_site(struct segfmt_callsite *c, unw_cursor_t *cur, uintptr_t ip)
{
	Dl_info di;
	unw_word_t off = 0;
	if (dladdr((void *)(ip - 1), &di) && di.dli_fname) {
		const char *base = strrchr(di.dli_fname, '/');
		zfmtf(c->module, sizeof(c->module), "%s", base ? base + 1 : di.dli_fname);
		c->offset = ip - (uintptr_t)di.dli_fbase;
	}
	if (u_get_proc_name(cur, c->function, sizeof(c->function), &off) == 0) {
		/* GCC's clones (f.constprop.0, f.isra.0, f.part.0) are still f. */
		char *dot = strchr(c->function, '.');
		if (dot && dot != c->function)
			*dot = 0;
		c->fn_offset = off;
	} else
		zfmtf(c->function, sizeof(c->function), "?");
}

/* The first frame outside the shim: the program's call.  With a cursor
 * (naming needs one) or, faster, with unw_backtrace's cached frame walk. */
static uintptr_t caller(unw_cursor_t *cur, int want_cursor)
{
	if (!want_cursor && u_backtrace) {
		void *ips[16];
		int n = u_backtrace(ips, 16);
		for (int i = 0; i < n; i++)
			if ((uintptr_t)ips[i] < self_lo || (uintptr_t)ips[i] >= self_hi)
				return (uintptr_t)ips[i];
		return 0;
	}
	unw_context_t uc;
	unw_word_t ip = 0;
	if (u_getcontext(&uc) || u_init_local(cur, &uc))
		return 0;
	for (int depth = 0; depth < 16; depth++) {
		if (u_step(cur) <= 0 || u_get_reg(cur, UNW_REG_IP, &ip))
			return 0;
		if (ip < self_lo || ip >= self_hi)
			return ip;
	}
	return 0;
}

void callsite_record(int reason, uint64_t bytes)
{
	uint32_t n;
	struct segfmt_callsite *tab = stats_callsites(&n);
	if (!on || !tab)
		return;
	unw_cursor_t cur;
	uintptr_t ip = caller(&cur, 0);
	if (!ip)
		return;
	uint32_t h = (uint32_t)((ip * 0x9E3779B97F4A7C15ull) >> 40);
	for (uint32_t probe = 0; probe < 32; probe++) {
		struct segfmt_callsite *c = &tab[(h + probe) % n];
		uint64_t cur_ip = __atomic_load_n(&c->ip, __ATOMIC_ACQUIRE);
		if (!cur_ip) {
			uint32_t z = 0;
			if (!__atomic_compare_exchange_n(&c->state, &z, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				continue;	/* another thread is claiming it */
			c->reason = (uint32_t)reason;
			/* New site: walk again with a cursor to name it (once). */
			if (caller(&cur, 1) == ip)
				name_site(c, &cur, ip);
			__atomic_store_n(&c->ip, ip, __ATOMIC_RELEASE);
			__atomic_store_n(&c->state, 2, __ATOMIC_RELEASE);
			cur_ip = ip;
		}
		if (cur_ip == ip) {
			__atomic_fetch_add(&c->reads, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&c->bytes, bytes, __ATOMIC_RELAXED);
			return;
		}
	}
	stats_callsite_dropped();
}
