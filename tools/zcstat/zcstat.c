/*
 * zcstat - how much of a program's TCP traffic took the zero-copy path.
 *
 *   zcstat [--json] [-o FILE] -- CMD [ARGS...]
 *       Runs CMD with libzcshim.so preloaded and, when it exits, reports
 *       per process and per fd what the shim counted for CMD and every
 *       descendant that ran with the shim.  Exits with CMD's status.
 *   zcstat -l [--json]
 *       Every live process running the shim that the caller may see.
 *       Segments of dead processes are removed on the way.
 *   zcstat -p PID [-i SECS] [-c COUNT] [-d] [--json]
 *       A per-fd table of PID refreshed every SECS, like top; --json prints
 *       one snapshot in the run-and-report schema; -d shows deltas.
 *   zcstat doctor [-p PID | -- CMD...] [--peer HOST] [--json] [-o FILE]
 *       What stands between the traffic and 100% mapped (zcdoctor.c).
 *
 * The library is found through $ZCSHIM_LIB, else beside this binary, else
 * in ../lib/zcshim/ or ../lib/<multiarch>/zcshim/ (the Debian package)
 * relative to it.  Statistics segments are read from
 * $ZCSHIM_STATS_DIR or the per-user default directory; only the caller's
 * own segments are read (any, for root), and every segment is validated
 * before use (tools/segread.c).
 */
#define _GNU_SOURCE
#ifndef ZCSHIM_VERSION
#define ZCSHIM_VERSION "unknown"
#endif
#include "segs.h"
#include "zcdoctor.h"
#include "segread.h"
#include "zcprom.h"
#include "statdir.h"
#include "kzc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static void usage(FILE *f)
{
	fprintf(f, "usage: zcstat [--json] [-o FILE] -- CMD [ARGS...]\n"
		   "       zcstat -l [--json | --prometheus]\n"
		   "       zcstat export --textfile DIR [-i SECS] [-c COUNT]\n"
		   "       zcstat -p PID [-i SECS] [-c COUNT] [-d] [--json]\n"
		   "       zcstat doctor [-p PID | -- CMD [ARGS...]] [--peer HOST] [--json] [-o FILE] [--no-selftest]\n"
		   "  Run CMD under the zcshim preload and report, when it exits, how many\n"
		   "  received TCP bytes were mapped (zero-copy) and how many copied;\n"
		   "  or show processes running the shim now (-l), or one of them live (-p).\n"
		   "  --json     machine-readable output\n"
		   "  -o FILE    write the report to FILE instead of stderr\n"
		   "  -i SECS    refresh interval for -p (default 1)\n"
		   "  -c COUNT   number of refreshes for -p (default: until it exits)\n"
		   "  -d         show per-interval deltas instead of totals\n"
		   "  --prometheus  -l in the Prometheus text format\n"
		   "  export     write that to DIR/zcshim.prom every SECS (node_exporter's\n"
		   "             textfile collector), exited processes kept in the totals\n"
		   "  doctor     what stands between the traffic and 100%% mapped (zcstat doctor -h)\n");
}

/* ---- reporting ------------------------------------------------------- */

static void sum(struct segfmt_counters *t, const struct segfmt_counters *c)
{
	t->reads += c->reads;
	t->bytes_mapped += c->bytes_mapped;
	t->bytes_copied += c->bytes_copied;
	t->zc_calls += c->zc_calls;
	t->bytes_probed += c->bytes_probed;
	t->api_calls += c->api_calls;
	t->skip_runs += c->skip_runs;
	for (int i = 0; i < SEGFMT_R_COUNT; i++) {
		t->fb_reads[i] += c->fb_reads[i];
		t->fb_bytes[i] += c->fb_bytes[i];
	}
}

static void snap(struct segfmt_counters *dst, const struct segfmt_counters *src)
{
	/* Each field is read atomically; the set is as consistent as a
	 * lock-free reader can be. */
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;
	for (size_t i = 0; i < sizeof(*src) / 8; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

static void peer_str(const struct segfmt_slot *s, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	if (s->family == AF_INET) {
		inet_ntop(AF_INET, s->addr, a, sizeof(a));
		snprintf(buf, cap, "%s:%u", a, s->port);
	} else if (s->family == AF_INET6) {
		inet_ntop(AF_INET6, s->addr, a, sizeof(a));
		snprintf(buf, cap, "[%s]:%u", a, s->port);
	} else {
		snprintf(buf, cap, "?");
	}
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* The reason behind most unmapped bytes.  Backoff (not probing an fd whose
 * data kept coming unmappable) counts as unmappable: that is the cause. */
static int main_reason(const struct segfmt_counters *c)
{
	uint64_t bytes[SEGFMT_R_COUNT], reads[SEGFMT_R_COUNT];
	for (int i = 0; i < SEGFMT_R_COUNT; i++) {
		bytes[i] = c->fb_bytes[i];
		reads[i] = c->fb_reads[i];
	}
	bytes[SEGFMT_R_UNMAPPABLE] += bytes[SEGFMT_R_BACKOFF];
	reads[SEGFMT_R_UNMAPPABLE] += reads[SEGFMT_R_BACKOFF];
	bytes[SEGFMT_R_BACKOFF] = reads[SEGFMT_R_BACKOFF] = 0;
	int best = -1;
	for (int i = 0; i < SEGFMT_R_COUNT; i++)
		if (bytes[i] && (best < 0 || bytes[i] > bytes[best]))
			best = i;
	if (best < 0)
		for (int i = 0; i < SEGFMT_R_COUNT; i++)
			if (reads[i] && (best < 0 || reads[i] > reads[best]))
				best = i;
	return best;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The counters as JSON members; wrapped in braces when braces is set. */
static void json_counters(FILE *f, const struct segfmt_counters *c, int braces)
{
	if (braces)
		fputc('{', f);
	fprintf(f, "\"reads\":%llu,\"bytes_mapped\":%llu,\"bytes_copied\":%llu,\"zc_calls\":%llu,"
		   "\"mapped_pct\":%.2f,\"bytes_probed\":%llu,\"mappable_pct\":%.2f,\"api_calls\":%llu,"
		   "\"skip_runs\":%llu,\"fallback\":{",
		(unsigned long long)c->reads, (unsigned long long)c->bytes_mapped,
		(unsigned long long)c->bytes_copied, (unsigned long long)c->zc_calls,
		pct(c->bytes_mapped, c->bytes_mapped + c->bytes_copied), (unsigned long long)c->bytes_probed,
		pct(c->bytes_mapped, c->bytes_probed), (unsigned long long)c->api_calls,
		(unsigned long long)c->skip_runs);
	int first = 1;
	for (int i = 0; i < SEGFMT_R_COUNT; i++) {
		if (!c->fb_reads[i] && !c->fb_bytes[i])
			continue;
		fprintf(f, "%s\"%s\":{\"reads\":%llu,\"bytes\":%llu}", first ? "" : ",", segfmt_reason_names[i],
			(unsigned long long)c->fb_reads[i], (unsigned long long)c->fb_bytes[i]);
		first = 0;
	}
	fprintf(f, "}");
	if (braces)
		fputc('}', f);
}

/* One fd line of a report, computed once for every output format. */
struct fd_row {
	uint32_t slot;
	int fd;
	int open;
	char peer[80];
	struct segfmt_counters c;
};

/* Call sites with unmapped reads, most bytes first. */
static size_t top_callsites(const struct segview *v, const struct segfmt_callsite **out, size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; v->callsites && i < v->h->ncallsites; i++) {
		const struct segfmt_callsite *c = &v->callsites[i];
		if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != 2)
			continue;
		size_t at = n < max ? n++ : max;
		/* insertion into the sorted top list */
		while (at > 0 && out[at - 1]->bytes < c->bytes) {
			if (at < max)
				out[at] = out[at - 1];
			at--;
		}
		if (at < max)
			out[at] = c;
	}
	return n;
}


/* Copies a string from a segment, which may be unterminated. */
static void seg_str(char *dst, size_t cap, const char *src, size_t srccap)
{
	size_t n = strnlen(src, srccap);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

struct proc_view {
	const struct segview *v;
	int live;
	struct segfmt_counters totals;
	struct fd_row *rows;
	size_t nrows;
};

static void load_rows(struct proc_view *pv)
{
	const struct segview *v = pv->v;
	pv->rows = calloc(v->nslots ? v->nslots : 1, sizeof(*pv->rows));
	pv->nrows = 0;
	for (uint32_t s = 0; s < v->nslots; s++) {
		const struct segfmt_slot *sl = &v->slots[s];
		uint32_t st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
		if (st != SEGFMT_SLOT_OPEN && st != SEGFMT_SLOT_CLOSED)
			continue;
		struct fd_row *r = &pv->rows[pv->nrows++];
		r->slot = s;
		r->fd = sl->fd;
		snap(&r->c, &sl->c);
		peer_str(sl, r->peer, sizeof(r->peer));
		r->open = st == SEGFMT_SLOT_OPEN && pv->live && segread_fd_open(v->h->pid, sl->fd, sl->inode);
	}
}

/* What this kernel offers, asked directly: used when no process under the
 * shim got as far as asking (it read no TCP data). */
static int probe_kernel(void)
{
	struct kzc_info k;
	kzc_probe(&k);
	return k.supported;
}

/* The processes' own answer (a seccomp filter or container may differ
 * from what zcstat sees), else zcstat's. */
static int kernel_state(const struct seglist *l)
{
	int yes = 0, no = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint32_t k = __atomic_load_n(&l->v[i].h->kernel_zc, __ATOMIC_RELAXED);
		yes += k == 1;
		no += k == 2;
	}
	return yes ? 1 : no ? 0 : probe_kernel();
}

static const char *verdict_name(uint32_t v)
{
	return v == 1 ? "map" : v == 2 ? "copy" : "learning";
}

/* ZCSHIM_MODE=auto processes: what they measured, and whether zero-copy
 * receive pays on this host, in one line each. */
static void report_auto(FILE *f, const struct seglist *l, const struct proc_view *pv)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct segfmt_header *h = l->v[i].h;
		if (h->mode != 1)
			continue;
		double m = (double)h->auto_map_ns_per_mb / 1e6, c = (double)h->auto_copy_ns_per_mb / 1e6;
		fprintf(f, "auto, pid %d: %s", h->pid,
			h->auto_verdict == 1 ? "zero-copy receive pays on this host" :
			h->auto_verdict == 2 ? "zero-copy receive does not pay on this host (copying instead)" :
					       "still measuring");
		if (h->auto_map_ns_per_mb && h->auto_copy_ns_per_mb)
			fprintf(f, ": mapped reads %.3f ms CPU/MiB, copied %.3f ms/MiB (x%.2f)", m, c, c > 0 ? m / c : 0);
		if (pv[i].totals.bytes_probed)
			fprintf(f, "; %.1f%% of sampled traffic was mappable",
				pct(pv[i].totals.bytes_mapped, pv[i].totals.bytes_probed));
		else if (h->auto_verdict == 2)
			fprintf(f, "; no mapped read sampled (too short a run to pay for its first)");
		fputc('\n', f);
	}
}

/* Processes that installed a seccomp filter of their own: from then on
 * the shim made no call of its own, and counted nothing (sandbox.c). */
static void report_sandboxed(FILE *f, const struct seglist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		uint32_t s = __atomic_load_n(&l->v[i].h->sandboxed, __ATOMIC_RELAXED);
		if (s)
			fprintf(f, "seccomp, pid %d: the program installed %s; the shim passed every call "
				   "through from then on (its reads after that are not counted here)\n",
				l->v[i].h->pid, s == 2 ? "seccomp strict mode" : "a seccomp filter");
	}
}

static const char *sandboxed_name(uint32_t s)
{
	return s == 2 ? "\"strict\"" : s == 1 ? "\"filter\"" : "null";
}

static void report_json(FILE *f, const struct seglist *l, struct proc_view *pv, const struct segfmt_counters *all)
{
	int k = kernel_state(l);
	fprintf(f, "{\"version\":1,\"kernel_zerocopy\":%s,\"totals\":", k ? "true" : "false");
	json_counters(f, all, 1);
	fprintf(f, ",\"processes\":[");
	for (size_t i = 0; i < l->n; i++) {
		const struct segfmt_header *h = l->v[i].h;
		uint32_t hk = h->kernel_zc;
		fprintf(f, "%s{\"pid\":%d,\"ppid\":%d,\"command\":", i ? "," : "", h->pid, h->ppid);
		json_str(f, h->command);
		fprintf(f, ",\"alive\":%s,\"kernel_zerocopy\":%s,\"window\":%llu,\"min_read\":%llu,"
			   "\"slots_recycled\":%llu,\"mode\":\"%s\",\"seccomp_installed\":%s,",
			pv[i].live ? "true" : "false", hk == 1 ? "true" : hk == 2 ? "false" : "null",
			(unsigned long long)h->window_size, (unsigned long long)h->min_read,
			(unsigned long long)h->slots_recycled, h->mode == 1 ? "auto" : "map",
			sandboxed_name(h->sandboxed));
		if (h->mode == 1)
			fprintf(f, "\"auto\":{\"verdict\":\"%s\",\"map_ns_per_mib\":%llu,\"copy_ns_per_mib\":%llu,"
				   "\"from_host_estimates\":%s},",
				verdict_name(h->auto_verdict), (unsigned long long)h->auto_map_ns_per_mb,
				(unsigned long long)h->auto_copy_ns_per_mb, h->auto_prior ? "true" : "false");
		fprintf(f, "\"totals\":");
		json_counters(f, &pv[i].totals, 1);
		fprintf(f, ",\"fds\":[");
		for (size_t k = 0; k < pv[i].nrows; k++) {
			const struct fd_row *r = &pv[i].rows[k];
			fprintf(f, "%s{\"fd\":%d,\"peer\":\"%s\",\"open\":%s,", k ? "," : "", r->fd, r->peer,
				r->open ? "true" : "false");
			json_counters(f, &r->c, 0);
			fputc('}', f);
		}
		fprintf(f, "],\"callsites\":[");
		const struct segfmt_callsite *top[20];
		size_t nt = top_callsites(pv[i].v, top, 20);
		for (size_t k = 0; k < nt; k++) {
			char fn[80], mod[128];
			seg_str(fn, sizeof(fn), top[k]->function, sizeof(top[k]->function));
			seg_str(mod, sizeof(mod), top[k]->module, sizeof(top[k]->module));
			fprintf(f, "%s{\"function\":", k ? "," : "");
			json_str(f, fn);
			fprintf(f, ",\"module\":");
			json_str(f, mod);
			fprintf(f, ",\"offset\":%llu,\"function_offset\":%llu,\"reads\":%llu,\"bytes\":%llu,\"reason\":\"%s\"}",
				(unsigned long long)top[k]->offset, (unsigned long long)top[k]->fn_offset,
				(unsigned long long)top[k]->reads, (unsigned long long)top[k]->bytes,
				segfmt_reason_name(top[k]->reason));
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
}

static void mib(char *buf, size_t cap, uint64_t b)
{
	snprintf(buf, cap, "%.1f", (double)b / (1024.0 * 1024.0));
}

static void report_text(FILE *f, const struct seglist *l, struct proc_view *pv, const struct segfmt_counters *all)
{
	int k = kernel_state(l);
	uint64_t rx = all->bytes_mapped + all->bytes_copied;
	char a[32], b[32], c[32];
	mib(a, sizeof(a), rx);
	mib(b, sizeof(b), all->bytes_mapped);
	mib(c, sizeof(c), all->bytes_copied);
	fprintf(f, "zcstat: %zu process%s with the shim; kernel zero-copy receive: %s\n", l->n,
		l->n == 1 ? "" : "es", k ? "yes" : "NO (everything passed through)");
	fprintf(f, "total: %s MiB received in %llu reads: %s MiB mapped (%.2f%%), %s MiB copied\n", a,
		(unsigned long long)all->reads, b, pct(all->bytes_mapped, rx), c);
	int mr = main_reason(all);
	if (mr >= 0)
		fprintf(f, "main reason bytes were not mapped: %s\n", segfmt_reason_names[mr]);
	report_auto(f, l, pv);
	report_sandboxed(f, l);
	fprintf(f, "%7s %-20s %5s %-22s %-6s %9s %11s %11s %8s  %s\n", "PID", "COMMAND", "FD", "PEER", "STATE",
		"READS", "MAPPED_MiB", "COPIED_MiB", "MAPPED%", "FALLBACK");
	size_t quiet = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct segfmt_header *h = l->v[i].h;
		if (!pv[i].nrows && !pv[i].totals.reads) {
			quiet++;
			continue;
		}
		char cmd[21];
		memccpy(cmd, h->command, 0, sizeof(cmd) - 1);
		cmd[sizeof(cmd) - 1] = 0;
		int any = 0;
		for (size_t k = 0; k < pv[i].nrows; k++) {
			const struct fd_row *r = &pv[i].rows[k];
			mib(b, sizeof(b), r->c.bytes_mapped);
			mib(c, sizeof(c), r->c.bytes_copied);
			int why = main_reason(&r->c);
			fprintf(f, "%7d %-20s %5d %-22s %-6s %9llu %11s %11s %7.2f%%  %s\n", h->pid, cmd, r->fd, r->peer,
				r->open ? "open" : "closed", (unsigned long long)r->c.reads, b, c,
				pct(r->c.bytes_mapped, r->c.bytes_mapped + r->c.bytes_copied),
				why >= 0 ? segfmt_reason_names[why] : "-");
			any = 1;
		}
		if (!any)
			fprintf(f, "%7d %-20s %5s (no TCP reads)\n", h->pid, cmd, "-");
	}
	if (quiet)
		fprintf(f, "(%zu more process%s ran with the shim and read no TCP data)\n", quiet,
			quiet == 1 ? "" : "es");
	for (size_t i = 0; i < l->n; i++) {
		const struct segfmt_callsite *top[10];
		size_t nt = top_callsites(pv[i].v, top, 10);
		if (!nt)
			continue;
		fprintf(f, "top call sites of reads not fully mapped, pid %d:\n", l->v[i].h->pid);
		for (size_t k = 0; k < nt; k++) {
			char fn[80], mod[128];
			seg_str(fn, sizeof(fn), top[k]->function, sizeof(top[k]->function));
			seg_str(mod, sizeof(mod), top[k]->module, sizeof(top[k]->module));
			mib(b, sizeof(b), top[k]->bytes);
			fprintf(f, "  %9llu reads %9s MiB  %s+%#llx (%s+%#llx)  %s\n", (unsigned long long)top[k]->reads, b,
				fn, (unsigned long long)top[k]->fn_offset, mod, (unsigned long long)top[k]->offset,
				segfmt_reason_name(top[k]->reason));
		}
	}
}

static void report(FILE *f, const struct seglist *l, int json)
{
	struct proc_view *pv = calloc(l->n ? l->n : 1, sizeof(*pv));
	struct segfmt_counters all;
	memset(&all, 0, sizeof(all));
	for (size_t i = 0; i < l->n; i++) {
		pv[i].v = &l->v[i];
		pv[i].live = segread_live(&l->v[i]);
		segread_totals(&l->v[i], &pv[i].totals);
		load_rows(&pv[i]);
		sum(&all, &pv[i].totals);
	}
	if (json)
		report_json(f, l, pv, &all);
	else
		report_text(f, l, pv, &all);
	for (size_t i = 0; i < l->n; i++)
		free(pv[i].rows);
	free(pv);
}

/* ---- live views ------------------------------------------------------ */

/* The live processes as the Prometheus writer wants them. */
static struct zcprom_proc *prom_procs(const struct seglist *l)
{
	struct zcprom_proc *p = calloc(l->n ? l->n : 1, sizeof(*p));
	for (size_t i = 0; i < l->n; i++) {
		p[i].pid = l->v[i].h->pid;
		p[i].start = l->v[i].h->start_time;
		seg_str(p[i].command, sizeof(p[i].command), l->v[i].h->command, sizeof(l->v[i].h->command));
		segread_totals(&l->v[i], &p[i].c);
	}
	return p;
}

static int prom_kernel(const struct seglist *l)
{
	return l->n ? kernel_state(l) : probe_kernel();
}

/* zcstat export --textfile DIR: the exposition written to DIR/zcshim.prom
 * (write, then rename: node_exporter never reads half a file) every SECS,
 * COUNT times (0: until killed), exited processes folded into totals. */
static int export_mode(const char *textdir, double interval, long count)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64], final[PATH_MAX + 64];
	if (segs_stats_dir(dir, sizeof(dir)))
		return fprintf(stderr, "zcstat: no statistics directory\n"), 1;
	snprintf(final, sizeof(final), "%s/zcshim.prom", textdir);
	snprintf(tmp, sizeof(tmp), "%s/.zcshim.prom.%d", textdir, (int)getpid());
	struct zcprom_state st = { 0 };
	for (long k = 0; !count || k < count; k++) {
		struct seglist l = { 0 };
		segs_collect_live(dir, &l, 0);
		struct zcprom_proc *p = prom_procs(&l);
		zcprom_fold(&st, p, l.n);
		FILE *f = fopen(tmp, "w");
		if (!f)
			return fprintf(stderr, "zcstat: %s: %s\n", tmp, strerror(errno)), 1;
		zcprom_write(f, p, l.n, &st, prom_kernel(&l));
		if (fclose(f) || rename(tmp, final))
			return fprintf(stderr, "zcstat: %s: %s\n", final, strerror(errno)), unlink(tmp), 1;
		free(p);
		segs_free_list(&l);
		if (!count || k + 1 < count) {
			struct timespec ts = { (time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9) };
			nanosleep(&ts, NULL);
		}
	}
	free(st.seen);
	return 0;
}

static int list_mode(int json, int prometheus)
{
	char dir[PATH_MAX];
	if (segs_stats_dir(dir, sizeof(dir)))
		return fprintf(stderr, "zcstat: no statistics directory\n"), 1;
	struct seglist l = { 0 };
	segs_collect_live(dir, &l, 0);
	if (prometheus) {
		struct zcprom_proc *p = prom_procs(&l);
		zcprom_write(stdout, p, l.n, NULL, prom_kernel(&l));
		free(p);
	} else if (json) {
		report(stdout, &l, 1);
	} else {
		printf("%7s %-32s %7s %11s %11s %8s\n", "PID", "COMMAND", "TCP_FDS", "MAPPED_MiB", "COPIED_MiB",
		       "MAPPED%");
		for (size_t i = 0; i < l.n; i++) {
			struct proc_view pv = { .v = &l.v[i], .live = 1 };
			segread_totals(&l.v[i], &pv.totals);
			load_rows(&pv);
			int open = 0;
			for (size_t k = 0; k < pv.nrows; k++)
				open += pv.rows[k].open;
			char cmd[33], a[32], b[32];
			seg_str(cmd, sizeof(cmd), l.v[i].h->command, sizeof(l.v[i].h->command));
			mib(a, sizeof(a), pv.totals.bytes_mapped);
			mib(b, sizeof(b), pv.totals.bytes_copied);
			printf("%7d %-32s %7d %11s %11s %7.2f%%\n", l.v[i].h->pid, cmd, open, a, b,
			       pct(pv.totals.bytes_mapped, pv.totals.bytes_mapped + pv.totals.bytes_copied));
			free(pv.rows);
		}
		if (!l.n)
			printf("(no live process is running the shim)\n");
	}
	segs_free_list(&l);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int top_mode(int pid, double interval, long count, int deltas, int json)
{
	char dir[PATH_MAX];
	if (segs_stats_dir(dir, sizeof(dir)))
		return fprintf(stderr, "zcstat: no statistics directory\n"), 1;
	struct seglist l = { 0 };
	segs_collect_live(dir, &l, pid);
	if (!l.n) {
		fprintf(stderr, "zcstat: no live process %d running the shim (or not yours)\n", pid);
		return 1;
	}
	if (json) {
		report(stdout, &l, 1);
		segs_free_list(&l);
		return 0;
	}
	const struct segview *v = &l.v[l.n - 1];	/* the current image, if it exec'd */
	struct segfmt_counters *prev = calloc(v->h->nslots + 1, sizeof(*prev));
	double t0 = now_s();
	for (long it = 0; count <= 0 || it < count; it++) {
		if (it) {
			struct timespec ts = { (time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9) };
			nanosleep(&ts, NULL);	/* the refresh period itself */
		}
		if (!segread_live(v)) {
			printf("process %d has exited\n", pid);
			break;
		}
		double t1 = now_s(), dt = it ? t1 - t0 : 0;
		t0 = t1;
		struct proc_view pv = { .v = v, .live = 1 };
		load_rows(&pv);
		char cmd[41];
		seg_str(cmd, sizeof(cmd), v->h->command, sizeof(v->h->command));
		printf("%spid %d  %s  (%s, every %.1fs)\n", it ? "\n" : "", pid, cmd, deltas ? "deltas" : "totals",
		       interval);
		printf("%5s %-22s %-6s %9s %10s %10s %8s %9s  %s\n", "FD", "PEER", "STATE", "READS", "MAPPED_MB",
		       "COPIED_MB", "MAPPED%", "MB/s", "FALLBACK");
		for (size_t k = 0; k < pv.nrows; k++) {
			const struct fd_row *r = &pv.rows[k];
			struct segfmt_counters *p = &prev[r->slot];
			uint64_t dm = r->c.bytes_mapped - p->bytes_mapped, dc = r->c.bytes_copied - p->bytes_copied;
			uint64_t dr = r->c.reads - p->reads;
			double rate = dt > 0 ? (double)(dm + dc) / dt / 1e6 : 0;
			uint64_t m = deltas ? dm : r->c.bytes_mapped, c = deltas ? dc : r->c.bytes_copied;
			int why = main_reason(&r->c);
			char ratebuf[16] = "        -";	/* no interval yet */
			if (it)
				snprintf(ratebuf, sizeof(ratebuf), "%9.1f", rate);
			printf("%5d %-22s %-6s %9llu %10.1f %10.1f %7.2f%% %s  %s\n", r->fd, r->peer,
			       r->open ? "open" : "closed", (unsigned long long)(deltas ? dr : r->c.reads), (double)m / 1e6,
			       (double)c / 1e6, pct(m, m + c), ratebuf, why >= 0 ? segfmt_reason_names[why] : "-");
			*p = r->c;
		}
		if (!pv.nrows)
			printf("(no TCP reads yet)\n");
		fflush(stdout);
		free(pv.rows);
	}
	free(prev);
	segs_free_list(&l);
	return 0;
}

/* ---- run mode -------------------------------------------------------- */

static int run_and_report(char **cmd, int json, const char *outpath)
{
	struct seglist l = { 0 };
	int code;
	if (segs_run(cmd, NULL, &l, &code))
		return 127;
	FILE *f = stderr;
	if (outpath && !(f = fopen(outpath, "w"))) {
		fprintf(stderr, "zcstat: %s: %s\n", outpath, strerror(errno));
		f = stderr;
	}
	report(f, &l, json);
	if (f != stderr)
		fclose(f);
	segs_run_done(&l);
	return code;
}

/* A whole number in [lo, hi], or -1 (said on stderr). */
static long arg_long(const char *opt, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		fprintf(stderr, "zcstat: %s takes a number from %ld to %ld, not \"%s\"\n", opt, lo, hi, v);
		return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	int json = 0, list = 0, deltas = 0, pid = 0, prometheus = 0, c;
	const char *textfile = NULL;
	long count = 0;
	double interval = 1.0;
	const char *out = NULL;
	if (argc > 1 && !strcmp(argv[1], "doctor"))
		return doctor_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "export"))
		argc--, argv++;	/* export --textfile DIR: the options say it all */
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },	   { "output", required_argument, NULL, 'o' },
		{ "list", no_argument, NULL, 'l' },	   { "prometheus", no_argument, NULL, 'P' },
		{ "textfile", required_argument, NULL, 't' }, { "deltas", no_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },    { "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },  { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* "+": options end at CMD, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+o:ldp:i:c:h", longs, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'j': json = 1; break;
		case 'o': out = optarg; break;
		case 'l': list = 1; break;
		case 'P': prometheus = 1; break;
		case 't': textfile = optarg; break;
		case 'd': deltas = 1; break;
		case 'p':
			if ((pid = (int)arg_long("-p", optarg, 1, INT_MAX)) < 0)
				return 2;
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (end == optarg || *end || interval < 0.05 || interval > 3600) {
				fprintf(stderr, "zcstat: -i takes 0.05 to 3600 seconds, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'c':
			if ((count = arg_long("-c", optarg, 0, LONG_MAX)) < 0)
				return 2;
			break;
		case 'V': printf("zcstat %s\n", ZCSHIM_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (textfile)
		return export_mode(textfile, interval, count);
	if (list)
		return list_mode(json, prometheus);
	if (pid > 0)
		return top_mode(pid, interval, count, deltas, json);
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	return run_and_report(argv + optind, json, out);
}
