/*
 * zcdoctor.c - zcstat doctor: what stands between this host's traffic and
 * 100% mapped, each fact measured here, each problem with the change that
 * would fix it.
 *
 *   zcstat doctor [-p PID | -- CMD ARGS...] [--peer HOST] [--json] [--no-selftest]
 *
 * Checks, in four groups, each printed as one line (ok / warn / fail /
 * unknown, the fact, and where not ok the fix), then a verdict:
 *   kernel.*   the running kernel: TCP_ZEROCOPY_RECEIVE and the fields it
 *              takes, MADV_POPULATE_WRITE, a sandbox that blocks the call;
 *   path.*     for --peer and each peer of the process's TCP fds: the
 *              route and interface (rtnetlink), the TCP payload per segment
 *              that follows from the MTU, and what the device does with it
 *              (loopback and veth: GSO units of the sender's pages; a NIC:
 *              header/data split, GRO, LRO and rings over ethtool netlink);
 *   traffic.*  from the shim's segment of PID, or of CMD run under the shim:
 *              per fd the mapped share, the unmappable runs the kernel
 *              reported, read sizes against ZCSHIM_MIN_READ, batch sizes;
 *   cost.host  CPU per MiB of mapped and of copied reads on this host.
 * Nothing is changed; what needs privileges it lacks is `unknown`.
 * Exit status: 0 when no check failed, 1 when one did, 2 for bad usage.
 */
#define _GNU_SOURCE
#ifndef ZCSHIM_VERSION
#define ZCSHIM_VERSION "unknown"
#endif
#include "segs.h"
#include "page.h"
#include "zcdoctor.h"
#include "autohost.h"
#include "kzc.h"
#include "statdir.h"
#include "zccost.h"
#include "znl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MAX_CHECKS 96
#define MAX_PEERS 8

enum status { ST_OK, ST_UNKNOWN, ST_WARN, ST_FAIL };
static const char *const status_names[] = { "ok", "unknown", "warn", "fail" };

struct check {
	char id[64];
	enum status st;
	char fact[512];
	char advice[384];
	char data[256];         /* JSON members with the numbers behind the fact */
};

static struct check checks[MAX_CHECKS];
static int nchecks;

static struct check *add(const char *id, enum status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct check *add(const char *id, enum status st, const char *fmt, ...)
{
	static struct check spare;
	struct check *c = nchecks < MAX_CHECKS ? &checks[nchecks++] : &spare;
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->st = st;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->fact, sizeof(c->fact), fmt, ap);
	va_end(ap);
	return c;
}

#define ADVISE(c, ...) snprintf((c)->advice, sizeof((c)->advice), __VA_ARGS__)
#define DATA(c, ...) snprintf((c)->data, sizeof((c)->data), __VA_ARGS__)

/* ---- kernel ---------------------------------------------------------- */

static const char *fields_of(unsigned optlen)
{
	return optlen >= KZC_LEN_CMSG ? "to msg_control (5.12)" : optlen >= KZC_LEN_COPYBUF ? "to copybuf and flags (5.11)"
		: optlen >= KZC_LEN_ERR ? "to inq and err (5.7)" : "the first three (4.18)";
}

static int check_kernel(void)
{
	struct kzc_info k;
	kzc_probe(&k);
	struct check *c;
	if (k.supported) {
		c = add("kernel.zerocopy", k.optlen >= KZC_LEN_COPYBUF ? ST_OK : ST_WARN,
			"TCP_ZEROCOPY_RECEIVE works; the kernel takes %u bytes of struct tcp_zerocopy_receive: the fields %s",
			k.optlen, fields_of(k.optlen));
		if (k.optlen < KZC_LEN_COPYBUF)
			ADVISE(c, "Linux >= 5.11: without the copybuf every unmappable run costs a recv() of its own");
	} else if (kzc_transient(k.why)) {
		c = add("kernel.zerocopy", ST_UNKNOWN, "could not ask: %s", strerror(k.why));
	} else if (k.why == EPERM || k.why == EACCES) {
		c = add("kernel.zerocopy", ST_FAIL, "TCP_ZEROCOPY_RECEIVE is refused here: %s (a seccomp filter or LSM)",
			strerror(k.why));
		ADVISE(c, "allow getsockopt(IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE) and mmap of TCP sockets in the sandbox profile");
	} else {
		c = add("kernel.zerocopy", ST_FAIL, "TCP_ZEROCOPY_RECEIVE is not available: %s", strerror(k.why));
		ADVISE(c, "Linux >= 4.18 (5.11 for the copybuf)");
	}
	DATA(c, "\"supported\":%s,\"optlen\":%u", k.supported ? "true" : "false", k.optlen);

	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pop = p != MAP_FAILED && madvise(p, PAGE, MADV_POPULATE_WRITE) == 0;
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	c = add("kernel.populate_write", pop ? ST_OK : ST_WARN, "MADV_POPULATE_WRITE %s",
		pop ? "works: the shim proves a read's buffer writable with one call" : "is missing (Linux < 5.14)");
	if (!pop)
		ADVISE(c, "Linux >= 5.14: the shim then proves buffers writable page by page, which costs more per read");
	return k.supported;
}

/* Seccomp mode of pid (0 none, 1 strict, 2 filter), -1 unknown. */
static int seccomp_mode(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	int mode = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	if (f)
		fclose(f);
	return mode;
}

static void check_sandbox(const struct seglist *l, int works_here)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct segfmt_header *h = l->v[i].h;
		char id[64];
		snprintf(id, sizeof(id), "kernel.sandbox.%d", h->pid);
		int mode = seccomp_mode(h->pid);
		if (h->sandboxed) {
			struct check *c = add(id, ST_WARN,
					      "process %d installed %s of its own: the shim stepped aside from then on "
					      "(no zero-copy receive after it)", h->pid,
					      h->sandboxed == 2 ? "seccomp strict mode" : "a seccomp filter");
			ADVISE(c, "if the program's filter allows getsockopt, recvmsg, ppoll, fcntl, mmap, munmap and "
				  "madvise, set ZCSHIM_SECCOMP=keep (README: Running under seccomp)");
		} else if (h->kernel_zc == 2 && works_here) {
			struct check *c = add(id, ST_FAIL,
					      "process %d could not use TCP_ZEROCOPY_RECEIVE though this host can "
					      "(seccomp %s): a sandbox or container profile blocks it", h->pid,
					      mode > 0 ? "on" : mode == 0 ? "off" : "state unknown");
			ADVISE(c, "allow getsockopt(IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE) and mmap of TCP sockets in its profile");
		} else if (h->kernel_zc == 1) {
			add(id, ST_OK, "process %d uses TCP_ZEROCOPY_RECEIVE%s", h->pid,
			    mode > 0 ? " under a seccomp filter that allows it" : "");
		}
	}
}

/* ---- the path to a peer ---------------------------------------------- */

struct peer {
	int family;
	unsigned char addr[16];
	char name[64];
};

static int read_sysctl(const char *path, long v[3])
{
	FILE *f = fopen(path, "r");
	int n = f ? fscanf(f, "%ld %ld %ld", &v[0], &v[1], &v[2]) : 0;
	if (f)
		fclose(f);
	return n;
}

/* Share of a MSG_ZEROCOPY sender's bytes that arrive as whole, aligned
 * pages when payload bytes go per segment and the device passes units of
 * unit bytes (GSO on loopback and veth): every unit boundary that falls
 * inside a page costs that page.  Measured on loopback and veth: within a
 * few points (zcstat doctor's tests hold it to what the shim then maps). */
static double expect_pct(uint32_t payload, uint32_t unit)
{
	if (payload % PAGE == 0)
		return 100.0;
	if (unit < 2 * PAGE)
		return 0.0;
	return 100.0 * (1.0 - (double)PAGE / unit);
}

/* The GSO unit TCP builds for a device: as many whole segments as fit in
 * its GSO size less the largest TCP/IP header (tcp_xmit_size_goal). */
static uint32_t gso_unit(uint32_t payload, const struct znl_link *lk)
{
	uint32_t gso = lk->gso_max_size ? lk->gso_max_size : 65536;
	if (gso > 65536)
		gso = 65536;	/* BIG TCP needs the sender to ask for it */
	uint32_t room = gso - 1 - 320;
	return payload && payload < room ? room / payload * payload : payload;
}

static void path_software(const char *id, const struct peer *p, const struct znl_link *lk, uint32_t payload)
{
	uint32_t unit = gso_unit(payload, lk);
	double e = expect_pct(payload, unit);
	const char *what = lk->loopback ? "loopback" : lk->kind[0] ? lk->kind : "a software device";
	struct check *c;
	if (payload % PAGE == 0) {
		c = add(id, ST_OK, "%s to %s: %u payload bytes per segment are %u whole pages: a MSG_ZEROCOPY sender's "
			"pages map whole (expect ~100%%); a plain send() sender's never do (0%%)",
			what, p->name, payload, payload / PAGE);
		ADVISE(c, "the sender must send with MSG_ZEROCOPY (SO_ZEROCOPY) from page-aligned buffers");
	} else {
		c = add(id, ST_WARN, "%s to %s: %u payload bytes per segment are not whole pages; %s carries "
			"GSO units of %u bytes, and each unit boundary inside a page costs that page: a MSG_ZEROCOPY "
			"sender maps ~%.0f%%, a plain send() sender 0%%", what, p->name, payload, what, unit, e);
		ADVISE(c, "sender: MSG_ZEROCOPY and setsockopt TCP_MAXSEG %u (4096 payload bytes + 12 of timestamps), "
		       "or an MTU of %u on this path", 4096 + 12, 4096 + 12 + (p->family == AF_INET6 ? 60 : 40));
	}
	DATA(c, "\"kind\":\"%s\",\"payload\":%u,\"gso_unit\":%u,\"expect_zerocopy_pct\":%.1f,\"expect_plain_pct\":0,"
	     "\"verdict\":\"%s\"", lk->loopback ? "loopback" : lk->kind, payload, unit, e,
	     e >= 99.5 ? "mappable" : e >= 50 ? "partial" : "unmappable");
}

static const char *tri(int v)
{
	return v < 0 ? "unknown" : v ? "on" : "off";
}

static void path_nic(const char *id, const struct peer *p, const struct znl_link *lk, uint32_t payload)
{
	struct znl_eth e;
	znl_eth_get(lk->name, &e);
	char rings[200] = "rings: not reported", v[4][24];
	const int64_t nums[4] = { e.rx, e.rx_max, e.rx_buf_len, e.hds_thresh };
	for (int i = 0; i < 4; i++)
		snprintf(v[i], sizeof(v[i]), nums[i] < 0 ? "n/a" : "%lld", (long long)nums[i]);
	if (e.rings_known)
		snprintf(rings, sizeof(rings), "rx ring %s of %s, rx-buf-len %s, hds-thresh %s", v[0], v[1], v[2], v[3]);
	int whole = payload % PAGE == 0;
	enum status st = e.data_split == 1 ? (whole || e.gro_hw == 1 ? ST_OK : ST_WARN) : e.rings_known ? ST_FAIL : ST_UNKNOWN;
	struct check *c = add(id, st, "NIC %s (%s) to %s: tcp-data-split %s; GRO %s, hardware GRO %s, LRO %s; %s; "
			      "%u payload bytes per segment%s", lk->name, lk->driver[0] ? lk->driver : "driver unknown",
			      p->name, tri(e.data_split), tri(e.gro), tri(e.gro_hw), tri(e.lro), rings, payload,
			      whole ? " (whole pages)" : "");
	if (e.data_split != 1)
		ADVISE(c, "payload lands in page-aligned buffers only with header/data split: `ethtool -G %s "
		       "tcp-data-split on` where the driver has it, and an MTU whose payload is whole pages (%u)",
		       lk->name, 4096 + 12 + (p->family == AF_INET6 ? 60 : 40));
	else if (st == ST_WARN)
		ADVISE(c, "an MTU of %u (one page of payload per segment) or hardware GRO (`ethtool -K %s rx-gro-hw on`)",
		       4096 + 12 + (p->family == AF_INET6 ? 60 : 40), lk->name);
	if (e.rings_err && e.features_err && st == ST_UNKNOWN)
		snprintf(c->fact + strlen(c->fact), sizeof(c->fact) - strlen(c->fact), " (ethtool netlink: %s)",
			 strerror(-e.rings_err));
	DATA(c, "\"kind\":\"nic\",\"payload\":%u,\"data_split\":%d,\"gro\":%d,\"gro_hw\":%d,\"lro\":%d,"
	     "\"verdict\":\"%s\"", payload, e.data_split, e.gro, e.gro_hw, e.lro,
	     st == ST_OK ? "mappable" : st == ST_FAIL ? "unmappable" : "unknown");
}

static void check_path(const struct peer *p)
{
	char id[96];
	struct znl_route rt;
	struct znl_link lk;
	snprintf(id, sizeof(id), "path.%s", p->name);
	int r = znl_route_get(p->family, p->addr, &rt);
	if (!r)
		r = znl_link_get(rt.ifindex, &lk);
	if (r) {
		add(id, ST_UNKNOWN, "no route to %s could be read: %s", p->name, strerror(-r));
		return;
	}
	long ts[3] = { 1, 0, 0 };
	read_sysctl("/proc/sys/net/ipv4/tcp_timestamps", ts);
	uint32_t mtu = rt.mtu ? rt.mtu : lk.mtu, hdr = p->family == AF_INET6 ? 60 : 40;
	uint32_t mss = rt.advmss ? rt.advmss : mtu > hdr ? mtu - hdr : 0, payload = ts[0] && mss > 12 ? mss - 12 : mss;
	struct check *c = add(id, ST_OK, "via %s (%s), MTU %u%s: MSS %u, %u payload bytes per segment with "
			      "timestamps (%u without); net.ipv4.tcp_timestamps=%ld", lk.name,
			      lk.loopback ? "loopback" : lk.kind[0] ? lk.kind : lk.driver[0] ? lk.driver : "NIC", mtu,
			      rt.mtu ? " (route)" : "", mss, mss > 12 ? mss - 12 : mss, mss, ts[0]);
	DATA(c, "\"ifname\":\"%s\",\"mtu\":%u,\"mss\":%u,\"payload\":%u", lk.name, mtu, mss, payload);
	snprintf(id + strlen(id), sizeof(id) - strlen(id), ".pages");
	if (lk.loopback || rt.local || lk.kind[0])
		path_software(id, p, &lk, payload);
	else
		path_nic(id, p, &lk, payload);
}

static int resolve(const char *host, struct peer *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, NULL, &hints, &ai))
		return -1;
	p->family = ai->ai_family;
	if (ai->ai_family == AF_INET)
		memcpy(p->addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
	else
		memcpy(p->addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
	inet_ntop(p->family, p->addr, p->name, sizeof(p->name));
	freeaddrinfo(ai);
	return 0;
}

/* Distinct peers of the segments' fds, at most max. */
static int peers_of(const struct seglist *l, struct peer *out, int n, int max)
{
	for (size_t i = 0; i < l->n; i++)
		for (uint32_t s = 0; s < l->v[i].nslots && n < max; s++) {
			const struct segfmt_slot *sl = &l->v[i].slots[s];
			struct peer p = { .family = sl->family };
			if (sl->state == SEGFMT_SLOT_FREE || (p.family != AF_INET && p.family != AF_INET6))
				continue;
			memcpy(p.addr, sl->addr, p.family == AF_INET ? 4 : 16);
			inet_ntop(p.family, p.addr, p.name, sizeof(p.name));
			int seen = 0;
			for (int k = 0; k < n; k++)
				seen |= !strcmp(out[k].name, p.name);
			if (!seen)
				out[n++] = p;
		}
	return n;
}

/* ---- the traffic ----------------------------------------------------- */

static double pctd(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* What the counters of one fd (or process) say, as one check. */
static void traffic_verdict(const char *id, const char *who, const struct segfmt_counters *c, uint64_t min_read)
{
	uint64_t bytes = c->bytes_mapped + c->bytes_copied, unm = c->fb_bytes[SEGFMT_R_UNMAPPABLE];
	uint64_t small = c->fb_bytes[SEGFMT_R_SMALL];
	double mapped = pctd(c->bytes_mapped, bytes), mappable = pctd(c->bytes_mapped, c->bytes_probed);
	uint64_t run = c->skip_runs ? unm / c->skip_runs : 0, every = c->skip_runs ? c->bytes_mapped / c->skip_runs : 0;
	struct check *k;
	if (!c->bytes_probed && small * 2 >= bytes) {
		uint64_t avg = c->fb_reads[SEGFMT_R_SMALL] ? small / c->fb_reads[SEGFMT_R_SMALL] : 0;
		k = add(id, ST_WARN, "%s: %.0f%% of %llu bytes came in reads below ZCSHIM_MIN_READ=%llu (%llu bytes "
			"on average): never tried on the mapped path", who, pctd(small, bytes), (unsigned long long)bytes,
			(unsigned long long)min_read, (unsigned long long)avg);
		ADVISE(k, "larger reads in the program (see zcstat's call sites), or ZCSHIM_MIN_READ=%lluK if "
		       "mapping pays at that size here (measure with make bench)", (unsigned long long)(avg >= 16384 ? avg / 1024 : 16));
	} else if (!c->bytes_probed) {
		k = add(id, ST_WARN, "%s: %llu bytes, none taken on the mapped path", who, (unsigned long long)bytes);
		ADVISE(k, "see zcstat's fallback reasons for this fd");
	} else if (!c->bytes_mapped) {
		k = add(id, ST_FAIL, "%s: none of %llu bytes read on the mapped path could be mapped: the kernel reported "
			"every run unmappable (%llu runs), so the sender's data never arrived as whole, page-aligned pages",
			who, (unsigned long long)c->bytes_probed, (unsigned long long)c->skip_runs);
		ADVISE(k, "loopback/veth: the sender must use MSG_ZEROCOPY (plain send() fills compound pages); "
		       "a NIC: header/data split (see path.*)");
	} else if (mappable >= 99.0) {
		k = add(id, ST_OK, "%s: %.2f%% of %llu bytes mapped, %.2f%% of what took the mapped path", who, mapped,
			(unsigned long long)bytes, mappable);
	} else {
		k = add(id, ST_WARN, "%s: %.2f%% of the mapped path's bytes mapped; the kernel reported an unmappable run "
			"of ~%llu bytes every ~%llu mapped bytes (%llu runs): the payload per segment or GSO unit is not "
			"whole pages, so each unit boundary inside a page costs that page", who, mappable,
			(unsigned long long)run, (unsigned long long)every, (unsigned long long)c->skip_runs);
		ADVISE(k, "sender: TCP_MAXSEG 4108 (whole pages per segment), or an MTU whose payload is whole pages");
	}
	DATA(k, "\"bytes\":%llu,\"mapped_pct\":%.2f,\"mappable_pct\":%.2f,\"skip_runs\":%llu,\"run_bytes\":%llu,"
	     "\"mapped_per_run\":%llu", (unsigned long long)bytes, mapped, mappable, (unsigned long long)c->skip_runs,
	     (unsigned long long)run, (unsigned long long)every);
}

/* SO_RCVBUF and the receive MSS of a live process's socket, through a
 * copy of its fd (pidfd_getfd, Linux 5.6, ptrace permission over pid).
 * 0 or -errno. */
static int peer_socket_facts(int pid, int fd, int *rcvbuf, int *rcv_mss)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0), r = 0;
	if (pfd < 0)
		return -errno;
	int s = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	if (s < 0) {
		r = -errno;
	} else {
		struct tcp_info ti = { 0 };
		socklen_t l = sizeof(*rcvbuf), tl = sizeof(ti);
		if (getsockopt(s, SOL_SOCKET, SO_RCVBUF, rcvbuf, &l) || getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl))
			r = -errno;
		*rcv_mss = (int)ti.tcpi_rcv_mss;
		close(s);
	}
	close(pfd);
	return r;
}

/* For a live process: the receive buffer of its busiest open socket, as
 * words for the fact and JSON members for the data (both "" if none). */
static void socket_facts(const struct segview *v, char *out, size_t cap, char *data, size_t dcap)
{
	const struct segfmt_slot *best = NULL;
	out[0] = data[0] = 0;
	for (uint32_t s = 0; s < v->nslots; s++) {
		const struct segfmt_slot *sl = &v->slots[s];
		if (sl->state == SEGFMT_SLOT_OPEN && segread_fd_open(v->h->pid, sl->fd, (unsigned long long)sl->inode) == 1 &&
		    (!best || sl->c.bytes_mapped + sl->c.bytes_copied > best->c.bytes_mapped + best->c.bytes_copied))
			best = sl;
	}
	if (!best)
		return;
	int rcvbuf = 0, mss = 0, r = peer_socket_facts(v->h->pid, best->fd, &rcvbuf, &mss);
	if (r) {
		snprintf(out, cap, "; fd %d's SO_RCVBUF unknown (%s)", best->fd, strerror(-r));
		return;
	}
	snprintf(out, cap, "; fd %d: SO_RCVBUF %d, receive MSS %d", best->fd, rcvbuf, mss);
	snprintf(data, dcap, ",\"fd\":%d,\"rcvbuf\":%d,\"rcv_mss\":%d", best->fd, rcvbuf, mss);
}

static void check_batches(const struct segview *v, const struct segfmt_counters *t, int live)
{
	int pid = v->h->pid;
	uint64_t window = v->h->window_size;
	char sock[128] = "", sockdata[96] = "";
	if (live)
		socket_facts(v, sock, sizeof(sock), sockdata, sizeof(sockdata));
	if (!t->zc_calls || !t->bytes_mapped)
		return;
	long rmem[3] = { 0, 0, 0 };
	read_sysctl("/proc/sys/net/ipv4/tcp_rmem", rmem);
	uint64_t batch = t->bytes_mapped / t->zc_calls;
	char id[64];
	snprintf(id, sizeof(id), "traffic.%d.batch", pid);
	int small = batch < 65536 && rmem[2] < (long)(4 * window);
	struct check *c = add(id, small ? ST_WARN : ST_OK, "%llu bytes mapped per TCP_ZEROCOPY_RECEIVE call on average "
			      "(window %llu); net.ipv4.tcp_rmem = %ld %ld %ld%s", (unsigned long long)batch,
			      (unsigned long long)window, rmem[0], rmem[1], rmem[2], sock);
	if (small)
		ADVISE(c, "a larger receive buffer lets more queue per call: sysctl -w net.ipv4.tcp_rmem='4096 131072 %llu'",
		       (unsigned long long)(8 * window));
	DATA(c, "\"bytes_per_call\":%llu,\"rmem_max\":%ld%s", (unsigned long long)batch, rmem[2], sockdata);
}

static void check_callsites(const struct segview *v)
{
	const struct segfmt_callsite *best = NULL;
	for (uint32_t i = 0; v->callsites && i < v->h->ncallsites; i++)
		if (v->callsites[i].state == 2 && v->callsites[i].reason == SEGFMT_R_SMALL &&
		    (!best || v->callsites[i].bytes > best->bytes))
			best = &v->callsites[i];
	if (!best)
		return;
	char id[64], fn[65], mod[113];
	snprintf(fn, sizeof(fn), "%.64s", best->function[0] ? best->function : "?");
	snprintf(mod, sizeof(mod), "%.112s", best->module);
	snprintf(id, sizeof(id), "traffic.%d.callsite", v->h->pid);
	struct check *c = add(id, ST_WARN, "most bytes in small reads come from %s+0x%llx (%s+0x%llx): %llu reads, "
			      "%llu bytes", fn, (unsigned long long)best->fn_offset, mod, (unsigned long long)best->offset,
			      (unsigned long long)best->reads, (unsigned long long)best->bytes);
	ADVISE(c, "that call's buffer size decides whether its reads can map (>= ZCSHIM_MIN_READ=%llu)",
	       (unsigned long long)v->h->min_read);
}

/* An fd worth a line of its own: a MiB or more received. */
static int busy_slot(const struct segfmt_slot *sl)
{
	return sl->state != SEGFMT_SLOT_FREE && sl->c.bytes_mapped + sl->c.bytes_copied >= (1u << 20);
}

/* Per process: the whole, and (when several fds carried traffic) the
 * first 8 of them. */
static void check_traffic(const struct seglist *l, int live)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct segview *v = &l->v[i];
		struct segfmt_counters t;
		segread_totals(v, &t);
		char id[64], who[96];
		if (!t.bytes_mapped && !t.bytes_copied)
			continue;
		snprintf(id, sizeof(id), "traffic.%d", v->h->pid);
		snprintf(who, sizeof(who), "process %d", v->h->pid);
		traffic_verdict(id, who, &t, v->h->min_read);
		uint32_t busy = 0;
		for (uint32_t s = 0; s < v->nslots; s++)
			busy += busy_slot(&v->slots[s]);
		for (uint32_t s = 0, shown = 0; busy > 1 && s < v->nslots && shown < 8; s++) {
			const struct segfmt_slot *sl = &v->slots[s];
			if (!busy_slot(sl))
				continue;
			snprintf(id, sizeof(id), "traffic.%d.fd%d", v->h->pid, sl->fd);
			snprintf(who, sizeof(who), "fd %d", sl->fd);
			traffic_verdict(id, who, &sl->c, v->h->min_read);
			shown++;
		}
		check_batches(v, &t, live);
		check_callsites(v);
	}
}

/* ---- cost on this host ----------------------------------------------- */

static int saved_estimates(double *map, double *copy)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], id[64] = "", line[256];
	struct autohost h;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = 0;
		id[strcspn(id, "\n")] = 0;
		fclose(f);
	}
	if (segs_stats_dir(dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s" AUTOHOST_FILE, dir);
	f = fopen(path, "r");
	int ok = f && fgets(line, sizeof(line), f) && !autohost_parse(line, id, &h);
	if (f)
		fclose(f);
	if (!ok)
		return -1;
	*map = (double)(h.map + h.release) / 1e6, *copy = (double)h.copy / 1e6;
	return 0;
}

static void check_cost(const struct seglist *l, int selftest, int kernel_ok)
{
	double map = 0, copy = 0;
	const char *src = NULL;
	for (size_t i = 0; i < l->n && !src; i++)
		if (l->v[i].h->auto_map_ns_per_mb && l->v[i].h->auto_copy_ns_per_mb) {
			map = (double)l->v[i].h->auto_map_ns_per_mb / 1e6;
			copy = (double)l->v[i].h->auto_copy_ns_per_mb / 1e6;
			src = "measured by the process under ZCSHIM_MODE=auto";
		}
	if (!src && !saved_estimates(&map, &copy))
		src = "saved this boot by ZCSHIM_MODE=auto processes";
	struct zccost z;
	int r = 0;
	if (!src && selftest && kernel_ok && !(r = zccost_measure(&z))) {
		map = z.map_ms_per_mib, copy = z.copy_ms_per_mib;
		src = "loopback self-test, MSG_ZEROCOPY at MSS 4108, 3 rounds of 32 MiB each way";
	}
	if (!src) {
		add("cost.host", ST_UNKNOWN, "not measured: %s", r ? strerror(-r) : !selftest ? "--no-selftest" :
		    "no TCP_ZEROCOPY_RECEIVE");
		return;
	}
	int pays = map < copy * 0.95;
	struct check *c = add("cost.host", pays ? ST_OK : ST_WARN, "receiver CPU per MiB: %.3f ms mapped (map, then "
			      "copy out), %.3f ms copied (recv) (%s): zero-copy receive %s on this host", map, copy, src,
			      pays ? "pays" : map > copy ? "costs more than recv()" : "saves under 5% over recv()");
	if (!pays)
		ADVISE(c, "ZCSHIM_MODE=auto (copies where that measures cheaper), or read in place with zcshim_recv()");
	DATA(c, "\"map_ms_per_mib\":%.4f,\"copy_ms_per_mib\":%.4f", map, copy);
}

/* ---- output ---------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static enum status worst(int *nbad)
{
	enum status w = ST_OK;
	*nbad = 0;
	for (int i = 0; i < nchecks; i++) {
		w = checks[i].st > w ? checks[i].st : w;
		*nbad += checks[i].st == ST_WARN || checks[i].st == ST_FAIL;
	}
	return w;
}

static void verdict_text(char *out, size_t cap)
{
	int nbad;
	enum status w = worst(&nbad);
	size_t n = (size_t)snprintf(out, cap, nbad ? "%d of %d checks stand between this host and 100%% mapped:" :
				    "nothing found that keeps this host's traffic from mapping (%d of %d checks ok)",
				    nbad ? nbad : nchecks - (w == ST_UNKNOWN), nchecks);
	for (int i = 0; nbad && i < nchecks && n < cap; i++)
		if (checks[i].st == ST_WARN || checks[i].st == ST_FAIL)
			n += (size_t)snprintf(out + n, cap - n, " %s", checks[i].id);
}

static void print(FILE *f, int json)
{
	int nbad;
	enum status w = worst(&nbad);
	char v[1024];
	verdict_text(v, sizeof(v));
	if (!json) {
		for (int i = 0; i < nchecks; i++) {
			fprintf(f, "%-7s %-28s %s\n", status_names[checks[i].st], checks[i].id, checks[i].fact);
			if (checks[i].advice[0])
				fprintf(f, "%-7s %-28s fix: %s\n", "", "", checks[i].advice);
		}
		fprintf(f, "verdict: %s: %s\n", status_names[w], v);
		return;
	}
	fprintf(f, "{\"checks\":[");
	for (int i = 0; i < nchecks; i++) {
		fprintf(f, "%s{\"id\":", i ? "," : "");
		json_str(f, checks[i].id);
		fprintf(f, ",\"status\":\"%s\",\"fact\":", status_names[checks[i].st]);
		json_str(f, checks[i].fact);
		fprintf(f, ",\"advice\":");
		json_str(f, checks[i].advice);
		fprintf(f, ",\"data\":{%s}}", checks[i].data);
	}
	fprintf(f, "],\"verdict\":{\"status\":\"%s\",\"text\":", status_names[w]);
	json_str(f, v);
	fprintf(f, "}}\n");
}

/* ---- main ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: zcstat doctor [-p PID | -- CMD [ARGS...]] [--peer HOST] [--json] [-o FILE] [--no-selftest]\n"
		   "  Checks what stands between this host's TCP traffic and 100%% mapped: the kernel,\n"
		   "  the path to each peer (--peer, and the peers of PID's or CMD's TCP fds), the\n"
		   "  traffic the shim saw (PID live, or CMD run under the shim), and what mapped and\n"
		   "  copied reads cost here.  One line per check (ok, warn, fail, unknown) with the\n"
		   "  fact and the fix, then a verdict.  Exit 1 if a check failed.  The report goes to\n"
		   "  standard output (CMD's own output then goes to standard error) or to -o FILE.\n");
}

int doctor_main(int argc, char **argv)
{
	int json = 0, pid = 0, selftest = 1, npeers = 0, c;
	const char *out_path = NULL;
	struct peer peers[MAX_PEERS];
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },	      { "no-selftest", no_argument, NULL, 'S' },
		{ "pid", required_argument, NULL, 'p' },      { "output", required_argument, NULL, 'o' },
		{ "peer", required_argument, NULL, 'P' },     { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	optind = 1;	/* argv[0] is "doctor" */
	while ((c = getopt_long(argc, argv, "+p:o:h", longs, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'j': json = 1; break;
		case 'S': selftest = 0; break;
		case 'o': out_path = optarg; break;
		case 'p':
			pid = (int)strtol(optarg, &end, 10);
			if (end == optarg || *end || pid <= 0) {
				fprintf(stderr, "zcstat doctor: -p takes a pid, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'P':
			if (npeers == MAX_PEERS || resolve(optarg, &peers[npeers])) {
				fprintf(stderr, "zcstat doctor: cannot resolve %s (or more than %d peers)\n", optarg,
					MAX_PEERS);
				return 2;
			}
			npeers++;
			break;
		case 'V': printf("zcstat doctor %s\n", ZCSHIM_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	int i = optind;
	struct seglist l = { 0 };
	int ran = 0, code = 0;
	FILE *out = stdout;
	if (out_path && !(out = fopen(out_path, "we"))) {
		fprintf(stderr, "zcstat doctor: %s: %s\n", out_path, strerror(errno));
		return 2;
	}
	if (i < argc) {
		static const char *const env[] = { "ZCSHIM_CALLSITES=1", NULL };
		/* The report owns standard output: what CMD prints there goes
		 * to standard error, so `zcstat doctor --json -- CMD | jq`
		 * parses (unless -o FILE takes the report). */
		int saved = -1;
		if (!out_path) {
			fflush(stdout);
			saved = dup(STDOUT_FILENO);
			dup2(STDERR_FILENO, STDOUT_FILENO);
		}
		int bad = segs_run(argv + i, env, &l, &code);
		if (saved >= 0) {
			dup2(saved, STDOUT_FILENO);
			close(saved);
		}
		if (bad)
			return 2;
		ran = 1;
		if (code)
			fprintf(stderr, "zcstat doctor: %s exited with status %d\n", argv[i], code);
	} else if (pid > 0) {
		char dir[PATH_MAX];
		if (!segs_stats_dir(dir, sizeof(dir)))
			segs_collect_live(dir, &l, pid);
		if (!l.n)
			fprintf(stderr, "zcstat doctor: process %d is not running the shim (or not yours)\n", pid);
	}
	int kernel_ok = check_kernel();
	check_sandbox(&l, kernel_ok);
	npeers = peers_of(&l, peers, npeers, MAX_PEERS);
	for (int k = 0; k < npeers; k++)
		check_path(&peers[k]);
	check_traffic(&l, !ran);
	check_cost(&l, selftest, kernel_ok);
	print(out, json);
	if (out != stdout)
		fclose(out);
	if (ran)
		segs_run_done(&l);
	else
		segs_free_list(&l);
	int nbad;
	return worst(&nbad) == ST_FAIL ? 1 : 0;
}
