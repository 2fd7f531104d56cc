/*
 * stats.c - see stats.h.  Runs at init, in fork children and at exit; the
 * hot path only calls stats_add (relaxed atomic adds).
 */
#define _GNU_SOURCE
#include "stats.h"
#include "hot.h"
#include "peer.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLOT_RECYCLING 3u

static struct segfmt_header boot;          /* counts land here until stats_init runs */
static HOT struct segfmt_header *seg = &boot;
static size_t seg_size;
static char seg_path[CONFIG_PATH_MAX + 64];
static char seg_dir[CONFIG_PATH_MAX];
static int seg_is_file;
static const struct zcfg *seg_cfg;

#define ADD(field, v) stats_add_u64(&(field), (v), stats_single_threaded())

static struct segfmt_slot *slot_at(uint32_t idx)
{
	if (idx >= seg->nslots)
		return NULL;
	return (struct segfmt_slot *)((char *)seg + seg->header_size) + idx;
}

/* Reads a small /proc file with raw syscalls (the read hook must not see it). */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t r = syscall(SYS_read, fd, buf + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	syscall(SYS_close, fd);
	buf[got] = 0;
	return (ssize_t)got;
}

static void fill_identity(struct segfmt_header *h)
{
	char buf[1024];
	h->pid = (int32_t)syscall(SYS_getpid);
	h->ppid = (int32_t)syscall(SYS_getppid);
	h->start_time = 0;
	ssize_t n = slurp("/proc/self/stat", buf, sizeof(buf));
	if (n > 0) {
		/* Field 22 (starttime) counts from the field after the last ')'. */
		char *p = strrchr(buf, ')');
		for (int field = 2; p && *p && field < 22; p++)
			if (*p == ' ')
				field++;
		uint64_t v = 0;
		while (p && *p >= '0' && *p <= '9')
			v = v * 10 + (uint64_t)(*p++ - '0');
		h->start_time = v;
	}
	n = slurp("/proc/self/cmdline", buf, sizeof(buf));
	size_t len = n > 0 ? (size_t)n : 0;
	while (len && buf[len - 1] == 0)
		len--;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
	if (len >= sizeof(h->command))
		len = sizeof(h->command) - 1;
	memcpy(h->command, buf, len);
	h->command[len] = 0;
}

static size_t layout_size(uint32_t nslots, uint32_t ncs)
{
	size_t sz = sizeof(struct segfmt_header) + (size_t)nslots * sizeof(struct segfmt_slot) +
		    (size_t)ncs * sizeof(struct segfmt_callsite);
	return (sz + 4095) & ~(size_t)4095;
}

static void init_header(struct segfmt_header *h, uint32_t nslots, uint32_t ncs, size_t size)
{
	h->ncallsites = ncs;
	h->callsite_offset = (uint32_t)(sizeof(struct segfmt_header) + (size_t)nslots * sizeof(struct segfmt_slot));
	h->version = SEGFMT_VERSION;
	h->header_size = sizeof(struct segfmt_header);
	h->slot_size = sizeof(struct segfmt_slot);
	h->nslots = nslots;
	h->total_size = size;
	fill_identity(h);
	if (seg_cfg) {
		memcpy(h->session, seg_cfg->session, sizeof(h->session) - 1);
		h->window_size = seg_cfg->window;
		h->min_read = seg_cfg->min_read;
		h->mode = (uint32_t)seg_cfg->mode;
	}
	/* Readers trust nothing until the magic is there: publish it last,
	 * with release order (one 8-byte store; the header is page-aligned). */
	typedef uint64_t __attribute__((may_alias)) u64a;
	uint64_t m;
	memcpy(&m, SEGFMT_MAGIC, 8);
	__atomic_store_n((u64a *)(void *)h->magic, m, __ATOMIC_RELEASE);
}

static int create_file(size_t size, void **out)
{
	char dir[CONFIG_PATH_MAX];
	unsigned uid = (unsigned)geteuid();
	int r;
	const char *xdg = seg_cfg && !seg_cfg->secure ? secure_getenv("XDG_RUNTIME_DIR") : NULL;
	if ((r = statdir_find(dir, sizeof(dir), seg_cfg ? seg_cfg->stats_dir : NULL, xdg)) < 0)
		return r;
	if ((r = statdir_check(dir, uid, 1)) < 0)
		return r;
	zfmtf(seg_dir, sizeof(seg_dir), "%s", dir);
	int pid = (int)syscall(SYS_getpid);
	for (int n = 0; n < 1000; n++) {
		zfmtf(seg_path, sizeof(seg_path), "%s/%d-%d" SEGFMT_SEG_SUFFIX, dir, pid, n);
		int fd = (int)syscall(SYS_openat, AT_FDCWD, seg_path,
				      O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)size)) {
			r = -errno;
			syscall(SYS_close, fd);
			unlink(seg_path);
			return r;
		}
		void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		r = p == MAP_FAILED ? -errno : 0;
		syscall(SYS_close, fd);	/* the mapping keeps the file; no fd left to the app */
		if (r) {
			unlink(seg_path);
			return r;
		}
		*out = p;
		return 0;
	}
	return -EEXIST;
}

int stats_init(const struct zcfg *cfg)
{
	uint32_t nslots = cfg->slots ? cfg->slots : SEGFMT_DEFAULT_SLOTS;
	uint32_t ncs = cfg->callsites ? SEGFMT_CALLSITES : 0;
	size_t size = layout_size(nslots, ncs);
	void *p = NULL;
	int r = -EPERM;

	seg_cfg = cfg;
	seg_is_file = 0;
	if (!cfg->secure)
		r = create_file(size, &p);
	if (r == 0) {
		seg_is_file = 1;
	} else {
		static int said;
		if (!cfg->secure && !said++)
			zlog(ZLOG_WARN, "no statistics segment (%s): counting in memory only, zcstat cannot see this process",
			     strerror(-r));
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			seg = &boot;	/* no slots: every fd counts in the overflow block */
			return r;
		}
	}
	init_header(p, nslots, ncs, size);
	((struct segfmt_header *)p)->kernel_zc = seg->kernel_zc;
	seg_size = size;
	__atomic_store_n(&seg, (struct segfmt_header *)p, __ATOMIC_RELEASE);
	return r;
}

/* The fd's peer, as connect or accept gave it (peer.h); asked of the
 * kernel only for a socket the shim did not see connected or accepted
 * without an address of its own (inherited; accept with the program's
 * buffer).  No inode: zcstat takes the fd's being a socket as enough. */
static void fill_peer(struct segfmt_slot *s, int fd)
{
	struct peer_addr a;
	s->fd = fd;
	s->inode = 0;
	if (!peer_get(fd, &a)) {
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);
		if (!getpeername(fd, (struct sockaddr *)&ss, &l))
			peer_note(fd, (struct sockaddr *)&ss, l, 0);
		if (!peer_get(fd, &a))
			a = (struct peer_addr){ 0 };
	}
	s->family = a.family;
	s->port = a.port;
	memcpy(s->addr, a.addr, sizeof(s->addr));
}

/* Moves c's figures into `into` and leaves c zero: only the words that
 * hold something are added and cleared (a connection sets a handful of
 * the 31), so the retired block's other lines are not touched. */
static void fold_clear(struct segfmt_counters *into, struct segfmt_counters *c)
{
	uint64_t *src = (uint64_t *)c, *dst = (uint64_t *)into;
	for (size_t i = 0; i < sizeof(*c) / 8; i++) {
		uint64_t v = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
		if (v) {
			ADD(dst[i], v);
			__atomic_store_n(&src[i], 0, __ATOMIC_RELAXED);
		}
	}
}

/* s's counters are zero: a slot never used (the segment's pages start
 * zeroed) or one fold_clear emptied. */
static uint32_t publish(struct segfmt_slot *s, int fd)
{
	fill_peer(s, fd);
	s->opened_ns = 0;	/* not kept: a clock read a connection (a system call
				 * here: this VM's vDSO clock falls back), and no reader uses it */
	s->closed_ns = 0;
	__atomic_store_n(&s->state, SEGFMT_SLOT_OPEN, __ATOMIC_RELEASE);
	return (uint32_t)(s - slot_at(0)) + 1;
}

/* A program making connection after connection would otherwise write
 * each into memory not touched yet (a page fault every eleven slots, six
 * cold lines each): measured 1-1.5% of a 16 KiB connection's CPU
 * (zcbench's conns rows, ZCSHIM_SLOTS=16 against 4096).  So a slot past
 * the first FRESH_FIRST is emptied into the retired block when its fd
 * closes, while the close's own read has left its lines in the cache, and
 * the next claim takes it (recent) with nothing left to clear.  The first
 * FRESH_FIRST slots keep their closed fds' lines for zcstat; totals stay
 * exact.
 * Eight, not 64: a program's first 64 connections each paid for fresh
 * memory, 1.2% of a 1 MiB connection's CPU over 100 connections
 * (bench/conns-ab.py, 151 runs: 0.9875, 95% 0.980-0.994).  A program of
 * a few connections still sees every one. */
#define FRESH_FIRST 8
static HOT_CONN uint32_t recent;	/* the slot released last, index + 1; 0 none */

/* Takes a slot in state `from` for the shim alone (SLOT_RECYCLING); 1 if
 * this caller got it. */
static int seize(struct segfmt_slot *s, uint32_t from)
{
	return __atomic_load_n(&s->state, __ATOMIC_RELAXED) == from &&
	       __atomic_compare_exchange_n(&s->state, &from, SLOT_RECYCLING, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* A seized slot's figures go to the retired block, the slot left empty. */
static void retire(struct segfmt_slot *s)
{
	ADD(seg->slots_recycled, 1);
	fold_clear(&seg->retired, &s->c);
}

/* A free slot (already empty) or a closed one for fd; 0 if neither. */
static uint32_t take_over(struct segfmt_slot *s, int fd)
{
	if (!s)
		return 0;
	if (seize(s, SEGFMT_SLOT_FREE))
		return publish(s, fd);
	if (!seize(s, SEGFMT_SLOT_CLOSED))
		return 0;
	retire(s);
	return publish(s, fd);
}

uint32_t stats_claim(int fd)
{
	uint64_t used = __atomic_load_n(&seg->slots_used, __ATOMIC_RELAXED);
	uint32_t got, r;
	if ((r = __atomic_exchange_n(&recent, 0, __ATOMIC_RELAXED)) && (got = take_over(slot_at(r - 1), fd)))
		return got;
	while (used < seg->nslots) {
		if (__atomic_compare_exchange_n(&seg->slots_used, &used, used + 1, 1,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return publish(slot_at((uint32_t)used), fd);
	}
	/* Full: reuse a free or closed slot.  A closed one's figures move to
	 * the retired block, so totals stay exact; only its line in the
	 * per-fd list is lost. */
	for (uint32_t i = 0; i < seg->nslots; i++)
		if ((got = take_over(slot_at(i), fd)))
			return got;
	return 0;
}

/* The first FRESH_FIRST slots keep their closed fds' lines; any later one
 * is emptied now and becomes the next claim's. */
void stats_release(uint32_t idx)
{
	struct segfmt_slot *s = slot_at(idx);
	uint32_t st = SEGFMT_SLOT_OPEN;
	if (!s || !__atomic_compare_exchange_n(&s->state, &st, SEGFMT_SLOT_CLOSED, 0, __ATOMIC_ACQ_REL,
					       __ATOMIC_RELAXED))
		return;
	if (idx < FRESH_FIRST || !seize(s, SEGFMT_SLOT_CLOSED))
		return;
	retire(s);
	__atomic_store_n(&s->state, SEGFMT_SLOT_FREE, __ATOMIC_RELEASE);
	__atomic_store_n(&recent, idx + 1, __ATOMIC_RELAXED);
}

struct segfmt_counters *stats_counters(uint32_t slot1)
{
	struct segfmt_header *h = __atomic_load_n(&seg, __ATOMIC_ACQUIRE);
	struct segfmt_slot *s = slot1 ? slot_at(slot1 - 1) : NULL;
	return s ? &s->c : &h->overflow.c;
}

struct segfmt_callsite *stats_callsites(uint32_t *n)
{
	struct segfmt_header *h = __atomic_load_n(&seg, __ATOMIC_ACQUIRE);
	*n = h->ncallsites;
	return h->ncallsites ? (struct segfmt_callsite *)((char *)h + h->callsite_offset) : NULL;
}

void stats_callsite_dropped(void)
{
	ADD(seg->callsites_dropped, 1);
}

void stats_set_kernel(int supported)
{
	__atomic_store_n(&seg->kernel_zc, supported ? 1u : 2u, __ATOMIC_RELAXED);
}

const char *stats_dir_path(void)
{
	return seg_is_file && seg_dir[0] ? seg_dir : NULL;
}

void stats_set_auto(int mode, int verdict, uint64_t map_ns_per_mb, uint64_t copy_ns_per_mb, int prior)
{
	struct segfmt_header *h = __atomic_load_n(&seg, __ATOMIC_ACQUIRE);
	__atomic_store_n(&h->auto_prior, (uint32_t)prior, __ATOMIC_RELAXED);
	__atomic_store_n(&h->mode, (uint32_t)mode, __ATOMIC_RELAXED);
	__atomic_store_n(&h->auto_verdict, (uint32_t)verdict, __ATOMIC_RELAXED);
	__atomic_store_n(&h->auto_map_ns_per_mb, map_ns_per_mb, __ATOMIC_RELAXED);
	__atomic_store_n(&h->auto_copy_ns_per_mb, copy_ns_per_mb, __ATOMIC_RELAXED);
}

void stats_after_fork_child(void)
{
	struct segfmt_header *old = seg;
	uint32_t kz = old->kernel_zc;
	if (old != &boot && seg_size)
		munmap(old, seg_size);
	seg = &boot;
	recent = 0;
	memset(&boot, 0, sizeof(boot));
	boot.kernel_zc = kz;
	if (seg_cfg)
		stats_init(seg_cfg);
}

void stats_set_sandboxed(uint32_t how)
{
	struct segfmt_header *h = __atomic_load_n(&seg, __ATOMIC_ACQUIRE);
	if (h)
		__atomic_store_n(&h->sandboxed, how, __ATOMIC_RELEASE);
}

void stats_exit(int may_syscall)
{
	__atomic_store_n(&seg->exited, 1, __ATOMIC_RELEASE);
	/* Under zcstat -- CMD the file is collected (and removed) by zcstat;
	 * under a seccomp filter it stays (zcstat sees the pid is gone). */
	if (may_syscall && seg_is_file && seg_cfg && !seg_cfg->session[0])
		unlink(seg_path);
}
