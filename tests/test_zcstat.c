/*
 * test_zcstat.c - zcstat as an operator uses it, and the safety of the
 * statistics segments it reads.
 *
 * Live views run against helpers that hold their connection open.  Each
 * test uses a private statistics directory (ZCSHIM_STATS_DIR, mode 0700),
 * so tests running in parallel never see each other's processes.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segfmt.h"
#include "testlib.h"

static char dir[64], direnv[96];

static void private_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/zcshim-stats-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(direnv, sizeof(direnv), "ZCSHIM_STATS_DIR=%s", dir);
}

static void cleanup_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

/* zcstat ARGS in the private directory; stdout returned, stderr in *err. */
static char *zcstat(int *status, char **err, const char *const args[])
{
	const char *argv[16] = { tl_bin("zcstat") };
	int n = 1;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char errpath[] = "/tmp/zcstat-err-XXXXXX";
	close(mkstemp(errpath));
	char sh[4096];
	int at = snprintf(sh, sizeof(sh), "exec 2>%s;", errpath);
	for (int i = 0; argv[i]; i++)
		at += snprintf(sh + at, sizeof(sh) - (size_t)at, " '%s'", argv[i]);
	const char *shargv[] = { "/bin/sh", "-c", sh, NULL };
	const char *env[] = { direnv, NULL };
	struct tl_result r;
	tl_run(&r, 0, 30000, shargv, env);
	*status = r.status;
	if (err) {
		FILE *f = fopen(errpath, "r");
		*err = calloc(1, 65536);
		(void)!fread(*err, 1, 65535, f);
		fclose(f);
	}
	unlink(errpath);
	free(r.json);
	return r.out;
}

struct held {
	struct tl_proc snd, app;
	int pid;
};

/* A receiver under the shim that has read 32M and holds its socket open. */
static void hold(struct held *h)
{
	const char *sa[] = { "--bytes", "32M", "--mode", "zerocopy", NULL };
	int port = tl_sender(&h->snd, sa);
	char portbuf[16], line[64];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	const char *a[] = { tl_bin("zcstat"), "--", tl_bin("zclife"), "hold", portbuf, NULL };
	const char *env[] = { direnv, NULL };
	tl_spawn(&h->app, a, env, 1);
	cr_assert_eq(tl_readline(&h->app, line, sizeof(line), 30000), 0);
	cr_assert_eq(sscanf(line, "ready %d", &h->pid), 1, "%s", line);
}

static void release(struct held *h)
{
	close(h->app.in);
	h->app.in = -1;
	cr_assert_eq(tl_wait(&h->app, 30000), 0);
	cr_assert_eq(tl_wait(&h->snd, 30000), 0);
}

Test(zcstat, live_list_shows_running_processes_then_forgets_them, .timeout = 90)
{
	private_dir();
	struct held h;
	hold(&h);
	int st;
	char pidstr[32];
	snprintf(pidstr, sizeof(pidstr), "\"pid\":%d,", h.pid);
	const char *lj[] = { "-l", "--json", NULL };
	char *out = zcstat(&st, NULL, lj);
	cr_assert_eq(st, 0);
	const char *p = strstr(out, pidstr);
	cr_assert(p, "pid %d not listed: %s", h.pid, out);
	cr_assert(strstr(p, "\"alive\":true"), "%s", out);
	cr_assert(strstr(p, "\"open\":true"), "held socket not shown open: %s", out);
	cr_assert_gt(tl_json_u64(p, NULL, "bytes_mapped"), 16u << 20, "%s", out);
	free(out);
	const char *lt[] = { "-l", NULL };
	out = zcstat(&st, NULL, lt);
	snprintf(pidstr, sizeof(pidstr), "%d ", h.pid);
	/* The COMMAND column is the start of argv, cut to its width. */
	char start[24];
	snprintf(start, sizeof(start), "%s", tl_bin("zclife"));
	cr_assert(strstr(out, pidstr) && strstr(out, start), "%s", out);
	free(out);
	release(&h);
	out = zcstat(&st, NULL, lj);
	snprintf(pidstr, sizeof(pidstr), "\"pid\":%d,", h.pid);
	cr_assert(!strstr(out, pidstr), "exited process still listed: %s", out);
	free(out);
	cleanup_dir();
}

Test(zcstat, live_top_view_refreshes_and_json_snapshot, .timeout = 90)
{
	private_dir();
	struct held h;
	hold(&h);
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", h.pid);
	int st;
	const char *t[] = { "-p", pid, "-i", "0.1", "-c", "3", NULL };
	char *out = zcstat(&st, NULL, t);
	cr_assert_eq(st, 0);
	cr_assert_eq(tl_count(out, "MAPPED_MB"), 3, "three refreshes expected: %s", out);
	cr_assert(strstr(out, "127.0.0.1:") && strstr(out, " open "), "%s", out);
	free(out);
	const char *d[] = { "-p", pid, "-i", "0.1", "-c", "2", "-d", NULL };
	out = zcstat(&st, NULL, d);
	/* idle connection: the second table's delta is 0 reads, 0.0 MB */
	const char *second = strstr(strstr(out, "FALLBACK") + 1, "FALLBACK");
	cr_assert(second && strstr(second, "        0        0.0        0.0"), "%s", out);
	free(out);
	const char *j[] = { "-p", pid, "--json", NULL };
	out = zcstat(&st, NULL, j);
	cr_assert(!strncmp(out, "{\"version\":1,", 13), "%s", out);
	cr_assert_eq(tl_count(out, "\"pid\":"), 1, "%s", out);
	free(out);
	release(&h);
	const char *gone[] = { "-p", pid, "--json", NULL };
	out = zcstat(&st, NULL, gone);
	cr_assert_neq(st, 0, "a gone process must be an error");
	free(out);
	cleanup_dir();
}

static void write_file(const char *name, const void *data, size_t n, mode_t mode)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	chmod(path, mode);
}

static struct segfmt_header *fake(size_t *size, int pid, unsigned long long start)
{
	*size = sizeof(struct segfmt_header) + 2 * sizeof(struct segfmt_slot);
	struct segfmt_header *h = calloc(1, *size);
	memcpy(h->magic, SEGFMT_MAGIC, 8);
	h->version = SEGFMT_VERSION;
	h->header_size = sizeof(*h);
	h->slot_size = sizeof(struct segfmt_slot);
	h->nslots = 2;
	h->total_size = *size;
	h->pid = pid;
	h->start_time = start;
	strcpy(h->command, "impostor");
	return h;
}

Test(zcstat, safety_reused_pid_is_never_shown_as_the_old_process, .timeout = 60)
{
	private_dir();
	size_t n;
	/* This test process is alive but is not the process that wrote it. */
	struct segfmt_header *h = fake(&n, getpid(), 12345);
	write_file("1-0.zcs", h, n, 0600);
	int st;
	const char *lj[] = { "-l", "--json", NULL };
	char *out = zcstat(&st, NULL, lj);
	cr_assert(!strstr(out, "impostor"), "%s", out);
	char path[160];
	snprintf(path, sizeof(path), "%s/1-0.zcs", dir);
	cr_assert(access(path, F_OK), "the dead segment should have been removed");
	free(out);
	free(h);
	cleanup_dir();
}

Test(zcstat, safety_malformed_segments_are_refused_with_a_reason, .timeout = 60)
{
	private_dir();
	size_t n;
	struct segfmt_header *h = fake(&n, 1, 1);
	h->version = 77;
	write_file("2-0.zcs", h, n, 0600);
	h->version = SEGFMT_VERSION;
	write_file("3-0.zcs", h, sizeof(*h) / 2, 0600);	/* truncated */
	h->nslots = 1u << 30;
	write_file("4-0.zcs", h, n, 0600);
	h->nslots = 2;
	memcpy(h->magic, "NOTASEGM", 8);
	write_file("5-0.zcs", h, n, 0600);
	char target[160], link[160];
	snprintf(target, sizeof(target), "%s/../elsewhere", dir);
	snprintf(link, sizeof(link), "%s/6-0.zcs", dir);
	cr_assert(!symlink(target, link));
	int st;
	char *err;
	const char *l[] = { "-l", NULL };
	char *out = zcstat(&st, &err, l);
	cr_assert_eq(st, 0, "zcstat must survive bad segments");
	cr_assert(strstr(err, "2-0.zcs: segment version 77"), "%s", err);
	cr_assert(strstr(err, "3-0.zcs: bad size"), "%s", err);
	cr_assert(strstr(err, "4-0.zcs: implausible slot count"), "%s", err);
	cr_assert(strstr(err, "5-0.zcs: not a zcshim segment"), "%s", err);
	cr_assert(strstr(err, "6-0.zcs: cannot open"), "symlink must not be followed: %s", err);
	free(out);
	free(err);
	free(h);
	cleanup_dir();
}

Test(zcstat, safety_segment_owned_by_another_user_is_refused, .timeout = 60)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to create files owned by two users");
	private_dir();
	size_t n;
	struct segfmt_header *h = fake(&n, 1, 1);
	write_file("7-0.zcs", h, n, 0644);	/* owned by root, readable */
	cr_assert(!chown(dir, 65534, 65534));
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ZCSHIM_STATS_DIR=%s setpriv --reuid=65534 --regid=65534 --clear-groups %s -l",
		 dir, tl_bin("zcstat"));
	const char *a[] = { "/bin/sh", "-c", cmd, NULL };
	/* zcstat's stderr is what matters: fold it into stdout */
	char full[640];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	a[2] = full;
	struct tl_result r;
	tl_run(&r, 0, 30000, a, NULL);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "7-0.zcs: owned by uid 0, not 65534: refused"), "%s", r.out);
	tl_free(&r);
	free(h);
	cleanup_dir();
}

Test(zcstat, safety_no_segment_possible_shim_still_works_and_says_why_once, .timeout = 60)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "16M", "--mode", "zerocopy", NULL };
	int port = tl_sender(&snd, sa);
	char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	const char *ra[] = { "/bin/sh", "-c", NULL, NULL };
	char cmd[512];
	/* Asked (ZCSHIM_LOG=warn), it says why, once; by default it writes
	 * nothing to the program's stderr. */
	for (int asked = 1; asked >= 0; asked--) {
		if (!asked) {
			const char *sa2[] = { "--bytes", "16M", "--mode", "zerocopy", NULL };
			port = tl_sender(&snd, sa2);
			snprintf(portbuf, sizeof(portbuf), "%d", port);
		}
		snprintf(cmd, sizeof(cmd),
			 "LD_PRELOAD=%s/libzcshim.so ZCSHIM_STATS_DIR=/proc/zcshim-cannot-exist %s %s --port %s 2>&1",
			 getenv("ZCSHIM_BUILD") ? getenv("ZCSHIM_BUILD") : "build", asked ? "ZCSHIM_LOG=warn" : "",
			 tl_bin("zcrecv"), portbuf);
		ra[2] = cmd;
		struct tl_result r;
		tl_run(&r, 0, 60000, ra, NULL);
		cr_assert_eq(tl_wait(&snd, 30000), 0);
		cr_assert_eq(r.status, 0, "%s", r.out);
		cr_assert(strstr(r.out, "bytes=16777216 ok"), "%s", r.out);
		cr_assert_eq(tl_count(r.out, "no statistics segment"), asked, "%s", r.out);
		cr_assert_eq(tl_count(r.out, "zcshim["), asked, "%s", r.out);
		tl_free(&r);
	}
}

/* An echo server under zcstat -- taking conns connections one after
 * another, each of `bytes` (a size zcecho reads: "4M"); env for the
 * server.  Asserts every byte is in the totals; returns zcstat's JSON. */
static char *echo_conns(int conns, const char *bytes, uint64_t each, const char *const env[])
{
	struct tl_proc srv, cli;
	char json[] = "/tmp/zcshim-slots-XXXXXX", line[64], n[16];
	close(mkstemp(json));
	snprintf(n, sizeof(n), "%d", conns);
	const char *a[] = { tl_bin("zcstat"), "--json", "-o", json, "--", tl_bin("zcecho"), "server", "blocking",
			    "--conns", n, NULL };
	tl_spawn(&srv, a, env, 0);
	cr_assert_eq(tl_readline(&srv, line, sizeof(line), 10000), 0);
	char port[16];
	cr_assert_eq(sscanf(line, "PORT %15s", port), 1);
	const char *c[] = { tl_bin("zcecho"), "client", port, "--bytes", bytes, "--conns", n, NULL };
	tl_spawn(&cli, c, NULL, 0);
	char *out = tl_slurp(&cli, 60000);
	cr_assert_eq(tl_wait(&cli, 60000), 0, "%s", out);
	cr_assert_eq(tl_wait(&srv, 30000), 0);
	free(out);
	FILE *f = fopen(json, "r");
	char *buf = calloc(1, 1 << 20);
	(void)!fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	unlink(json);
	uint64_t m = tl_json_u64(buf, "\"totals\":", "bytes_mapped"), cp = tl_json_u64(buf, "\"totals\":", "bytes_copied");
	cr_assert_eq(m + cp, (uint64_t)conns * each, "totals %llu", (unsigned long long)(m + cp));
	return buf;
}

Test(zcstat, scale_more_connections_than_slots_keep_correct_totals, .timeout = 120)
{
	const char *env[] = { "ZCSHIM_SLOTS=4", NULL };
	char *buf = echo_conns(12, "4M", 4ull << 20, env);
	cr_assert_leq(tl_count(buf, "\"fd\":"), 4, "only 4 slots: %s", buf);
	free(buf);
}

/* Twenty connections one after another, the default slots: the first
 * eight keep their lines as closed fds, each later one is emptied into
 * the totals when it closes and its slot taken by the next (12 recycled),
 * and the totals count every byte the program read. */
Test(zcstat, scale_first_eight_closed_fds_keep_lines_totals_stay_exact, .timeout = 120)
{
	char *buf = echo_conns(20, "1M", 1ull << 20, NULL);
	cr_assert_eq(tl_count(buf, "\"fd\":"), 8, "the first eight closed fds: %s", buf);
	cr_assert_eq(tl_json_u64(buf, "\"processes\":", "slots_recycled"), 12, "%s", buf);
	free(buf);
}

Test(zcstat, scale_fd_above_65535, .timeout = 60)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "16M", "--mode", "zerocopy", NULL };
	int port = tl_sender(&snd, sa);
	char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	const char *a[] = { tl_bin("zclife"), "highfd", portbuf, NULL };
	struct tl_result r;
	tl_run(&r, 1, 60000, a, NULL);
	if (strstr(r.out, "skip:")) {
		tl_kill(&snd);
		cr_skip_test("%s", r.out);
	}
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	cr_assert_eq(r.status, 0, "%s", r.out);
	const char *p = strstr(r.json, "\"fd\":70000,");
	cr_assert(p, "%s", r.json);
	cr_assert_gt(tl_json_u64(p, NULL, "bytes_mapped"), 8u << 20, "%s", r.json);
	tl_free(&r);
}

Test(zcstat, callsites_names_the_function_that_reads_small_chunks, .timeout = 90)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "16M", "--mode", "zerocopy", NULL };
	int port = tl_sender(&snd, sa);
	char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	/* 2M in 100-byte reads: well above the ~6% of the rest that a
	 * default-MSS MSG_ZEROCOPY stream copies as stragglers (~1M of 16M),
	 * which read_big_chunks is charged with, rightly. */
	const char *a[] = { tl_bin("zcsmall"), portbuf, "2M", NULL };
	const char *env[] = { "ZCSHIM_CALLSITES=1", NULL };
	struct tl_result r;
	tl_run(&r, 1, 60000, a, env);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	cr_assert_eq(r.status, 0, "%s", r.out);
	const char *cs = strstr(r.json, "\"callsites\":[{");
	cr_assert(cs, "%s", r.json);
	cr_assert(!strncmp(cs, "\"callsites\":[{\"function\":\"read_small_chunks\",\"module\":\"zcsmall\",", 64),
		  "top call site: %.200s", cs);
	cr_assert_geq(tl_json_u64(cs, NULL, "reads"), 10000);
	cr_assert(strstr(cs, "\"reason\":\"small_read\""), "%.300s", cs);
	tl_free(&r);

	/* off by default: nothing recorded */
	port = tl_sender(&snd, sa);
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	tl_run(&r, 1, 60000, a, NULL);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	cr_assert(strstr(r.json, "\"callsites\":[]"), "%s", r.json);
	tl_free(&r);
}

/* ZCSHIM_MODE=auto: the text report says in one line whether zero-copy
 * receive pays here, with the costs measured (injected here) and the share
 * of the sampled traffic that was mappable. */
Test(zcstat, auto_mode_text_report_says_whether_zero_copy_pays, .timeout = 90)
{
	const char *verdicts[][2] = { { "3000000:1000000", "does not pay on this host (copying instead)" },
				      { "500000:1000000", "zero-copy receive pays on this host" } };
	for (int i = 0; i < 2; i++) {
		struct tl_proc snd;
		const char *sa[] = { "--bytes", "32M", "--mode", "zerocopy", "--mss", "4108", NULL };
		int port = tl_sender(&snd, sa);
		char portbuf[16], costs[64];
		snprintf(portbuf, sizeof(portbuf), "%d", port);
		snprintf(costs, sizeof(costs), "ZCSHIM_AUTO_COSTS=%s", verdicts[i][0]);
		const char *args[] = { "--", "env", "ZCSHIM_MODE=auto", costs, tl_bin("zcrecv"), "--port", portbuf, NULL };
		int status;
		char *err, *out = zcstat(&status, &err, args);
		cr_assert_eq(tl_wait(&snd, 30000), 0);
		cr_assert_eq(status, 0, "%s%s", out, err);
		cr_assert(strstr(err, verdicts[i][1]), "%s", err);
		cr_assert(strstr(err, "of sampled traffic was mappable"), "%s", err);
		free(out);
		free(err);
	}
}

/* ---- Prometheus ---------------------------------------------------------- */

/* The value of zcshim_bytes_mapped_total for pid in an exposition (labels
 * in any order: node_exporter sorts them). */
static unsigned long long prom_mapped(const char *text, int pid)
{
	char want[32];
	snprintf(want, sizeof(want), "pid=\"%d\"", pid);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '\n'), *brace = strchr(l, '}'), *pidl = strstr(l, want);
		if (strncmp(l, "zcshim_bytes_mapped_total{", 26) || !brace || !pidl || (end && pidl > end))
			continue;
		return (unsigned long long)(strtod(brace + 2, NULL) + 0.5);	/* node_exporter writes 3.1e+07 */
	}
	cr_assert_fail("no series for pid %d: %.3000s", pid, text);
	return 0;
}

/* bytes_mapped of pid in zcstat -l --json. */
static unsigned long long json_mapped(int pid)
{
	int st;
	const char *lj[] = { "-l", "--json", NULL };
	char *out = zcstat(&st, NULL, lj), key[32];
	snprintf(key, sizeof(key), "\"pid\":%d,", pid);
	const char *p = strstr(out, key);
	cr_assert(p, "%s", out);
	unsigned long long v = tl_json_u64(p, "\"totals\":", "bytes_mapped");
	free(out);
	return v;
}

Test(zcstat, prometheus_list_matches_json_and_promtool_accepts_it, .timeout = 90)
{
	private_dir();
	struct held h;
	hold(&h);
	int st;
	const char *lp[] = { "-l", "--prometheus", NULL };
	char *out = zcstat(&st, NULL, lp);
	cr_assert_eq(st, 0);
	cr_assert(strstr(out, "# TYPE zcshim_bytes_mapped_total counter"), "%s", out);
	cr_assert(strstr(out, "zcshim_processes 1\n"), "%s", out);
	unsigned long long m = prom_mapped(out, h.pid);
	cr_assert_gt(m, 16u << 20, "%s", out);
	cr_assert_eq(m, json_mapped(h.pid));
	char path[] = "/tmp/zcshim-prom-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_eq(write(fd, out, strlen(out)), (ssize_t)strlen(out));
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	cr_assert_eq(system(cmd), 0, "promtool rejects: %s", out);
	unlink(path);
	free(out);
	release(&h);
	cleanup_dir();
}

/* The TCP port pid listens on (from /proc), or 0. */
static int listening_port(int pid)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/net/tcp", pid);
	FILE *f = fopen(path, "r");
	char line[512];
	int port = 0;
	while (f && fgets(line, sizeof(line), f) && !port) {
		unsigned lport, state;
		unsigned long inode;
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*s %*s %*s %*s %*s %lu", &lport, &state, &inode) != 3 ||
		    state != 0x0A)
			continue;
		for (int fdn = 0; fdn < 64 && !port; fdn++) {
			char want[64];
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fdn);
			ssize_t n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			snprintf(want, sizeof(want), "socket:[%lu]", inode);
			if (!strcmp(link, want))
				port = (int)lport;
		}
	}
	if (f)
		fclose(f);
	return port;
}

/* zcstat export writes the textfile; node_exporter's textfile collector
 * serves it on /metrics with the values zcstat's JSON shows. */
Test(zcstat, prometheus_node_exporter_serves_the_export, .timeout = 120)
{
	private_dir();
	struct held h;
	hold(&h);
	char textdir[128];
	snprintf(textdir, sizeof(textdir), "%s/textfile", dir);
	cr_assert_eq(mkdir(textdir, 0700), 0);
	int st;
	const char *ex[] = { "export", "--textfile", textdir, "-i", "0.1", "-c", "1", NULL };
	free(zcstat(&st, NULL, ex));
	cr_assert_eq(st, 0);
	char flag[160];
	snprintf(flag, sizeof(flag), "--collector.textfile.directory=%s", textdir);
	const char *ne[] = { "/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", "/usr/bin/prometheus-node-exporter",
			     "--web.listen-address=127.0.0.1:0", "--collector.disable-defaults",
			     "--collector.textfile", flag, NULL };
	struct tl_proc node;
	tl_spawn(&node, ne, NULL, 0);
	char line[1024];
	int listening = 0;
	while (!listening && tl_readline(&node, line, sizeof(line), 30000) == 0)
		listening = strstr(line, "Listening on") != NULL;
	cr_assert(listening, "node_exporter did not start");
	int port = listening_port(node.pid);
	cr_assert_gt(port, 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "curl -sf http://127.0.0.1:%d/metrics", port);
	FILE *p = popen(cmd, "r");
	static char metrics[1 << 20];
	size_t n = fread(metrics, 1, sizeof(metrics) - 1, p);
	metrics[n] = 0;
	cr_assert_eq(pclose(p), 0, "curl failed");
	const char *ours = strstr(metrics, "zcshim_");
	cr_assert(ours, "no zcshim metrics served: %s", strstr(metrics, "node_textfile") ? strstr(metrics, "node_textfile") : metrics);
	cr_assert_eq(prom_mapped(ours, h.pid), json_mapped(h.pid), "%.2000s", ours);
	tl_kill(&node);
	release(&h);
	cleanup_dir();
}
