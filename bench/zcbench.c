/*
 * zcbench - the shim against plain recv(), side by side, in one run.
 *
 *   zcbench [--json] [--bytes 256M] [--runs 5] [--filter SUBSTR]
 *           [--read-size N] [--sender plain|zc|zc4108] [--no-syscalls]
 *           [--no-pin] [--no-floor] [--no-auto] [--ab-runs 31]
 *
 * Every scenario runs an unmodified receiver (build/helpers/zcrecv, or cat reading
 * a bash /dev/tcp socket) against a test sender (build/helpers/zcsend: plain send,
 * MSG_ZEROCOPY at the default MSS, or at MSS 4108), alternating without and
 * with the shim (A B A B ...) for --runs pairs, and reports medians:
 * throughput (MB/s over the receiver's wall time), receiver CPU per MB
 * (user+sys from wait4), their shim/plain ratios, the min-max spread of the
 * throughput ratio over the pairs, the mapped share (from the shim's own
 * counters), and system calls per MB (counted in one extra, untimed run of
 * each under `strace -c -f`).  Also: 64-byte ping-pong through an echo
 * server under the shim (round-trip p50/p99), 1,000 concurrent bulk
 * connections on one epoll receiver (aggregate throughput, RssFile peak),
 * and single-thread memcpy bandwidth, the ceiling for any receiver that
 * must copy.
 *
 * The sender is pinned to CPU 0 and every receiver to CPU 1 (--no-pin: let
 * the scheduler place them; on 2 vCPUs ratios then swing 2-3x); the
 * sender's CPU per MB is reported beside the receiver's.  Each pair also
 * runs the shim in ZCSHIM_MODE=auto, and, for every mapped scenario, the
 * floor (build/zcfloor: bare TCP_ZEROCOPY_RECEIVE through the shim's own
 * window code, the same batch size, the pages memcpy'd out once; and the
 * same releasing them untouched): shim/floor is what the shim adds to
 * what the kernel's page-table work and one copy cost on this machine.
 *
 * The "queued" rows measure what streaming pairs cannot resolve on a VM
 * (single pairs there swing +-40%): the receiver asks for 16 MiB at a
 * time (zcsend --pull), waits until it is all queued, then drains it,
 * alternating blocks of 256 KiB between the hooked read() and a raw
 * syscall(SYS_read) that no hook sees (zcrecv --ab).  The ratio of their
 * CPU time per byte, in the run under the shim over the same ratio in a
 * run without it, is the shim's cost against plain recv() with the
 * sender's work, drift and the VM's noise falling on both halves alike.
 * --ab-runs such triples (without, map, auto) per row.
 *
 * Run from the repository (it finds build/ beside itself).  Preconditions:
 * loopback, the helpers built (`make bench` does both).  Between two hosts,
 * see docs/benchmarks.md.
 */
#define _GNU_SOURCE
#ifndef ZCSHIM_VERSION
#define ZCSHIM_VERSION "unknown"
#endif
#include "segread.h"
#include "size.h"

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define AB_MAX 256	/* --ab-runs at most */
static char bindir[PATH_MAX], lib[PATH_MAX + 32], statsdir[64];
static int runs = 5, want_json, count_syscalls = 1, pin = 1, want_floor = 1, want_auto = 1, ab_runs = 31;
static const char *filter;
static unsigned long long nbytes = 256ull << 20;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double *c = malloc((size_t)n * sizeof(*c));
	memcpy(c, v, (size_t)n * sizeof(*c));
	qsort(c, (size_t)n, sizeof(*c), cmp_d);
	double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

/* ---- processes ---- */

/* Pins the calling process (a child about to exec) to one CPU, when
 * pinning is on and the machine has more than one. */
static void pin_to(int cpu)
{
	if (!pin || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* CPU seconds used so far by another process (all its threads). */
static double proc_cpu(pid_t pid)
{
	clockid_t c;
	struct timespec t;
	if (clock_getcpuclockid(pid, &c) || clock_gettime(c, &t))
		return 0;
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct sender {
	pid_t pid;
	int port;
};

static void start_sender_as(struct sender *s, const char *mode, int mss, const char *bytes, int pull)
{
	int p[2];
	if (pipe(p))
		exit(1);
	s->pid = fork();
	if (!s->pid) {
		pin_to(0);
		dup2(p[1], 1);
		close(p[0]);
		char path[PATH_MAX + 16], mssbuf[16];
		snprintf(path, sizeof(path), "%s/helpers/zcsend", bindir);
		snprintf(mssbuf, sizeof(mssbuf), "%d", mss);
		execl(path, path, "--bytes", bytes, "--mode", mode, "--mss", mssbuf, "--serve-forever",
		      pull == 1 ? "--pull" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char line[64] = { 0 };
	size_t n = 0;
	while (n < sizeof(line) - 1 && read(p[0], line + n, 1) == 1 && line[n] != '\n')
		n++;
	close(p[0]);
	if (sscanf(line, "PORT %d", &s->port) != 1) {
		fprintf(stderr, "zcbench: sender did not start\n");
		exit(1);
	}
}

static void start_sender(struct sender *s, const char *mode, int mss, const char *bytes)
{
	start_sender_as(s, mode, mss, bytes, 0);
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

struct result {
	double secs, cpu, sender_cpu, mapped_pct;
	char out[256];
};

/* RUN_OFF: a program linked with the library, its hooks switched off
 * (ZCSHIM_DISABLE): the plain baseline for zcapi and zcsink. */
enum { RUN_PLAIN, RUN_SHIM, RUN_AUTO, RUN_OFF };

/* Runs argv (under the shim for RUN_SHIM, in ZCSHIM_MODE=auto for
 * RUN_AUTO), pinned to CPU 1, waits, fills wall time and CPU; the CPU the
 * sender (sender_pid, 0: none) used meanwhile too. */
/* Where the receiver is a server (zcrecv --accept): the client's argv,
 * zcsend first, without --connect PORT (run_receiver adds it). */
static const char *client_argv[24];

static int run_receiver(char *const argv[], int how, struct result *r, const char *strace_out, pid_t sender_pid)
{
	int shim = how == RUN_SHIM || how == RUN_AUTO;
	double s0 = sender_pid ? proc_cpu(sender_pid) : 0;
	int p[2];
	if (pipe(p))
		return -1;
	double t0 = now();
	pid_t pid = fork();
	if (!pid) {
		pin_to(1);
		dup2(p[1], 1);
		close(p[0]);
		if (shim) {
			setenv("LD_PRELOAD", lib, 1);
			setenv("ZCSHIM_STATS_DIR", statsdir, 1);
			setenv("ZCSHIM_SESSION", "zcbench", 1);
			setenv("ZCSHIM_MODE", how == RUN_AUTO ? "auto" : "map", 1);
		}
		if (how == RUN_OFF)
			setenv("ZCSHIM_DISABLE", "1", 1);
		if (strace_out) {
			char *sv[32] = { "strace", "-f", "-c", "-o", (char *)strace_out };
			int k = 5;
			for (int i = 0; argv[i] && k < 31; i++)
				sv[k++] = argv[i];
			sv[k] = NULL;
			execvp("strace", sv);
			_exit(127);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t k;
	pid_t client = 0;
	if (client_argv[0]) {
		/* A server receiver: its first line is "PORT p"; then the
		 * client (on the sender's CPU) connects to it. */
		while (n < sizeof(r->out) - 1 && read(p[0], r->out + n, 1) == 1 && r->out[n] != '\n')
			n++;
		r->out[n] = 0;
		int port = 0;
		if (sscanf(r->out, "PORT %d", &port) == 1 && (client = fork()) == 0) {
			char portbuf[16], *cv[24];
			snprintf(portbuf, sizeof(portbuf), "%d", port);
			int c = 0;
			cv[c++] = (char *)client_argv[0];
			cv[c++] = "--connect";
			cv[c++] = portbuf;
			for (int i = 1; client_argv[i] && c < 23; i++)
				cv[c++] = (char *)client_argv[i];
			cv[c] = NULL;
			pin_to(0);
			execv(cv[0], cv);
			_exit(127);
		}
		n = 0;
	}
	while ((k = read(p[0], r->out + n, sizeof(r->out) - 1 - n)) > 0)
		n += (size_t)k;
	r->out[n] = 0;
	close(p[0]);
	if (client > 0)
		waitpid(client, NULL, 0);
	int st;
	struct rusage ru;
	wait4(pid, &st, 0, &ru);
	r->secs = now() - t0;
	r->sender_cpu = sender_pid ? proc_cpu(sender_pid) - s0 : 0;
	r->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		 (double)ru.ru_stime.tv_usec / 1e6;
	r->mapped_pct = -1;
	if (shim) {
		/* the shim's own counters, then clean up (the segments only: auto's
		 * estimates stay for the next process, as on any host) */
		DIR *d = opendir(statsdir);
		struct dirent *de;
		uint64_t m = 0, c = 0;
		while (d && (de = readdir(d))) {
			size_t len = strlen(de->d_name);
			if (de->d_name[0] == '.' || len < 4 || strcmp(de->d_name + len - 4, ".zcs"))
				continue;
			char path[PATH_MAX], err[128];
			snprintf(path, sizeof(path), "%s/%s", statsdir, de->d_name);
			struct segview v;
			if (!segread_open(path, -1, &v, err, sizeof(err))) {
				struct segfmt_counters t;
				segread_totals(&v, &t);
				m += t.bytes_mapped;
				c += t.bytes_copied;
				segread_close(&v);
			}
			unlink(path);
		}
		if (d)
			closedir(d);
		r->mapped_pct = m + c ? 100.0 * (double)m / (double)(m + c) : 0;
	}
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

/* Calls in a `strace -c` summary's total line. */
static long strace_calls(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long calls = -1;
	while (f && fgets(line, sizeof(line), f)) {
		double pct, secs;
		long usecs, c, errs;
		if (strstr(line, "total") &&
		    (sscanf(line, "%lf %lf %ld %ld %ld", &pct, &secs, &usecs, &c, &errs) >= 4 ||
		     sscanf(line, "%lf %lf %ld", &pct, &secs, &c) == 3))
			calls = c;
	}
	if (f)
		fclose(f);
	unlink(path);
	return calls;
}

/* ---- scenarios ---- */

struct row {
	char name[64];
	double plain_mbs, shim_mbs, ratio, plain_cpu, shim_cpu, cpu_ratio, mapped, spread_lo, spread_hi;
	double sys_plain, sys_shim;     /* syscalls per MB */
	double send_plain, send_shim;   /* sender CPU ms per MB */
	double auto_ratio, auto_mapped; /* ZCSHIM_MODE=auto: CPU / plain, mapped % */
	double floor_ratio, floor0_ratio, shim_floor;  /* floor / plain (copy, untouched), shim / floor */
	double floor_mapped;            /* % of its bytes the floor mapped (A/B floor rows) */
	double p50_plain, p50_shim, p99_plain, p99_shim;        /* ping-pong, microseconds */
	long rss_peak_kb;
	int kind;                       /* 0 bulk, 1 ping-pong, 2 many, 3 queued A/B, 4 queued floor A/B */
};

static struct row rows[64];
static int nrows;

/* A size zcbench itself wrote ("64K", "1M"): 0 if it is not one. */
static unsigned long long parse_bytes(const char *v)
{
	uint64_t n = 0;
	return size_parse(v, 0, UINT64_MAX, &n) ? 0 : n;
}

static int selected(const char *name)
{
	return !filter || strstr(name, filter);
}

static void build_argv(char **argv, const char *receiver, int port, const char *size)
{
	static char portbuf[16], path[PATH_MAX + 16], script[256];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	if (!strcmp(receiver, "cat")) {
		snprintf(script, sizeof(script), "exec 3<>/dev/tcp/127.0.0.1/%d; exec cat <&3 >/dev/null", port);
		argv[0] = "bash";
		argv[1] = "-c";
		argv[2] = script;
		argv[3] = NULL;
		return;
	}
	snprintf(path, sizeof(path), "%s/helpers/zcrecv", bindir);
	argv[0] = path;
	argv[1] = "--port";
	argv[2] = portbuf;
	argv[3] = "--size";
	argv[4] = (char *)size;
	argv[5] = "--no-check";
	argv[6] = NULL;
}

/* Medians over the pairs: throughput (tp, ts), CPU (cp, cs), their
 * ratios, mapped share, and the spread of the throughput ratio. */
static void summarise(struct row *w, double *tp, double *ts, double *cp, double *cs, double *ratio, double mapped)
{
	w->plain_mbs = median(tp, runs);
	w->shim_mbs = median(ts, runs);
	w->ratio = median(ratio, runs);
	w->plain_cpu = median(cp, runs);
	w->shim_cpu = median(cs, runs);
	double cr[64];
	for (int i = 0; i < runs; i++)
		cr[i] = cs[i] / cp[i];
	w->cpu_ratio = median(cr, runs);
	w->mapped = mapped / runs;
	w->auto_ratio = w->auto_mapped = w->floor_ratio = w->floor0_ratio = w->shim_floor = -1;
	w->send_plain = w->send_shim = 0;
	qsort(ratio, (size_t)runs, sizeof(double), cmp_d);
	w->spread_lo = ratio[0];
	w->spread_hi = ratio[runs - 1];
}

static void floor_argv(char **argv, int port, const char *size, const char *touch)
{
	static char portbuf[16], path[PATH_MAX + 16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	snprintf(path, sizeof(path), "%s/zcfloor", bindir);
	char *v[] = { path, "--port", portbuf, "--size", (char *)size, "--touch", (char *)touch, NULL };
	memcpy(argv, v, sizeof(v));
}

/* One pair (plain, shim) plus auto and the floors when asked: CPU per MB
 * into the arrays at i. */
struct pair_cpu {
	double tp[64], ts[64], cp[64], cs[64], ratio[64], sp[64], ss[64];
	double ca[64], cf[64], cf0[64], mapped, amapped;
};

static void run_or_die(const char *name, char *const *argv, int how, struct result *r, pid_t spid)
{
	if (run_receiver(argv, how, r, NULL, spid)) {
		fprintf(stderr, "zcbench: %s: receiver failed: %s\n", name, r->out);
		exit(1);
	}
}

static void one_pair(struct row *w, struct pair_cpu *c, int i, char *const *argv, char *const *fl,
		     char *const *fl0, pid_t spid)
{
	double mb = (double)nbytes / 1e6;
	struct result a, b, r;
	run_or_die(w->name, argv, RUN_PLAIN, &a, spid);
	run_or_die(w->name, argv, RUN_SHIM, &b, spid);
	c->tp[i] = mb / a.secs;
	c->ts[i] = mb / b.secs;
	c->cp[i] = a.cpu * 1e3 / mb;	/* ms of CPU per MB */
	c->cs[i] = b.cpu * 1e3 / mb;
	c->sp[i] = a.sender_cpu * 1e3 / mb;
	c->ss[i] = b.sender_cpu * 1e3 / mb;
	c->ratio[i] = c->ts[i] / c->tp[i];
	c->mapped += b.mapped_pct;
	c->ca[i] = c->cf[i] = c->cf0[i] = -1;
	if (want_auto) {
		run_or_die(w->name, argv, RUN_AUTO, &r, spid);
		c->ca[i] = r.cpu * 1e3 / mb / c->cp[i];
		c->amapped += r.mapped_pct;
	}
	if (fl) {
		run_or_die(w->name, fl, RUN_PLAIN, &r, spid);
		c->cf[i] = r.cpu * 1e3 / mb;
		run_or_die(w->name, fl0, RUN_PLAIN, &r, spid);
		c->cf0[i] = r.cpu * 1e3 / mb;
	}
}

/* Medians of per-pair ratios x[i] / y[i] (y NULL: of x itself). */
static double median_ratio(const double *x, const double *y)
{
	double v[64];
	for (int i = 0; i < runs; i++)
		v[i] = y ? x[i] / y[i] : x[i];
	return x[0] < 0 ? -1 : median(v, runs);
}

static void bulk(const char *sender_name, const char *mode, int mss, const char *receiver, const char *size)
{
	struct row *w = &rows[nrows];
	snprintf(w->name, sizeof(w->name), "bulk %s %s %s", sender_name, receiver, size);
	if (!selected(w->name))
		return;
	char bytes[32];
	snprintf(bytes, sizeof(bytes), "%llu", nbytes);
	struct sender s;
	start_sender(&s, mode, mss, bytes);
	static struct pair_cpu c;
	memset(&c, 0, sizeof(c));
	char *argv[8], *fl[8], *fl0[8];
	build_argv(argv, receiver, s.port, size);
	/* The floor, where the shim maps: the same batch as the read size
	 * (cat reads 128K). */
	int mapped_row = strcmp(mode, "plain") && parse_bytes(size) >= (64u << 10) && want_floor;
	if (mapped_row) {
		floor_argv(fl, s.port, size, "copy");
		floor_argv(fl0, s.port, size, "none");
	}
	for (int i = 0; i < runs; i++)
		one_pair(w, &c, i, argv, mapped_row ? fl : NULL, mapped_row ? fl0 : NULL, s.pid);
	summarise(w, c.tp, c.ts, c.cp, c.cs, c.ratio, c.mapped);
	w->send_plain = median(c.sp, runs);
	w->send_shim = median(c.ss, runs);
	w->auto_ratio = median_ratio(c.ca, NULL);
	w->auto_mapped = want_auto ? c.amapped / runs : -1;
	w->floor_ratio = mapped_row ? median_ratio(c.cf, c.cp) : -1;
	w->floor0_ratio = mapped_row ? median_ratio(c.cf0, c.cp) : -1;
	w->shim_floor = mapped_row ? median_ratio(c.cs, c.cf) : -1;
	w->sys_plain = w->sys_shim = -1;
	if (count_syscalls) {
		double mb = (double)nbytes / 1e6;
		struct result r;
		char out[64];
		snprintf(out, sizeof(out), "/tmp/zcbench-strace.%d", (int)getpid());
		if (!run_receiver(argv, RUN_PLAIN, &r, out, 0))
			w->sys_plain = (double)strace_calls(out) / mb;
		if (!run_receiver(argv, RUN_SHIM, &r, out, 0))
			w->sys_shim = (double)strace_calls(out) / mb;
	}
	stop(s.pid);
	w->kind = 0;
	nrows++;
}

/* ---- the in-place API: zcapi sum and zcsink --------------------------- */

/* Pairs of (plain argv under RUN_OFF, in-place argv under RUN_SHIM), and
 * the floor argv when given, against one sender. */
static void linked_row(struct row *w, const char *mode, int mss, char *const *pa, char *const *sa, char *const *fa,
		       char *portbuf)
{
	char bytes[32];
	snprintf(bytes, sizeof(bytes), "%llu", nbytes);
	struct sender s;
	start_sender(&s, mode, mss, bytes);
	snprintf(portbuf, 64, "127.0.0.1:%d", s.port);
	static struct pair_cpu c;
	memset(&c, 0, sizeof(c));
	double mb = (double)nbytes / 1e6;
	for (int i = 0; i < runs; i++) {
		struct result a, b, f;
		run_or_die(w->name, pa, RUN_OFF, &a, s.pid);
		run_or_die(w->name, sa, RUN_SHIM, &b, s.pid);
		c.tp[i] = mb / a.secs;
		c.ts[i] = mb / b.secs;
		c.cp[i] = a.cpu * 1e3 / mb;
		c.cs[i] = b.cpu * 1e3 / mb;
		c.sp[i] = a.sender_cpu * 1e3 / mb;
		c.ss[i] = b.sender_cpu * 1e3 / mb;
		c.ratio[i] = c.ts[i] / c.tp[i];
		c.mapped += b.mapped_pct;
		c.cf[i] = -1;
		if (fa) {
			run_or_die(w->name, fa, RUN_PLAIN, &f, s.pid);
			c.cf[i] = f.cpu * 1e3 / mb;
		}
	}
	summarise(w, c.tp, c.ts, c.cp, c.cs, c.ratio, c.mapped);
	w->send_plain = median(c.sp, runs);
	w->send_shim = median(c.ss, runs);
	w->floor_ratio = fa ? median_ratio(c.cf, c.cp) : -1;
	w->shim_floor = fa ? median_ratio(c.cs, c.cf) : -1;
	w->sys_plain = w->sys_shim = -1;
	stop(s.pid);
	w->kind = 0;
	nrows++;
}

/* zcapi sum (in place) vs the same sum over recv()'d buffers, floor: a bare
 * mapping loop that sums in place.  The sender's port goes into the argv
 * through portbuf ("127.0.0.1:P"; zcapi wants P alone). */
static void api_rows(const char *sender_name, const char *mode, int mss, const char *size)
{
	struct row *w = &rows[nrows];
	snprintf(w->name, sizeof(w->name), "api %s sum %s", sender_name, size);
	if (!selected(w->name))
		return;
	static char api[PATH_MAX + 16], flr[PATH_MAX + 16], hostport[64], *port;
	snprintf(api, sizeof(api), "%s/helpers/zcapi", bindir);
	snprintf(flr, sizeof(flr), "%s/zcfloor", bindir);
	port = hostport + 10;	/* after "127.0.0.1:", filled by linked_row */
	char *pa[] = { api, "--plain", "sum", "--port", port, "--max", (char *)size, NULL };
	char *sa[] = { api, "sum", "--port", port, "--max", (char *)size, NULL };
	char *fa[] = { flr, "--port", port, "--size", (char *)size, "--touch", "sum", NULL };
	linked_row(w, mode, mss, pa, sa, fa, hostport);
}

/* zcsink (write from the borrowed pages) vs recv+write of the same buffer. */
static void sink_rows(const char *sender_name, const char *mode, int mss, const char *size, const char *dest)
{
	struct row *w = &rows[nrows];
	snprintf(w->name, sizeof(w->name), "zcsink %s %s %s", sender_name, size,
		 strcmp(dest, "/dev/null") ? "file" : "null");
	if (!selected(w->name))
		return;
	static char sink[PATH_MAX + 16], hostport[64];
	snprintf(sink, sizeof(sink), "%s/zcsink", bindir);
	char *pa[] = { sink, "--copy", "-q", "--connect", hostport, "--size", (char *)size, "-o", (char *)dest, NULL };
	char *sa[] = { sink, "-q", "--connect", hostport, "--size", (char *)size, "-o", (char *)dest, NULL };
	linked_row(w, mode, mss, pa, sa, NULL, hostport);
}

/* ---- queued: in-process A/B against a raw system call ---------------- */

/* (hooked ns/byte) / (raw ns/byte) of one zcrecv --ab run; -1 if absent. */
static double ab_ratio(const char *out)
{
	const char *k[] = { "ab_hooked_ns=", "ab_hooked_bytes=", "ab_raw_ns=", "ab_raw_bytes=" };
	double v[4];
	for (int i = 0; i < 4; i++) {
		const char *q = strstr(out, k[i]);
		if (!q)
			return -1;
		v[i] = atof(q + strlen(k[i]));
	}
	return v[1] > 0 && v[2] > 0 && v[3] > 0 ? (v[0] / v[1]) / (v[2] / v[3]) : -1;
}

/* The A/B runs of one row (zcrecv --ab, under argv): without the shim,
 * map and auto each ab_runs times, medians of (hooked/raw under the shim)
 * over (hooked/raw without it). */
static void ab_rows(struct row *w, char *const *argv, pid_t spid);

/* The next row, named, or NULL where --filter leaves it out. */
static struct row *row_named(const char *fmt, ...)
{
	struct row *w = &rows[nrows];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->name, sizeof(w->name), fmt, ap);
	va_end(ap);
	return selected(w->name) ? w : NULL;
}

/* zcrecv --port P against a sender of this kind (zcsend --pull when pull
 * is 1), with the row's own arguments after them; ab_rows. */
static void ab_against_sender(struct row *w, const char *mode, int mss, const char *bytes, int pull,
			      const char *const *args)
{
	static char path[PATH_MAX + 16], portbuf[16];
	struct sender s;
	start_sender_as(&s, mode, mss, bytes, pull);
	snprintf(path, sizeof(path), "%s/helpers/zcrecv", bindir);
	snprintf(portbuf, sizeof(portbuf), "%d", s.port);
	char *argv[16] = { path, "--port", portbuf };
	for (int i = 0; args[i] && i < 12; i++)
		argv[3 + i] = (char *)args[i];
	ab_rows(w, argv, s.pid);
}

static void queued(const char *sender_name, const char *mode, int mss, const char *size)
{
	struct row *w = row_named("queued %s zcrecv %s", sender_name, size);
	if (!w)
		return;
	char bytes[32];
	snprintf(bytes, sizeof(bytes), "%llu", nbytes);
	const char *args[] = { "--size", size, "--no-check", "--pull", "16M", "--ab", NULL };
	ab_against_sender(w, mode, mss, bytes, 1, args);
}

/* The shim against the floor in one receiver (zcfloor --pull --ab):
 * blocks of read() -- the shim mapping -- and of the floor's own calls in
 * turn, on one queued stream.  Under the shim, hooked/raw is shim/floor;
 * without it, raw/hooked is floor/plain.  Medians over --ab-runs pairs. */
static void floor_ab_rows(struct row *w, char *const *argv, pid_t spid);

static void queued_floor(const char *sender_name, const char *mode, int mss, const char *size)
{
	struct row *w = row_named("queued %s floor %s", sender_name, size);
	if (!w)
		return;
	static char path[PATH_MAX + 16], portbuf[16], bytes[32], sizebuf[16];
	snprintf(bytes, sizeof(bytes), "%llu", nbytes);
	struct sender snd;
	start_sender_as(&snd, mode, mss, bytes, 1);
	snprintf(path, sizeof(path), "%s/zcfloor", bindir);
	snprintf(portbuf, sizeof(portbuf), "%d", snd.port);
	snprintf(sizebuf, sizeof(sizebuf), "%s", size);
	char *argv[] = { path, "--port", portbuf, "--size", sizebuf, "--pull", "16M", "--ab", NULL };
	floor_ab_rows(w, argv, snd.pid);
}

/* The same for N sequential connections of SIZE bytes each (zcfloor
 * --seq --ab: libc's socket-to-close against the floor's raw calls). */
static void conns_floor(const char *sender_name, const char *mode, int mss, const char *size, int n)
{
	struct row *w = row_named("conns %s %dx%s floor", sender_name, n, size);
	if (!w)
		return;
	static char path[PATH_MAX + 16], portbuf[16], nbuf[16];
	struct sender snd;
	start_sender_as(&snd, mode, mss, size, 2);
	snprintf(path, sizeof(path), "%s/zcfloor", bindir);
	snprintf(portbuf, sizeof(portbuf), "%d", snd.port);
	snprintf(nbuf, sizeof(nbuf), "%d", n);
	char *argv[] = { path, "--port", portbuf, "--size", "256K", "--seq", nbuf, "--ab", NULL };
	floor_ab_rows(w, argv, snd.pid);
}

/* The median of an A/B row's ab_runs values in v; their least and
 * greatest are the row's spread (v is left sorted). */
static double ab_median(double *v, struct row *w)
{
	double m = median(v, ab_runs);
	qsort(v, (size_t)ab_runs, sizeof(double), cmp_d);
	w->spread_lo = v[0];
	w->spread_hi = v[ab_runs - 1];
	return m;
}

/* The share of its bytes the floor mapped in one zcfloor --ab run, %. */
static double floor_mapped_pct(const char *out)
{
	const char *b = strstr(out, "ab_raw_bytes="), *m = strstr(out, "ab_raw_mapped=");
	double bytes = b ? atof(b + strlen("ab_raw_bytes=")) : 0;
	return m && bytes > 0 ? 100.0 * atof(m + strlen("ab_raw_mapped=")) / bytes : 0;
}

static void floor_ab_rows(struct row *w, char *const *argv, pid_t spid)
{
	double sf[AB_MAX], fp[AB_MAX], mapped = 0, fmapped = 0;
	for (int i = 0; i < ab_runs; i++) {
		struct result a, b;
		run_or_die(w->name, argv, RUN_PLAIN, &a, 0);
		run_or_die(w->name, argv, RUN_SHIM, &b, 0);
		sf[i] = ab_ratio(b.out);
		fp[i] = 1.0 / ab_ratio(a.out);
		mapped += b.mapped_pct;
		fmapped += floor_mapped_pct(b.out);
	}
	stop(spid);
	w->shim_floor = ab_median(sf, w);
	w->floor_ratio = median(fp, ab_runs);
	w->mapped = mapped / ab_runs;
	w->floor_mapped = fmapped / ab_runs;
	w->cpu_ratio = w->auto_ratio = w->auto_mapped = w->floor0_ratio = w->sys_plain = w->sys_shim = -1;
	w->kind = 4;
	nrows++;
}

/* Sequential short connections, each SIZE bytes, made and read by one
 * client (zcrecv --seq --ab: libc's calls against raw system calls, per
 * connection, each connection's data all queued before its reads). */
static void conns(const char *sender_name, const char *mode, int mss, const char *size, int n)
{
	struct row *w = row_named("conns %s %dx%s", sender_name, n, size);
	if (!w)
		return;
	char nbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%d", n);
	const char *args[] = { "--size", "256K", "--no-check", "--seq", nbuf, "--ab", NULL };
	ab_against_sender(w, mode, mss, size, 2, args);
}

/* A server accepting N short connections one after another, each SIZE
 * bytes from a client (zcsend --connect) on the sender's CPU: zcrecv
 * --accept --ab, libc's accept/read/close against raw system calls. */
static void server_conns(const char *sender_name, const char *mode, int mss, const char *size, int n)
{
	struct row *w = row_named("server %s %dx%s", sender_name, n, size);
	if (!w)
		return;
	static char path[PATH_MAX + 16], spath[PATH_MAX + 16], nbuf[16], mssbuf[16], sizebuf[16];
	snprintf(path, sizeof(path), "%s/helpers/zcrecv", bindir);
	snprintf(spath, sizeof(spath), "%s/helpers/zcsend", bindir);
	snprintf(nbuf, sizeof(nbuf), "%d", n);
	snprintf(mssbuf, sizeof(mssbuf), "%d", mss);
	snprintf(sizebuf, sizeof(sizebuf), "%s", size);
	const char *cv[] = { spath, "--conns", nbuf, "--bytes", sizebuf, "--mode", mode, "--mss", mssbuf, NULL };
	memcpy(client_argv, cv, sizeof(cv));
	char *argv[] = { path, "--accept", nbuf, "--size", "256K", "--no-check", "--mss", mssbuf, "--ab", NULL };
	ab_rows(w, argv, 0);
	client_argv[0] = NULL;
}

static void ab_rows(struct row *w, char *const *argv, pid_t spid)
{
	double rs[AB_MAX], ra[AB_MAX], mapped = 0, amapped = 0;
	for (int i = 0; i < ab_runs; i++) {
		struct result a, b, c;
		run_or_die(w->name, argv, RUN_PLAIN, &a, 0);
		run_or_die(w->name, argv, RUN_SHIM, &b, 0);
		run_or_die(w->name, argv, RUN_AUTO, &c, 0);
		double base = ab_ratio(a.out);
		rs[i] = ab_ratio(b.out) / base;
		ra[i] = ab_ratio(c.out) / base;
		mapped += b.mapped_pct;
		amapped += c.mapped_pct;
	}
	if (spid)
		stop(spid);
	w->cpu_ratio = ab_median(rs, w);
	w->auto_ratio = median(ra, ab_runs);
	w->mapped = mapped / ab_runs;
	w->auto_mapped = amapped / ab_runs;
	w->floor_ratio = w->floor0_ratio = w->shim_floor = w->sys_plain = w->sys_shim = -1;
	w->kind = 3;
	nrows++;
}

static void pingpong(void)
{
	struct row *w = row_named("ping-pong 64B");
	if (!w)
		return;
	enum { ROUNDS = 20000 };
	static double lat[2][64 * ROUNDS / 8];
	double cpu[2][64], p50[2][64], p99[2][64];
	for (int i = 0; i < runs; i++) {
		for (int shim = 0; shim <= 1; shim++) {
			int p[2];
			if (pipe(p))
				exit(1);
			pid_t pid = fork();
			if (!pid) {
				dup2(p[1], 1);
				close(p[0]);
				if (shim) {
					setenv("LD_PRELOAD", lib, 1);
					setenv("ZCSHIM_STATS_DIR", statsdir, 1);
				}
				char path[PATH_MAX + 16];
				snprintf(path, sizeof(path), "%s/helpers/zcecho", bindir);
				execl(path, path, "server", "blocking", "--size", "64K", (char *)NULL);
				_exit(127);
			}
			close(p[1]);
			char line[64] = { 0 };
			size_t n = 0;
			while (n < sizeof(line) - 1 && read(p[0], line + n, 1) == 1 && line[n] != '\n')
				n++;
			int port = 0;
			sscanf(line, "PORT %d", &port);
			int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
						 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
				exit(1);
			char msg[64] = { 1 }, back[64];
			double *l = lat[shim];
			for (int k = 0; k < ROUNDS; k++) {
				double t0 = now();
				if (write(fd, msg, 64) != 64 || recv(fd, back, 64, MSG_WAITALL) != 64)
					exit(1);
				l[k] = (now() - t0) * 1e6;
			}
			close(fd);
			struct rusage ru;
			int st;
			char rest[128];
			while (read(p[0], rest, sizeof(rest)) > 0)
				;
			close(p[0]);
			wait4(pid, &st, 0, &ru);
			cpu[shim][i] = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
				       (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
			qsort(l, ROUNDS, sizeof(double), cmp_d);
			p50[shim][i] = l[ROUNDS / 2];
			p99[shim][i] = l[ROUNDS * 99 / 100];
		}
	}
	w->p50_plain = median(p50[0], runs);
	w->p50_shim = median(p50[1], runs);
	w->p99_plain = median(p99[0], runs);
	w->p99_shim = median(p99[1], runs);
	double r50[64], rc[64];
	for (int i = 0; i < runs; i++) {
		r50[i] = p50[1][i] / p50[0][i];
		rc[i] = cpu[1][i] / cpu[0][i];
	}
	w->ratio = median(r50, runs);
	w->cpu_ratio = median(rc, runs);
	w->plain_cpu = median(cpu[0], runs) / ROUNDS;	/* us of server CPU per round trip */
	w->shim_cpu = median(cpu[1], runs) / ROUNDS;
	qsort(r50, (size_t)runs, sizeof(double), cmp_d);
	w->spread_lo = r50[0];
	w->spread_hi = r50[runs - 1];
	w->kind = 1;
	nrows++;
}

static void many(void)
{
	struct row *w = row_named("1000 conns epoll zc 1M each");
	if (!w)
		return;
	double tp[64], ts[64], ratio[64], cp[64], cs[64];
	long peak = 0;
	double mapped = 0, mb = 1000.0 * 1048576 / 1e6;
	for (int i = 0; i < runs; i++) {
		for (int shim = 0; shim <= 1; shim++) {
			struct sender s;
			start_sender(&s, "zerocopy", 0, "1M");
			char path[PATH_MAX + 16], portbuf[16];
			snprintf(path, sizeof(path), "%s/helpers/zcrecv", bindir);
			snprintf(portbuf, sizeof(portbuf), "%d", s.port);
			char *argv[] = { path, "--port", portbuf, "--conns", "1000", "--epoll", "--size", "256K",
					 "--no-check", NULL };
			struct result r;
			if (run_receiver(argv, shim, &r, NULL, 0)) {
				fprintf(stderr, "zcbench: many: %s\n", r.out);
				exit(1);
			}
			stop(s.pid);
			(shim ? ts : tp)[i] = mb / r.secs;
			(shim ? cs : cp)[i] = r.cpu * 1e3 / mb;
			if (shim) {
				const char *q = strstr(r.out, "rssfile_peak_kb=");
				long v = q ? atol(q + 16) : 0;
				if (v > peak)
					peak = v;
				mapped += r.mapped_pct;
			}
		}
		ratio[i] = ts[i] / tp[i];
	}
	summarise(w, tp, ts, cp, cs, ratio, mapped);
	w->rss_peak_kb = peak;
	w->sys_plain = w->sys_shim = -1;
	w->kind = 2;
	nrows++;
}

static double memcpy_mbs(void)
{
	size_t n = 64u << 20;
	char *a = malloc(n), *b = malloc(n);
	memset(a, 1, n);
	memset(b, 2, n);
	double best = 0;
	for (int i = 0; i < 5; i++) {
		double t0 = now();
		memcpy(b, a, n);
		__asm__ __volatile__("" ::"r"(b) : "memory");
		double mbs = (double)n / 1e6 / (now() - t0);
		if (mbs > best)
			best = mbs;
	}
	free(a);
	free(b);
	return best;
}

/* The in-process A/B rows of one kind, under their header: 3, hooked
 * calls against raw ones (queued and short connections); 4, against the
 * floor (zcfloor --ab). */
static void ab_table(int kind)
{
	int header = 0;
	for (int i = 0; i < nrows; i++) {
		struct row *w = &rows[i];
		if (w->kind != kind)
			continue;
		if (header++ == 0) {
			if (kind == 3)
				printf("\nin-process A/B, hooked calls against raw system calls in one receiver (queued: blocks "
				       "of 256K of a queued stream; conns: whole connections, socket to close, their data "
				       "queued first); %d runs each of without, map, auto; medians: receiver CPU / plain\n"
				       "%-28s %8s %13s %8s %7s %7s\n",
				       ab_runs, "scenario", "shim", "shim min-max", "auto", "mapped%", "auto%");
			else
				printf("\nin-process A/B against the floor (zcfloor --ab: queued: blocks of a queued stream, read() "
				       "and the floor's bare calls in turn; conns: whole connections, libc's socket-to-close and "
				       "the floor's raw calls in turn); %d runs each without and with the shim (map); medians\n"
				       "%-28s %10s %13s %11s %7s %7s\n",
				       ab_runs, "scenario", "shim/floor", "min-max", "floor/plain", "mapped%", "floor%");
		}
		if (kind == 3)
			printf("%-28s %8.4f %6.4f-%.4f %8.4f %7.1f %7.1f\n", w->name, w->cpu_ratio, w->spread_lo,
			       w->spread_hi, w->auto_ratio, w->mapped, w->auto_mapped);
		else
			printf("%-28s %10.4f %6.4f-%.4f %11.4f %7.1f %7.1f\n", w->name, w->shim_floor, w->spread_lo,
			       w->spread_hi, w->floor_ratio, w->mapped, w->floor_mapped);
	}
}

static void print(double memcpy_bw)
{
	double best_shim = 0;
	for (int i = 0; i < nrows; i++)
		if (rows[i].kind == 0 && rows[i].shim_mbs > best_shim)
			best_shim = rows[i].shim_mbs;
	if (want_json) {
		printf("{\"version\":2,\"pinned\":%s,", pin && sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "true" : "false");
		printf("\"bytes\":%llu,\"runs\":%d,\"memcpy_mbs\":%.0f,\"rows\":[", nbytes, runs, memcpy_bw);
		for (int i = 0; i < nrows; i++) {
			struct row *w = &rows[i];
			printf("%s{\"scenario\":\"%s\",\"plain_mbs\":%.1f,\"shim_mbs\":%.1f,\"ratio\":%.3f,"
			       "\"plain_cpu_ms_per_mb\":%.4f,\"shim_cpu_ms_per_mb\":%.4f,\"cpu_ratio\":%.3f,"
			       "\"mapped_pct\":%.2f,\"syscalls_per_mb_plain\":%.1f,\"syscalls_per_mb_shim\":%.1f,"
			       "\"ratio_min\":%.3f,\"ratio_max\":%.3f,\"p50_us_plain\":%.1f,\"p50_us_shim\":%.1f,"
			       "\"p99_us_plain\":%.1f,\"p99_us_shim\":%.1f,\"rssfile_peak_kb\":%ld,"
			       "\"sender_cpu_ms_per_mb_plain\":%.4f,\"sender_cpu_ms_per_mb_shim\":%.4f,"
			       "\"floor_cpu_ratio\":%.3f,\"floor_untouched_cpu_ratio\":%.3f,\"shim_floor_ratio\":%.3f,"
			       "\"auto_cpu_ratio\":%.4f,\"auto_mapped_pct\":%.2f,\"floor_mapped_pct\":%.2f,\"queued_ab\":%s}",
			       i ? "," : "", w->name, w->plain_mbs, w->shim_mbs, w->ratio, w->plain_cpu, w->shim_cpu,
			       w->cpu_ratio, w->mapped, w->sys_plain, w->sys_shim, w->spread_lo, w->spread_hi,
			       w->p50_plain, w->p50_shim, w->p99_plain, w->p99_shim, w->rss_peak_kb, w->send_plain,
			       w->send_shim, w->floor_ratio, w->floor0_ratio, w->shim_floor, w->auto_ratio, w->auto_mapped,
			       w->floor_mapped, w->kind >= 3 ? "true" : "false");
		}
		printf("]}\n");
		return;
	}
	printf("zcbench: %llu MiB per run, %d pairs (plain, shim) alternating, %s; medians of per-pair ratios\n",
	       nbytes >> 20, runs, pin && sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "sender on CPU 0, receiver on CPU 1" : "not pinned");
	printf("%-28s %7s %7s %6s %8s %8s %6s %6s %6s %6s %6s %6s %6s %6s %7s %7s %11s\n", "scenario", "plain", "shim",
	       "tput", "cpu/MB", "cpu/MB", "shim/", "floor/", "floor0", "shim/", "auto/", "mapped", "auto", "send",
	       "sys/MB", "sys/MB", "tput ratio");
	printf("%-28s %7s %7s %6s %8s %8s %6s %6s %6s %6s %6s %6s %6s %6s %7s %7s %11s\n", "", "MB/s", "MB/s", "ratio",
	       "plain ms", "shim ms", "plain", "plain", "/plain", "floor", "plain", "%", "map %", "cpu", "plain", "shim",
	       "min-max");
	for (int i = 0; i < nrows; i++) {
		struct row *w = &rows[i];
		if (w->kind >= 3)
			continue;
		if (w->kind == 1) {
			printf("%-28s p50 %.1f us -> %.1f us (%.3f), p99 %.1f us -> %.1f us (%.3f); server CPU/rt %.2f -> "
			       "%.2f us (%.3f); p50 ratio %.3f-%.3f\n",
			       w->name, w->p50_plain, w->p50_shim, w->ratio, w->p99_plain, w->p99_shim,
			       w->p99_shim / w->p99_plain, w->plain_cpu, w->shim_cpu, w->cpu_ratio, w->spread_lo,
			       w->spread_hi);
			continue;
		}
		char f[8][16];
		const double v[] = { w->floor_ratio, w->floor0_ratio, w->shim_floor, w->auto_ratio, w->auto_mapped,
				     w->send_plain > 0 ? w->send_shim / w->send_plain : -1, w->sys_plain, w->sys_shim };
		for (int k = 0; k < 8; k++) {
			if (v[k] < 0)
				snprintf(f[k], sizeof(f[k]), "-");
			else
				snprintf(f[k], sizeof(f[k]), k == 4 || k >= 6 ? "%.1f" : "%.3f", v[k]);
		}
		printf("%-28s %7.0f %7.0f %6.3f %8.4f %8.4f %6.3f %6s %6s %6s %6s %6.1f %6s %6s %7s %7s %5.2f-%.2f", w->name,
		       w->plain_mbs, w->shim_mbs, w->ratio, w->plain_cpu, w->shim_cpu, w->cpu_ratio, f[0], f[1], f[2],
		       f[3], w->mapped, f[4], f[5], f[6], f[7], w->spread_lo, w->spread_hi);
		if (w->kind == 2)
			printf("  RssFile peak %ld kB", w->rss_peak_kb);
		printf("\n");
	}
	printf("single-thread memcpy: %.0f MB/s; best shim throughput above is %.1f%% of it\n", memcpy_bw,
	       memcpy_bw > 0 ? 100.0 * best_shim / memcpy_bw : 0);
	for (int kind = 3; kind <= 4; kind++)
		ab_table(kind);
}

int main(int argc, char **argv)
{
	const char *only_size = NULL, *only_sender = NULL;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		rows[i].floor_mapped = -1;	/* only the floor A/B rows have one */
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },	       { "bytes", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'r' },      { "filter", required_argument, NULL, 'f' },
		{ "read-size", required_argument, NULL, 's' }, { "sender", required_argument, NULL, 'S' },
		{ "no-syscalls", no_argument, NULL, 'Y' },     { "no-pin", no_argument, NULL, 'P' },
		{ "no-floor", no_argument, NULL, 'F' },	       { "no-auto", no_argument, NULL, 'A' },
		{ "ab-runs", required_argument, NULL, 'a' },   { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const char use[] = "usage: zcbench [--json] [--bytes 256M] [--runs 5] [--filter S] [--read-size N] "
				  "[--sender plain|zc|zc4108] [--no-syscalls] [--no-pin] [--no-floor] [--no-auto] "
				  "[--ab-runs 31]\n";
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'j': want_json = 1; break;
		case 'b':
			if (!(nbytes = parse_bytes(optarg))) {
				fprintf(stderr, "zcbench: --bytes takes a size, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'r': runs = atoi(optarg); break;
		case 'f': filter = optarg; break;
		case 's': only_size = optarg; break;
		case 'S': only_sender = optarg; break;
		case 'Y': count_syscalls = 0; break;
		case 'P': pin = 0; break;
		case 'F': want_floor = 0; break;
		case 'A': want_auto = 0; break;
		case 'a': ab_runs = atoi(optarg); break;
		case 'V': printf("zcbench %s\n", ZCSHIM_VERSION); return 0;
		case 'h': fputs(use, stdout); return 0;
		default: fputs(use, stderr); return 2;
		}
	}
	if (optind < argc) {
		fputs(use, stderr);
		return 2;
	}
	if (runs < 1 || runs > 64)
		runs = 5;
	if (ab_runs < 1 || ab_runs > AB_MAX)
		ab_runs = 31;
	ssize_t n = readlink("/proc/self/exe", bindir, sizeof(bindir) - 1);
	if (n < 0)
		return 1;
	bindir[n] = 0;
	*strrchr(bindir, '/') = 0;
	snprintf(lib, sizeof(lib), "%s/libzcshim.so", bindir);
	snprintf(statsdir, sizeof(statsdir), "/tmp/zcbench-XXXXXX");
	if (!mkdtemp(statsdir))
		return 1;
	signal(SIGPIPE, SIG_IGN);

	const char *senders[][3] = { { "plain", "plain", "0" }, { "zc", "zerocopy", "0" }, { "zc4108", "zerocopy", "4108" } };
	const char *sizes[] = { "1M", "256K", "64K", "16K" };
	for (int s = 0; s < 3; s++) {
		if (only_sender && strcmp(only_sender, senders[s][0]))
			continue;
		for (int z = 0; z < 4; z++)
			if (!only_size || !strcmp(only_size, sizes[z]))
				bulk(senders[s][0], senders[s][1], atoi(senders[s][2]), "zcrecv", only_size ? only_size : sizes[z]);
		bulk(senders[s][0], senders[s][1], atoi(senders[s][2]), "cat", "128K");
	}
	bulk("zc4108", "zerocopy", 4108, "zcrecv", "4096");	/* below ZCSHIM_MIN_READ: pure pass-through */
	char sinkfile[64];
	snprintf(sinkfile, sizeof(sinkfile), "/tmp/zcbench-sink.%d", (int)getpid());
	for (int s = 1; s < 3; s++) {
		if (only_sender && strcmp(only_sender, senders[s][0]))
			continue;
		const char *api_sizes[] = { "1M", "256K" };
		for (int z = 0; z < 2; z++) {
			if (only_size && strcmp(only_size, api_sizes[z]))
				continue;
			api_rows(senders[s][0], senders[s][1], atoi(senders[s][2]), api_sizes[z]);
			sink_rows(senders[s][0], senders[s][1], atoi(senders[s][2]), api_sizes[z], sinkfile);
			sink_rows(senders[s][0], senders[s][1], atoi(senders[s][2]), api_sizes[z], "/dev/null");
		}
	}
	unlink(sinkfile);
	/* Pass-through (reads below ZCSHIM_MIN_READ), then every sender at
	 * 64K, 256K and 1M reads (the streaming rows' sizes that can map;
	 * cat's 128K lies between): the unmappable stream backing off, and
	 * the mapped streams. */
	const char *q[][4] = { { "plain", "plain", "0", "4096" },         { "zc4108", "zerocopy", "4108", "4096" },
			       { "plain", "plain", "0", "1M" },           { "plain", "plain", "0", "256K" },
			       { "plain", "plain", "0", "64K" },          { "zc", "zerocopy", "0", "1M" },
			       { "zc", "zerocopy", "0", "256K" },         { "zc", "zerocopy", "0", "64K" },
			       { "zc4108", "zerocopy", "4108", "1M" },    { "zc4108", "zerocopy", "4108", "256K" },
			       { "zc4108", "zerocopy", "4108", "64K" } };
	for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++)
		if ((!only_sender || !strcmp(only_sender, q[k][0])) && (!only_size || !strcmp(only_size, q[k][3])))
			queued(q[k][0], q[k][1], atoi(q[k][2]), q[k][3]);
	/* The mapped streams against the floor, on the same quiet instrument. */
	for (size_t k = 5; k < sizeof(q) / sizeof(q[0]); k++)
		if ((!only_sender || !strcmp(only_sender, q[k][0])) && (!only_size || !strcmp(only_size, q[k][3])))
			queued_floor(q[k][0], q[k][1], atoi(q[k][2]), q[k][3]);
	/* Short connections: what each new connection costs (#23). */
	const char *cs[][3] = { { "plain", "plain", "0" }, { "zc", "zerocopy", "0" }, { "zc4108", "zerocopy", "4108" } };
	for (size_t k = 0; k < 3; k++)
		if (!only_sender || !strcmp(only_sender, cs[k][0])) {
			conns(cs[k][0], cs[k][1], atoi(cs[k][2]), "16K", 500);
			conns(cs[k][0], cs[k][1], atoi(cs[k][2]), "1M", 100);
			if (k) {	/* both sizes of #23's target: map <= 1.10x the floor */
				conns_floor(cs[k][0], cs[k][1], atoi(cs[k][2]), "16K", 500);
				conns_floor(cs[k][0], cs[k][1], atoi(cs[k][2]), "1M", 100);
			}
			server_conns(cs[k][0], cs[k][1], atoi(cs[k][2]), "16K", 500);
		}
	pingpong();
	many();
	print(memcpy_mbs());
	DIR *d = opendir(statsdir);	/* what is left: auto's estimates, ping-pong's segments */
	for (struct dirent *de; d && (de = readdir(d));) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", statsdir, de->d_name);
		if (de->d_name[0] != '.')
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(statsdir);
	return 0;
}
