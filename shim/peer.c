/*
 * peer.c - see peer.h.
 */
#define _GNU_SOURCE
#include "peer.h"
#include "hot.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One fd's peer: relaxed atomics (threads close and accept the same fd
 * numbers; a torn read gives a wrong hint, never a wrong byte). */
struct cell {
	uint32_t head;          /* family | service << 8 | port << 16; 0: none */
	uint32_t local;         /* the local port | LOCAL_KNOWN: an accepted
				 * fd's service, or a listening fd's own */
	uint64_t addr[2];
};
#define LOCAL_KNOWN 0x10000u

static HOT struct cell *cells;
static HOT unsigned cells_len;

#define MEMO 256u
static uint64_t memo[MEMO];	/* key << 32 | misses << 24 | waited << 16 | back-off */

int peer_init(unsigned n)
{
	/* Raw syscall, as the fd table's: this runs at start-up. */
	void *p = (void *)syscall(SYS_mmap, NULL, (size_t)n * sizeof(struct cell), PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	cells = p;
	cells_len = n;
	return 0;
}

static struct cell *cell(int fd)
{
	return cells && (unsigned)fd < cells_len ? &cells[fd] : NULL;
}

static void put(struct cell *c, const struct peer_addr *a)
{
	uint64_t w[2];
	memcpy(w, a->addr, sizeof(w));
	__atomic_store_n(&c->head, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->addr[0], w[0], __ATOMIC_RELAXED);
	__atomic_store_n(&c->addr[1], w[1], __ATOMIC_RELAXED);
	__atomic_store_n(&c->head, (uint32_t)a->family | (uint32_t)a->service << 8 | (uint32_t)a->port << 16,
			 __ATOMIC_RELEASE);
}

/* FNV-1a over the family and the address, then the service's port (the
 * peer's where connected; the local port it came in on where accepted:
 * two services of one host are two routes, such as a proxy's clients and
 * its upstream on the same host).  Never 0 (0: not known). */
static uint32_t key_of(const struct peer_addr *a, uint32_t local)
{
	uint32_t h = 2166136261u ^ a->family;
	for (int i = 0; i < (a->family == AF_INET ? 4 : 16); i++)
		h = (h ^ a->addr[i]) * 16777619u;
	uint32_t port = a->service ? a->port : local & LOCAL_KNOWN ? local : 0;
	if (port)
		h = ((h ^ (port >> 8)) * 16777619u ^ (port & 0xff)) * 16777619u;
	return h ? h : 1;
}

uint32_t peer_note(int fd, const struct sockaddr *sa, socklen_t len, int service)
{
	struct cell *c = cell(fd);
	struct peer_addr a = { 0 };
	if (!c)
		return 0;
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		a.family = AF_INET;
		a.port = ntohs(in->sin_port);
		memcpy(a.addr, &in->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		a.family = AF_INET6;
		a.port = ntohs(in6->sin6_port);
		memcpy(a.addr, &in6->sin6_addr, 16);
	}
	a.service = a.family && service;
	put(c, &a);
	return a.family ? key_of(&a, __atomic_load_n(&c->local, __ATOMIC_RELAXED)) : 0;
}

void peer_copy(int oldfd, int newfd)
{
	struct cell *n = cell(newfd), *o = cell(oldfd);
	struct peer_addr a = { 0 };
	if (!n)
		return;
	if (!peer_get(oldfd, &a))
		a = (struct peer_addr){ 0 };
	put(n, &a);
	__atomic_store_n(&n->local, o ? __atomic_load_n(&o->local, __ATOMIC_RELAXED) : 0, __ATOMIC_RELAXED);
}

void peer_forget(int fd)
{
	struct cell *c = cell(fd);
	if (c && __atomic_load_n(&c->head, __ATOMIC_RELAXED))
		__atomic_store_n(&c->head, 0, __ATOMIC_RELAXED);
	if (c && __atomic_load_n(&c->local, __ATOMIC_RELAXED))
		__atomic_store_n(&c->local, 0, __ATOMIC_RELAXED);
}

/* The listening fd's own port, asked of the kernel once (at its first
 * accept) and kept in its cell; 0 if it cannot be had. */
static uint32_t listen_port(int lfd)
{
	struct cell *c = cell(lfd);
	uint32_t l = c ? __atomic_load_n(&c->local, __ATOMIC_RELAXED) : 0;
	if (!c || l)
		return l;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int saved = errno;
	/* Raw: getsockname is the program's to hook or count, not ours. */
	if (!syscall(SYS_getsockname, lfd, (struct sockaddr *)&ss, &len)) {
		if (ss.ss_family == AF_INET && len >= sizeof(struct sockaddr_in))
			l = LOCAL_KNOWN | ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
			l = LOCAL_KNOWN | ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	errno = saved;
	__atomic_store_n(&c->local, l, __ATOMIC_RELAXED);
	return l;
}

void peer_accepted(int lfd, int fd)
{
	struct cell *c = cell(fd);
	if (c)
		__atomic_store_n(&c->local, listen_port(lfd), __ATOMIC_RELAXED);
}

int peer_get(int fd, struct peer_addr *out)
{
	struct cell *c = cell(fd);
	uint32_t h = c ? __atomic_load_n(&c->head, __ATOMIC_ACQUIRE) : 0;
	if (!(h & 0xff))
		return 0;
	uint64_t w[2] = { __atomic_load_n(&c->addr[0], __ATOMIC_RELAXED), __atomic_load_n(&c->addr[1], __ATOMIC_RELAXED) };
	out->family = (uint8_t)h;
	out->service = (uint8_t)(h >> 8);
	out->port = (uint16_t)(h >> 16);
	memcpy(out->addr, w, sizeof(w));
	return 1;
}

uint32_t peer_key(int fd)
{
	struct peer_addr a;
	struct cell *c = cell(fd);
	if (!peer_get(fd, &a))
		return 0;
	return key_of(&a, c ? __atomic_load_n(&c->local, __ATOMIC_RELAXED) : 0);
}

struct peer_learned peer_recall(uint32_t key)
{
	struct peer_learned l = { 0, 0, 0 };
	if (!key)
		return l;
	uint64_t m = __atomic_load_n(&memo[key % MEMO], __ATOMIC_RELAXED);
	if ((uint32_t)(m >> 32) == key) {
		l.misses = (uint8_t)(m >> 24);
		l.waited = (uint8_t)(m >> 16);
		l.backoff = (uint16_t)m;
	}
	return l;
}

void peer_learn(uint32_t key, struct peer_learned l)
{
	if (!key)
		return;
	uint64_t *m = &memo[key % MEMO],
		 v = (uint64_t)key << 32 | (uint64_t)l.misses << 24 | (uint64_t)l.waited << 16 | l.backoff;
	/* Nothing to say of a peer: only forget it, never evict another. */
	if ((l.misses || l.backoff || (uint32_t)(__atomic_load_n(m, __ATOMIC_RELAXED) >> 32) == key) &&
	    __atomic_load_n(m, __ATOMIC_RELAXED) != v)
		__atomic_store_n(m, v, __ATOMIC_RELAXED);
}
