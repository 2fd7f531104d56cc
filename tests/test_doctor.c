/*
 * test_doctor.c - zcstat doctor's verdicts against what the shim then
 * measures on the same path, and its facts against the kernel's own
 * tools.
 *
 * The path checks predict, from netlink facts alone, how much a
 * MSG_ZEROCOPY sender's stream and a plain sender's stream will map; each
 * test then moves real data over that path under the shim (doctor -- CMD,
 * so the prediction and the shim's counters arrive in one report) and
 * holds the prediction to the measurement: a path called mappable maps
 * >= 90%, one called unmappable (any plain sender) < 10%, a partial one
 * within 8 points of the share it names.  veth paths are built in network
 * namespaces of the test's own (root only: the tests say so and skip).
 * NIC facts are compared with ethtool(8)'s.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kzc.h"
#include "testlib.h"

#define T_RUN 120000

static char dir[64], direnv[96];

static void private_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/zcshim-doctor-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(direnv, sizeof(direnv), "ZCSHIM_STATS_DIR=%s", dir);
}

static void cleanup_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* ---- reading the doctor's JSON --------------------------------------- */

/* The check whose id is id (or, with prefix, the first whose id starts
 * so), as a string bounded by the next check.  NULL if absent. */
static char *check_of(const char *json, const char *id, int prefix)
{
	char pat[160];
	snprintf(pat, sizeof(pat), "{\"id\":\"%s%s", id, prefix ? "" : "\"");
	const char *p = json ? strstr(json, pat) : NULL;
	if (!p)
		return NULL;
	const char *end = strstr(p + 1, "{\"id\":");
	if (!end)
		end = p + strlen(p);
	return strndup(p, (size_t)(end - p));
}

static void str_of(const char *check, const char *key, char *out, size_t cap)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(check, pat);
	cr_assert(p, "no %s in %s", key, check);
	p += strlen(pat);
	size_t n = strcspn(p, "\"");
	snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

static double num_of(const char *check, const char *key)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(check, pat);
	cr_assert(p, "no %s in %s", key, check);
	return strtod(p + strlen(pat), NULL);
}

/* ---- running it ------------------------------------------------------ */

/* zcstat doctor ARGS (NULL-terminated) under the prefix (e.g. ip netns
 * exec NS), --json; its output (the receiver's line, then the JSON). */
/* What the last doctor()'s CMD printed on stdout (the report goes to a
 * file with -o, so the two stay apart). */
static char *cmd_out;

static char *doctor(const char *const prefix[], const char *const args[])
{
	const char *argv[48];
	char path[] = "/tmp/zcdoctor-report-XXXXXX";
	int fd = mkstemp(path), n = 0;
	cr_assert_geq(fd, 0);
	close(fd);
	for (int i = 0; prefix && prefix[i]; i++)
		argv[n++] = prefix[i];
	argv[n++] = tl_bin("zcstat");
	argv[n++] = "doctor";
	argv[n++] = "--json";
	argv[n++] = "-o";
	argv[n++] = path;
	for (int i = 0; args[i] && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct tl_result r;
	const char *env[] = { direnv, NULL };
	tl_run(&r, 0, T_RUN, argv, env);
	FILE *f = fopen(path, "r");
	cr_assert(f, "no report file");
	char *rep = NULL;
	size_t cap = 0;
	ssize_t got = getdelim(&rep, &cap, '\0', f);
	fclose(f);
	unlink(path);
	cr_assert(r.status == 0 || r.status == 1, "doctor exited %d: %s", r.status, r.out);
	cr_assert(got > 0 && strstr(rep, "\"verdict\":{"), "no verdict: %s", got > 0 ? rep : "");
	free(cmd_out);
	cmd_out = r.out;
	return rep;
}

/* The path's prediction and the traffic's measurement from one report. */
struct outcome {
	char verdict[16];
	double expect_zc, expect_plain, mapped;
	char traffic_status[16];
};

static void read_outcome(const char *out, const char *peer, struct outcome *o)
{
	char id[96];
	snprintf(id, sizeof(id), "path.%s.pages", peer);
	char *pc = check_of(out, id, 0), *tc = check_of(out, "traffic.", 1);
	cr_assert(pc, "no %s check: %s", id, out);
	cr_assert(tc, "no traffic check: %s", out);
	str_of(pc, "verdict", o->verdict, sizeof(o->verdict));
	o->expect_zc = num_of(pc, "expect_zerocopy_pct");
	o->expect_plain = num_of(pc, "expect_plain_pct");
	o->mapped = num_of(tc, "mapped_pct");
	str_of(tc, "status", o->traffic_status, sizeof(o->traffic_status));
	free(pc);
	free(tc);
}

/* The doctor's prediction for this sender must hold for what mapped. */
static void assert_prediction_held(const struct outcome *o, int zerocopy, const char *what)
{
	double e = zerocopy ? o->expect_zc : o->expect_plain;
	cr_log_info("%s: doctor says %s, ~%.1f%%; the shim mapped %.2f%%", what, o->verdict, e, o->mapped);
	if (!zerocopy || e < 10) {
		cr_assert_lt(o->mapped, 10.0, "%s: doctor predicted %.1f%% (unmappable), %.2f%% mapped", what, e, o->mapped);
		cr_assert_str_eq(o->traffic_status, "fail", "%s: the traffic check must say so", what);
	} else if (!strcmp(o->verdict, "mappable")) {
		cr_assert_geq(o->mapped, 90.0, "%s: doctor called it mappable, %.2f%% mapped", what, o->mapped);
	} else {
		cr_assert_str_eq(o->verdict, "partial", "%s", what);
		cr_assert(o->mapped >= e - 8 && o->mapped <= 100.0, "%s: doctor predicted ~%.1f%%, %.2f%% mapped", what,
			  e, o->mapped);
		cr_assert_str_eq(o->traffic_status, "warn", "%s: partial traffic is a warning", what);
	}
}

/* A transfer: sender (with prefix) and doctor -- zcrecv (with prefix),
 * the doctor also asked about peer. */
static void transfer(const char *const sprefix[], const char *const rprefix[], const char *host, const char *bytes,
		     const char *mode, const char *mss, struct outcome *o, char **report)
{
	const char *sa[24];
	int n = 0;
	for (int i = 0; sprefix && sprefix[i]; i++)
		sa[n++] = sprefix[i];
	sa[n++] = tl_bin("zcsend");
	const char *more[] = { "--bind", host, "--bytes", bytes, "--mode", mode, mss ? "--mss" : NULL, mss, NULL };
	for (int i = 0; more[i]; i++)
		sa[n++] = more[i];
	sa[n] = NULL;
	struct tl_proc snd;
	tl_spawn(&snd, sa, NULL, 1);
	char line[64], port[16];
	int p = 0;
	cr_assert_eq(tl_readline(&snd, line, sizeof(line), 10000), 0, "sender did not start");
	cr_assert_eq(sscanf(line, "PORT %d", &p), 1, "sender said '%s'", line);
	snprintf(port, sizeof(port), "%d", p);
	const char *args[] = { "--no-selftest", "--", tl_bin("zcrecv"), "--host", host, "--port", port, "--size",
			       "1048576", "--expect", bytes, NULL };
	char *out = doctor(rprefix, args);
	cr_assert(strstr(cmd_out, " ok"), "receiver: %s", cmd_out);
	cr_assert_eq(tl_wait(&snd, 30000), 0, "sender failed");
	read_outcome(out, host, o);
	if (report)
		*report = out;
	else
		free(out);
}

TestSuite(doctor, .init = private_dir, .fini = cleanup_dir, .timeout = 300);

Test(doctor, kernel_facts_are_the_probes)
{
	struct kzc_info k;
	kzc_probe(&k);
	const char *args[] = { "--no-selftest", NULL };
	char *out = doctor(NULL, args), *c = check_of(out, "kernel.zerocopy", 0);
	char st[16];
	cr_assert(c, "%s", out);
	str_of(c, "status", st, sizeof(st));
	cr_assert_str_eq(st, k.supported ? (k.optlen >= KZC_LEN_COPYBUF ? "ok" : "warn") : "fail", "%s", c);
	cr_assert_eq((unsigned)num_of(c, "optlen"), k.supported ? k.optlen : 0, "%s", c);
	cr_assert(strstr(out, "\"id\":\"cost.host\",\"status\":\"unknown\""), "--no-selftest measures nothing: %s", out);
	free(c);
	free(out);
}

/* The self-test measures both ways; the status follows the numbers. */
Test(doctor, cost_is_measured_and_judged_by_its_numbers)
{
	const char *args[] = { NULL };
	char *out = doctor(NULL, args), *c = check_of(out, "cost.host", 0);
	char st[16];
	cr_assert(c, "%s", out);
	str_of(c, "status", st, sizeof(st));
	double m = num_of(c, "map_ms_per_mib"), cp = num_of(c, "copy_ms_per_mib");
	cr_assert(m > 0 && cp > 0, "%s", c);
	cr_assert_str_eq(st, m < cp * 0.95 ? "ok" : "warn", "%s", c);
	free(c);
	free(out);
}

/* Loopback: the doctor's prediction for each sender, then that sender. */
Test(doctor, loopback_predictions_hold_for_both_senders)
{
	struct outcome o;
	char *rep;
	transfer(NULL, NULL, "127.0.0.1", "64M", "zerocopy", NULL, &o, NULL);
	assert_prediction_held(&o, 1, "loopback, MSG_ZEROCOPY, default MSS");
	transfer(NULL, NULL, "127.0.0.1", "32M", "plain", NULL, &o, &rep);
	assert_prediction_held(&o, 0, "loopback, plain sender");
	cr_assert(strstr(rep, "must use MSG_ZEROCOPY"), "the fix must be named: %s", rep);
	free(rep);
	/* At MSS 4108 the traffic is whole pages: the traffic check is ok. */
	transfer(NULL, NULL, "127.0.0.1", "64M", "zerocopy", "4108", &o, NULL);
	cr_assert_geq(o.mapped, 99.0);
	cr_assert_str_eq(o.traffic_status, "ok");
}

Test(doctor, small_reads_are_traced_to_their_call_site)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "8M", "--mode", "zerocopy", "--mss", "4108", NULL };
	char port[16];
	snprintf(port, sizeof(port), "%d", tl_sender(&snd, sa));
	const char *args[] = { "--no-selftest", "--", tl_bin("zcrecv"), "--port", port, "--size", "16384", NULL };
	char *out = doctor(NULL, args), *c = check_of(out, "traffic.", 1);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	cr_assert(c && strstr(c, "below ZCSHIM_MIN_READ"), "%s", out);
	cr_assert(strstr(out, ".callsite\",\"status\":\"warn\""), "the call site must be named: %s", out);
	cr_assert(strstr(out, "do_recv"), "zcrecv's reading function: %s", out);
	free(c);
	free(out);
}

/* A live process (-p): its traffic, its peer's path, and its socket's
 * receive buffer, which must be what ss(8) reports for that socket. */
Test(doctor, live_process_and_its_socket)
{
	struct tl_proc snd, app;
	const char *sa[] = { "--bytes", "32M", "--mode", "zerocopy", "--mss", "4108", NULL };
	int port = tl_sender(&snd, sa);
	char portbuf[16], line[64], pidbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	const char *a[] = { tl_bin("zcstat"), "--", tl_bin("zclife"), "hold", portbuf, NULL };
	const char *env[] = { direnv, NULL };
	tl_spawn(&app, a, env, 1);
	int pid = 0;
	cr_assert_eq(tl_readline(&app, line, sizeof(line), 30000), 0);
	cr_assert_eq(sscanf(line, "ready %d", &pid), 1, "%s", line);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	const char *args[] = { "--no-selftest", "-p", pidbuf, NULL };
	char *out = doctor(NULL, args), id[64];
	snprintf(id, sizeof(id), "traffic.%d", pid);
	char *t = check_of(out, id, 0), *b = NULL;
	cr_assert(t, "%s", out);
	cr_assert_geq(num_of(t, "mapped_pct"), 99.0, "%s", t);
	cr_assert(check_of(out, "path.127.0.0.1.pages", 0), "the peer's path: %s", out);
	snprintf(id, sizeof(id), "traffic.%d.batch", pid);
	b = check_of(out, id, 0);
	cr_assert(b, "%s", out);
	if (geteuid() == 0) {	/* pidfd_getfd needs ptrace rights over it */
		char cmd[160], ss[512] = "";
		snprintf(cmd, sizeof(cmd), "ss -tmnH dport = :%d", port);
		FILE *f = popen(cmd, "r");
		size_t n = f ? fread(ss, 1, sizeof(ss) - 1, f) : 0;
		ss[n] = 0;
		if (f)
			pclose(f);
		const char *rb = strstr(ss, ",rb");
		cr_assert(rb, "ss: %s", ss);
		cr_assert_eq((long)num_of(b, "rcvbuf"), strtol(rb + 3, NULL, 10), "%s vs ss: %s", b, ss);
	}
	free(t);
	free(b);
	free(out);
	close(app.in);
	app.in = -1;
	cr_assert_eq(tl_wait(&app, 30000), 0);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
}

/* ---- veth paths in namespaces ---------------------------------------- */

static char ns_a[32], ns_b[32], ip_bin[128];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("network namespaces and veth pairs need root");
	FILE *f = popen("command -v ip", "r");	/* the helpers are spawned without a PATH search */
	if (!f || !fgets(ip_bin, sizeof(ip_bin), f))
		ip_bin[0] = 0;
	if (f)
		pclose(f);
	ip_bin[strcspn(ip_bin, "\n")] = 0;
	if (!ip_bin[0])
		cr_skip_test("no ip(8) here");
	snprintf(ns_a, sizeof(ns_a), "zcd%d-a", (int)getpid());
	snprintf(ns_b, sizeof(ns_b), "zcd%d-b", (int)getpid());
	if (sh("ip netns add %s 2>/dev/null && ip netns add %s", ns_a, ns_b)) {
		sh("ip netns del %s 2>/dev/null", ns_a);
		cr_skip_test("cannot create network namespaces here");
	}
}

static void veth(int mtu)
{
	cr_assert_eq(sh("ip link add zva netns %s type veth peer name zvb netns %s && "
			"ip -n %s addr add 10.99.0.1/24 dev zva && ip -n %s addr add 10.99.0.2/24 dev zvb && "
			"ip -n %s link set zva mtu %d up && ip -n %s link set zvb mtu %d up && "
			"ip -n %s link set lo up && ip -n %s link set lo up",
			ns_a, ns_b, ns_a, ns_b, ns_a, mtu, ns_b, mtu, ns_a, ns_b), 0, "veth at MTU %d", mtu);
}

static void drop_ns(void)
{
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_a, ns_b);
	cleanup_dir();
}

TestSuite(doctor_veth, .init = private_dir, .fini = drop_ns, .timeout = 300);

static void veth_case(int mtu)
{
	need_root();
	veth(mtu);
	const char *pa[] = { ip_bin, "netns", "exec", ns_a, NULL }, *pb[] = { ip_bin, "netns", "exec", ns_b, NULL };
	char what[64];
	struct outcome o;
	transfer(pa, pb, "10.99.0.1", "64M", "zerocopy", NULL, &o, NULL);
	snprintf(what, sizeof(what), "veth MTU %d, MSG_ZEROCOPY", mtu);
	assert_prediction_held(&o, 1, what);
	transfer(pa, pb, "10.99.0.1", "16M", "plain", NULL, &o, NULL);
	snprintf(what, sizeof(what), "veth MTU %d, plain sender", mtu);
	assert_prediction_held(&o, 0, what);
}

Test(doctor, doctor_veth_mtu_1500) { veth_case(1500); }
Test(doctor, doctor_veth_mtu_9000) { veth_case(9000); }
/* 4148 - 40 - 12: one page of payload per segment. */
Test(doctor, doctor_veth_mtu_4148_whole_pages)
{
	veth_case(4148);
	char *out = NULL;
	const char *pb[] = { ip_bin, "netns", "exec", ns_b, NULL };
	const char *args[] = { "--no-selftest", "--peer", "10.99.0.1", NULL };
	out = doctor(pb, args);
	cr_assert(strstr(out, "\"verdict\":\"mappable\""), "MTU 4148 is whole pages: %s", out);
	free(out);
}

/* ---- a NIC: the doctor's facts are ethtool's ------------------------- */

/* ethtool's word for a feature or ring setting: 1 on, 0 off, -1 absent. */
static int ethtool_says(const char *args, const char *dev, const char *label)
{
	char cmd[256], line[256];
	snprintf(cmd, sizeof(cmd), "ethtool %s %s 2>/dev/null", args, dev);
	FILE *f = popen(cmd, "r");
	int v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, label, strlen(label))) {
			const char *p = line + strlen(label);
			p += strspn(p, " \t:");
			v = !strncmp(p, "on", 2) ? 1 : !strncmp(p, "off", 3) ? 0 : -1;
		}
	if (f)
		pclose(f);
	return v;
}

Test(doctor, nic_facts_are_ethtools)
{
	char dev[64] = "", kind[64] = "";
	FILE *f = popen("ip -o route get 192.0.2.1 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'", "r");
	if (f && !fgets(dev, sizeof(dev), f))
		dev[0] = 0;
	if (f)
		pclose(f);
	dev[strcspn(dev, "\n")] = 0;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "ip -d -o link show %s | grep -o 'link/[a-z]*\\|veth\\|bridge\\|vxlan\\|dummy'", dev);
	f = dev[0] ? popen(cmd, "r") : NULL;
	while (f && fgets(kind, sizeof(kind), f) && !strncmp(kind, "link/", 5))
		kind[0] = 0;
	if (f)
		pclose(f);
	if (!dev[0] || kind[0] || system("command -v ethtool >/dev/null"))
		cr_skip_test("no NIC on a route here (or no ethtool)");
	const char *args[] = { "--no-selftest", "--peer", "192.0.2.1", NULL };
	char *out = doctor(NULL, args), *c = check_of(out, "path.192.0.2.1.pages", 0);
	cr_assert(c, "%s", out);
	cr_assert_eq((int)num_of(c, "gro"), ethtool_says("-k", dev, "generic-receive-offload"), "%s", c);
	cr_assert_eq((int)num_of(c, "lro"), ethtool_says("-k", dev, "large-receive-offload"), "%s", c);
	cr_assert_eq((int)num_of(c, "gro_hw"), ethtool_says("-k", dev, "rx-gro-hw"), "%s", c);
	cr_assert_eq((int)num_of(c, "data_split"), ethtool_says("-g", dev, "TCP data split"), "%s", c);
	char v[16];
	str_of(c, "verdict", v, sizeof(v));
	if (num_of(c, "data_split") != 1)
		cr_assert_str_neq(v, "mappable", "no header/data split, no mapping: %s", c);
	free(c);
	free(out);
}

Test(doctor, bad_usage_and_unknown_pid)
{
	struct tl_result r;
	const char *bad[] = { tl_bin("zcstat"), "doctor", "--frobnicate", NULL };
	tl_run(&r, 0, 10000, bad, NULL);
	cr_assert_eq(r.status, 2);
	tl_free(&r);
	const char *args[] = { "--no-selftest", "-p", "999999", NULL };
	char *out = doctor(NULL, args);
	cr_assert(!strstr(out, "\"id\":\"traffic."), "no traffic for a pid without the shim: %s", out);
	free(out);
}

/* The report owns standard output: `zcstat doctor --json -- CMD | jq`
 * parses whatever CMD prints; with -o FILE the report goes there and CMD
 * keeps standard output. */
Test(doctor, json_report_stays_parseable_when_the_command_prints)
{
	struct tl_result r;
	const char *a[] = { tl_bin("zcstat"), "doctor", "--json", "--no-selftest", "--", "/bin/echo", "said-by-cmd", NULL };
	tl_run(&r, 0, 60000, a, NULL);
	cr_assert_eq(r.status, 0, "%s", r.out);
	const char *p = r.out;
	while (*p == ' ' || *p == '\n')
		p++;
	cr_assert_eq(*p, '{', "the report is not alone on stdout: %s", r.out);
	cr_assert_null(strstr(r.out, "said-by-cmd"), "CMD's output mixed into the report: %s", r.out);
	tl_free(&r);
	char path[] = "/tmp/zcdoctor-o-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	const char *b[] = { tl_bin("zcstat"), "doctor", "--json", "--no-selftest", "-o", path, "--", "/bin/echo", "said-by-cmd",
			    NULL };
	tl_run(&r, 0, 60000, b, NULL);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "said-by-cmd"), "with -o, CMD keeps stdout: %s", r.out);
	FILE *f = fopen(path, "r");
	char buf[256] = { 0 };
	cr_assert(f && fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	unlink(path);
	cr_assert_eq(buf[0], '{', "the report in FILE: %s", buf);
	tl_free(&r);
}
