/*
 * test_core.c - the mapped path end to end, judged by the shim's own
 * counters (zcstat --json) and by checking every received byte.
 *
 * Each test starts zcsend (plain or MSG_ZEROCOPY, default MSS or 4108) and a
 * receiver under zcstat.  Preconditions: Linux >= 5.12 on loopback; run by
 * `make test`.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define MiB (1024ull * 1024)
#define T_LONG 180000

/* Sends BYTES with sender args, receives with zcrecv args under the shim. */
static void transfer(struct tl_result *r, const char *bytes, const char *const send_args[],
		     const char *const recv_args[], const char *const env[])
{
	struct tl_proc snd;
	const char *sa[16] = { "--bytes", bytes };
	int n = 2;
	for (int i = 0; send_args && send_args[i]; i++)
		sa[n++] = send_args[i];
	sa[n] = NULL;
	int port = tl_sender(&snd, sa);
	char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	const char *ra[24] = { tl_bin("zcrecv"), "--port", portbuf, "--expect", bytes };
	n = 5;
	for (int i = 0; recv_args && recv_args[i]; i++)
		ra[n++] = recv_args[i];
	ra[n] = NULL;
	tl_run(r, 1, T_LONG, ra, env);
	cr_assert_eq(tl_wait(&snd, 30000), 0, "sender failed");
	cr_assert_eq(r->status, 0, "receiver failed: %s", r->out);
	cr_assert(strstr(r->out, " ok"), "receiver output: %s", r->out);
	cr_assert(r->json, "no zcstat report");
}

static uint64_t total(const struct tl_result *r, const char *key)
{
	return tl_json_u64(r->json, "\"totals\":", key);
}

static void assert_mapped_at_least(const struct tl_result *r, uint64_t bytes, double pct)
{
	uint64_t m = total(r, "bytes_mapped"), c = total(r, "bytes_copied");
	cr_assert_eq(m + c, bytes, "mapped %llu + copied %llu != %llu received", (unsigned long long)m,
		     (unsigned long long)c, (unsigned long long)bytes);
	/* With the totals, which say why the rest was copied (a flake seen
	 * once in CI, 94% of a 97% bar, has not been reproduced since). */
	const char *tot = r->json ? strstr(r->json, "\"totals\":") : NULL;
	cr_assert_geq(100.0 * (double)m / (double)bytes, pct, "only %.2f%% mapped (want >= %.0f%%): %.400s",
		      100.0 * (double)m / (double)bytes, pct, tot ? tot : "(no totals)");
	cr_assert_eq(tl_json_bool(r->json, "kernel_zerocopy"), 1);
}

Test(core, zerocopy_mss4108_256M_at_least_99pct, .timeout = 240)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *ra[] = { "--mss", "4108", NULL };
	transfer(&r, "256M", sa, ra, NULL);
	assert_mapped_at_least(&r, 256 * MiB, 99.0);
	tl_free(&r);
}

Test(core, zerocopy_default_mss_256M_at_least_90pct, .timeout = 240)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", NULL };
	transfer(&r, "256M", sa, NULL, NULL);
	assert_mapped_at_least(&r, 256 * MiB, 90.0);
	tl_free(&r);
}

/* 64 KiB reads of a default-MSS stream end inside pages: the next read
 * copies the rest of that page without first asking the kernel what it
 * already knows, and a wrong guess (the page was an skb's short last one)
 * costs a page, not the skb behind it.  The stream is queued 4 MiB at a
 * time before it is read (--pull), so its layout is the same on every run:
 * asking first took 2,048 mapping calls for its 1,025 reads, now 1,280;
 * 89.1% mapped either way. */
static long strace_calls_of(const char *path, const char *syscall);

/* zcsend with sa, its port written into portbuf, and a fresh file at out
 * (a "/tmp/zcshim-strace-XXXXXX" array) for an strace summary. */
static void sender_and_trace_file(struct tl_proc *snd, const char *const sa[], char portbuf[16], char *out)
{
	int port = tl_sender(snd, sa);
	close(mkstemp(out));
	snprintf(portbuf, 16, "%d", port);
}

/* ...and copies: where an skb's short last page is followed by less than
 * a page of room, the two come by one copy (2,833 copies for 1,025 reads
 * before, 2,065 now). */
Test(core, default_mss_64k_reads_ask_no_more_than_needed, .timeout = 240)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "64M", "--mode", "zerocopy", "--pull", NULL };
	char portbuf[16], out[] = "/tmp/zcshim-strace-XXXXXX";
	sender_and_trace_file(&snd, sa, portbuf, out);
	const char *ra[] = { "/usr/bin/strace", "-c", "-e", "trace=recvfrom,recvmsg", "-o", out, tl_bin("zcrecv"),
			     "--port", portbuf, "--expect", "64M", "--size", "64K", "--pull", "4M", NULL };
	struct tl_result r;
	tl_run(&r, 1, T_LONG, ra, NULL);
	cr_assert_eq(tl_wait(&snd, 30000), 0, "sender failed");
	long copies = strace_calls_of(out, "recvfrom") + strace_calls_of(out, "recvmsg");
	unlink(out);
	cr_assert(strstr(r.out, " ok"), "receiver output: %s", r.out);
	assert_mapped_at_least(&r, 64 * MiB, 88.0);
	uint64_t calls = total(&r, "zc_calls"), reads = total(&r, "reads");
	cr_assert_leq((double)calls, 1.5 * (double)reads, "%llu mapping calls for %llu reads",
		      (unsigned long long)calls, (unsigned long long)reads);
	cr_assert_gt(copies, 0, "no copy seen: the count proves nothing");
	cr_assert_leq((double)copies, 2.25 * (double)reads, "%ld copies for %llu reads", copies,
		      (unsigned long long)reads);
	tl_free(&r);
}

/* A plain sender's pages never map.  Once an fd is in back-off, a read
 * that probes again and meets whole unmappable pages copies the rest of
 * its room at once instead of asking skb by skb: 64 MiB queued 4 MiB at a
 * time, 1 MiB reads, took 113 mapping calls for 65 reads before, 76 now
 * (most of them the four reads before the back-off, which still ask). */
Test(core, probes_of_an_unmappable_stream_ask_once, .timeout = 240)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "plain", "--pull", NULL };
	const char *ra[] = { "--size", "1M", "--pull", "4M", NULL };
	transfer(&r, "64M", sa, ra, NULL);
	cr_assert_eq(total(&r, "bytes_mapped"), 0);
	uint64_t calls = total(&r, "zc_calls"), reads = total(&r, "reads");
	cr_assert_gt(calls, 0, "the mapped path was never tried");
	cr_assert_leq(calls, reads + reads / 3, "%llu mapping calls for %llu reads", (unsigned long long)calls,
		      (unsigned long long)reads);
	tl_free(&r);
}

Test(core, plain_sender_nothing_mapped_all_intact, .timeout = 240)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "plain", NULL };
	transfer(&r, "256M", sa, NULL, NULL);
	cr_assert_eq(total(&r, "bytes_mapped"), 0);
	cr_assert_eq(total(&r, "bytes_copied"), 256 * MiB);
	cr_assert_gt(total(&r, "zc_calls"), 0, "the mapped path was never tried");
	cr_assert(strstr(r.json, "\"unmappable\""), "reason not reported: %s", r.json);
	/* Probes: four reads at the start, then one at the end of each
	 * back-off period (16, 32, ... 1,024 reads): under 16 for any number
	 * of reads this transfer makes (four a period would be 20 or more). */
	uint64_t reads = total(&r, "reads"), probes = tl_json_u64(r.json, "\"unmappable\":", "reads");
	cr_assert_leq(probes, 16, "%llu probing reads of %llu: %s", (unsigned long long)probes,
		      (unsigned long long)reads, r.json);
	tl_free(&r);
}

/* Every hooked receive call maps, and scatters correctly into iovecs. */
static void api_case(const char *api, const char *iov, const char *size, int waitall)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *ra[12] = { "--api", api, "--size", size, "--mss", "4108" };
	int n = 6;
	if (iov) {
		ra[n++] = "--iov";
		ra[n++] = iov;
	}
	if (waitall)
		ra[n++] = "--waitall";
	ra[n] = NULL;
	transfer(&r, "64M", sa, ra, NULL);
	/* proves the call goes through the mapped path and scatters right;
	 * the 99% bar is the 256 MiB test's */
	assert_mapped_at_least(&r, 64 * MiB, 97.0);
	tl_free(&r);
}

Test(core, api_read, .timeout = 120) { api_case("read", NULL, "1M", 0); }
Test(core, api_read_chk, .timeout = 120) { api_case("read_chk", NULL, "1M", 0); }
Test(core, api_recv, .timeout = 120) { api_case("recv", NULL, "256K", 0); }
Test(core, api_recv_waitall, .timeout = 120) { api_case("recv", NULL, "1M", 1); }
Test(core, api_recvfrom, .timeout = 120) { api_case("recvfrom", NULL, "1M", 0); }
Test(core, api_readv_3_uneven_iovecs, .timeout = 120) { api_case("readv", "3", "1000000", 0); }
Test(core, api_recvmsg_4_iovecs_waitall, .timeout = 120) { api_case("recvmsg", "4", "1M", 1); }

Test(core, small_reads_pass_through, .timeout = 120)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *ra[] = { "--size", "4096", NULL };
	transfer(&r, "16M", sa, ra, NULL);
	cr_assert_eq(total(&r, "bytes_mapped"), 0);
	cr_assert_eq(total(&r, "zc_calls"), 0);
	cr_assert_eq(tl_json_u64(r.json, "\"small_read\":", "bytes"), 16 * MiB);
	tl_free(&r);
}

Test(core, threads_share_one_socket_every_byte_once, .timeout = 180)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *ra[] = { "--threads", "4", NULL };
	transfer(&r, "128M", sa, ra, NULL);
	cr_assert(strstr(r.out, "pieces="), "%s", r.out);
	assert_mapped_at_least(&r, 128 * MiB, 90.0);
	tl_free(&r);
}

/* Pass-through reads (3000 bytes, below ZCSHIM_MIN_READ) of some threads
 * beside mapped reads of others: no read may span another's. */
Test(core, threads_mixing_small_and_mapped_reads_every_byte_once, .timeout = 180)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *ra[] = { "--threads", "4", "--mixed", NULL };
	transfer(&r, "64M", sa, ra, NULL);
	cr_assert(strstr(r.out, "pieces="), "%s", r.out);
	cr_assert_gt(total(&r, "bytes_mapped"), 0, "the mapped readers must map");
	tl_free(&r);
}

/* ZCSHIM_MODE=auto with the costs injected (no timing in a test): where
 * mapping is cheaper it maps as map mode does; where copying is, it copies
 * and still samples the mapped path, so zcstat can say how much of the
 * traffic was mappable. */
Test(core, auto_mode_maps_when_mapping_is_cheaper, .timeout = 120)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *env[] = { "ZCSHIM_MODE=auto", "ZCSHIM_AUTO_COSTS=300000:1000000", NULL };
	transfer(&r, "64M", sa, NULL, env);
	/* What took the mapped path mapped; what did not is the copy samples,
	 * whose bytes depend on how full those reads happened to be: their
	 * number is bounded, the mapped share only loosely. */
	uint64_t m = total(&r, "bytes_mapped"), probed = total(&r, "bytes_probed");
	/* (95, not 99: under ASan the sender's MSG_ZEROCOPY sends fall back to
	 * copies now and then, and 98.98% of the mapped path's bytes mapped.) */
	cr_assert_geq(100 * m, 95 * probed, "mapped %llu of %llu probed: %s", (unsigned long long)m,
		      (unsigned long long)probed, r.json);
	cr_assert_geq(100 * m, 85 * 64 * MiB, "mostly mapped: %s", r.json);
	uint64_t samples = tl_json_u64(r.json, "\"auto_copy\":", "reads");
	samples = samples == UINT64_MAX ? 0 : samples;	/* none taken */
	/* Learning takes three copy samples (and the process's first read,
	 * never timed); then one in 16 at most. */
	cr_assert_leq(samples, 4 + total(&r, "reads") / 16 + 1, "copy samples, not copying: %s", r.json);
	cr_assert(strstr(r.json, "\"mode\":\"auto\""), "%s", r.json);
	cr_assert(strstr(r.json, "\"verdict\":\"map\""), "%s", r.json);
	cr_assert_eq(tl_json_u64(r.json, "\"auto\":", "map_ns_per_mib"), 300000);
	cr_assert_eq(tl_json_u64(r.json, "\"auto\":", "copy_ns_per_mib"), 1000000);
	tl_free(&r);
}

Test(core, auto_mode_copies_when_copying_is_cheaper_and_still_samples, .timeout = 120)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *env[] = { "ZCSHIM_MODE=auto", "ZCSHIM_AUTO_COSTS=3000000:1000000", NULL };
	transfer(&r, "64M", sa, NULL, env);
	uint64_t m = total(&r, "bytes_mapped"), probed = total(&r, "bytes_probed");
	cr_assert_gt(m, 0, "the mapped path must still be sampled");
	/* Reads that took the mapped path: while learning, the one that makes
	 * the window and three timed samples; then one in 16 at most.  Their
	 * bytes depend on how full those reads were (up to 1 MiB each: 4 MiB
	 * was seen under ASan), so the reads are what is bounded. */
	uint64_t reads = total(&r, "reads"), copies = tl_json_u64(r.json, "\"auto_copy\":", "reads");
	cr_assert_neq(copies, UINT64_MAX, "%s", r.json);
	cr_assert_leq(reads - copies, 4 + reads / 16 + 1, "copying is cheaper: %llu of %llu reads mapped: %s",
		      (unsigned long long)(reads - copies), (unsigned long long)reads, r.json);
	cr_assert_lt(m, 16 * MiB, "copying is cheaper: %llu bytes mapped", (unsigned long long)m);
	cr_assert_geq(100 * m, 95 * probed, "sampled traffic from this sender maps: %llu of %llu",
		      (unsigned long long)m, (unsigned long long)probed);
	cr_assert(strstr(r.json, "\"verdict\":\"copy\""), "%s", r.json);
	cr_assert(strstr(r.json, "\"auto_copy\""), "the reason must be named: %s", r.json);
	tl_free(&r);
}

/* map mode (the default) never consults the estimates. */
Test(core, auto_mode_map_mode_maps_whatever_the_costs, .timeout = 120)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *env[] = { "ZCSHIM_AUTO_COSTS=3000000:1000000", NULL };
	transfer(&r, "64M", sa, NULL, env);
	assert_mapped_at_least(&r, 64 * MiB, 95.0);
	cr_assert(strstr(r.json, "\"mode\":\"map\""), "%s", r.json);
	tl_free(&r);
}

/* rt_sigprocmask calls in a `strace -c` summary (0: none listed). */
static long sigprocmask_calls(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long calls = 0;
	while (f && fgets(line, sizeof(line), f)) {
		double pct, secs;
		long usecs, c;
		if (strstr(line, "rt_sigprocmask") && sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &c) == 4)
			calls = c;
	}
	if (f)
		fclose(f);
	unlink(path);
	return calls;
}

/* Signals are blocked around the locked part of a mapped read only once
 * the program has a handler that could jump out of it (sigwatch.h): a
 * program without one pays no system call for it; one with a handler
 * (here zcrecv's SIGALRM storm, set with sigaction) pays two per read. */
Test(core, signals_blocked_only_when_a_handler_is_installed, .timeout = 120)
{
	for (int storm = 0; storm <= 1; storm++) {
		struct tl_proc snd;
		const char *sa[] = { "--bytes", "64M", "--mode", "zerocopy", "--mss", "4108", NULL };
		char portbuf[16], out[] = "/tmp/zcshim-strace-XXXXXX";
		sender_and_trace_file(&snd, sa, portbuf, out);
		const char *ra[] = { "/usr/bin/strace", "-f", "-c", "-e", "trace=rt_sigprocmask", "-o", out,
				     tl_bin("zcrecv"), "--port", portbuf, "--expect", "64M", "--size", "1M",
				     storm ? "--signals-us" : NULL, "20000", NULL };
		struct tl_result r;
		tl_run(&r, 1, T_LONG, ra, NULL);
		cr_assert_eq(tl_wait(&snd, 30000), 0);
		cr_assert(strstr(r.out, " ok"), "%s", r.out);
		uint64_t calls = total(&r, "zc_calls");
		long masks = sigprocmask_calls(out);
		cr_assert_gt(calls, 32, "the mapped path must run: %s", r.json);
		if (storm)
			cr_assert_geq(masks, 2 * 32, "with a handler: %ld rt_sigprocmask for %llu zero-copy calls", masks,
				      (unsigned long long)calls);
		else
			cr_assert_lt(masks, 16, "no handler: %ld rt_sigprocmask calls", masks);
		tl_free(&r);
	}
}

Test(core, config_min_read_from_environment, .timeout = 120)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *ra[] = { "--size", "1M", NULL };
	const char *env[] = { "ZCSHIM_MIN_READ=2M", NULL };
	transfer(&r, "16M", sa, ra, env);
	cr_assert_eq(total(&r, "bytes_mapped"), 0, "1M reads below a 2M minimum must not map");
	cr_assert_eq(tl_json_u64(r.json, NULL, "min_read"), 2 * MiB);
	tl_free(&r);
}

Test(core, config_window_from_environment_and_bad_value_warns_once, .timeout = 120)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	char logpath[] = "/tmp/zcshim-log-XXXXXX";
	int fd = mkstemp(logpath);
	close(fd);
	char logenv[64];
	snprintf(logenv, sizeof(logenv), "ZCSHIM_LOG_FILE=%s", logpath);
	const char *env[] = { "ZCSHIM_WINDOW=lots", "ZCSHIM_LOG=info", logenv, NULL };
	transfer(&r, "16M", sa, NULL, env);
	cr_assert_eq(tl_json_u64(r.json, NULL, "window"), 2 * MiB, "bad value must fall back to the default");
	assert_mapped_at_least(&r, 16 * MiB, 90.0);
	FILE *f = fopen(logpath, "r");
	char buf[8192] = { 0 };
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	unlink(logpath);
	buf[n] = 0;
	cr_assert_eq(tl_count(buf, "ZCSHIM_WINDOW"), 1, "log: %s", buf);
	cr_assert(strstr(buf, "zero-copy receive available"), "log: %s", buf);
	tl_free(&r);

	const char *env2[] = { "ZCSHIM_WINDOW=256K", NULL };
	transfer(&r, "16M", sa, NULL, env2);
	cr_assert_eq(tl_json_u64(r.json, NULL, "window"), 256 * 1024);
	assert_mapped_at_least(&r, 16 * MiB, 90.0);
	tl_free(&r);
}

Test(core, config_disable_means_plain_libc, .timeout = 120)
{
	struct tl_result r;
	const char *sa[] = { "--mode", "zerocopy", "--mss", "4108", NULL };
	const char *env[] = { "ZCSHIM_DISABLE=1", NULL };
	transfer(&r, "16M", sa, NULL, env);
	cr_assert(strstr(r.json, "\"processes\":[]"), "a disabled shim must not count: %s", r.json);
	tl_free(&r);
}

static void no_kernel(const char *mode)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "32M", "--mode", "zerocopy", "--mss", "4108", NULL };
	int port = tl_sender(&snd, sa);
	char portbuf[16], logenv[80];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	char logpath[] = "/tmp/zcshim-log-XXXXXX";
	close(mkstemp(logpath));
	snprintf(logenv, sizeof(logenv), "ZCSHIM_LOG_FILE=%s", logpath);
	const char *ra[] = { tl_bin("zcnozc"), mode, tl_bin("zcrecv"), "--port", portbuf, "--expect", "32M", NULL };
	if (!mode)
		memmove(ra + 1, ra + 2, 6 * sizeof(ra[0]));
	const char *env[] = { "ZCSHIM_LOG=info", logenv, NULL };
	struct tl_result r;
	tl_run(&r, 1, T_LONG, ra, env);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert_eq(tl_json_bool(r.json, "kernel_zerocopy"), 0, "%s", r.json);
	cr_assert_eq(total(&r, "bytes_mapped"), 0);
	cr_assert_eq(total(&r, "bytes_copied"), 32 * MiB);
	cr_assert(strstr(r.json, "\"no_kernel\""), "%s", r.json);
	FILE *f = fopen(logpath, "r");
	char buf[8192] = { 0 };
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
	fclose(f);
	unlink(logpath);
	cr_assert_eq(tl_count(buf, "zero-copy receive unavailable"), 1, "said once, got: %s", buf);
	tl_free(&r);
}

Test(core, kernel_without_zerocopy_receive_everything_passes_through, .timeout = 120) { no_kernel(NULL); }
Test(core, kernel_mmap_of_window_refused_everything_passes_through, .timeout = 120) { no_kernel("--mmap"); }

Test(core, memory_thousand_idle_connections_bounded_rssfile, .timeout = 240)
{
	struct tl_result r;
	const char *a[] = { tl_bin("zcsem"), "manyidle", NULL };
	tl_run(&r, 1, T_LONG, a, NULL);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "RssFile growth within 64 MiB"), "%s", r.out);
	/* and the reads really were mapped, or the bound proves nothing */
	uint64_t m = total(&r, "bytes_mapped");
	cr_assert_geq(m, 1000ull * 256 * 1024 * 9 / 10, "mapped only %llu", (unsigned long long)m);
	tl_free(&r);
}

/* "SYSCALL" calls in a `strace -c` summary (0: none listed). */
static long strace_calls_of(const char *path, const char *syscall)
{
	FILE *f = fopen(path, "r");
	char line[256], name[64];
	long calls = 0;
	while (f && fgets(line, sizeof(line), f)) {
		double pct, secs;
		long usecs, c, err;
		if (sscanf(line, "%lf %lf %ld %ld %ld %63s", &pct, &secs, &usecs, &c, &err, name) == 6 ||
		    sscanf(line, "%lf %lf %ld %ld %63s", &pct, &secs, &usecs, &c, name) == 5)
			if (!strcmp(name, syscall))
				calls = c;
	}
	if (f)
		fclose(f);
	return calls;
}

/* #23: a new connection costs no system call the plain program does not
 * make: the peer comes from connect() (no getpeername), O_NONBLOCK from
 * socket()'s flags (no fcntl), a window that mapped nothing is not
 * released (no madvise), and a peer whose data never maps is learned once
 * for all its connections: by its first connection (four unmappable runs),
 * then probed on the 5th, 21st and 85th (not a dozen failed zero-copy calls
 * each; 24 calls in all at 9ba74b5, 11 now).  200 sequential 16 KiB
 * connections from a plain sender, every read on the mapped path
 * (MIN_READ 0). */
Test(core, short_connections_cost_no_extra_system_calls, .timeout = 120)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "16K", "--mode", "plain", "--serve-forever", NULL };
	char portbuf[16], out[] = "/tmp/zcshim-strace-XXXXXX";
	sender_and_trace_file(&snd, sa, portbuf, out);
	const char *ra[] = { "/usr/bin/strace", "-c", "-o", out, tl_bin("zcrecv"), "--port", portbuf, "--seq", "200",
			     "--size", "256K", "--expect", "16K", NULL };
	const char *env[] = { "ZCSHIM_MIN_READ=0", NULL };
	struct tl_result r;
	tl_run(&r, 1, T_LONG, ra, env);
	tl_kill(&snd);
	cr_assert(strstr(r.out, "bytes=3276800 ok conns=200"), "%s", r.out);
	long peer = strace_calls_of(out, "getpeername"), fcntl = strace_calls_of(out, "fcntl");
	long madv = strace_calls_of(out, "madvise"), gso = strace_calls_of(out, "getsockopt");
	unlink(out);
	cr_assert_eq(peer, 0, "getpeername per connection: %ld", peer);
	/* One in the process: the shim's /proc/self/maps moved high. */
	cr_assert_leq(fcntl, 1, "fcntl per connection: %ld", fcntl);
	cr_assert_lt(madv, 20, "madvise per connection: %ld", madv);
	uint64_t calls = total(&r, "zc_calls");
	cr_assert_lt(calls, 16, "the peer's data never maps, yet %llu zero-copy calls for 200 connections: %s",
		     (unsigned long long)calls, r.json);
	cr_assert_lt(gso, 60, "%ld getsockopt for 200 connections", gso);
	tl_free(&r);
}

/* The largest length of the madvise(MADV_DONTNEED) calls on the shim's
 * windows an strace -e madvise log at path shows, how many there were
 * (*n) and their lengths' sum (*sum).  A window is known by the MADV_DONTFORK made on it when it
 * was made; the calls of others (a sanitizer's runtime) are not counted. */
static long madvise_max_len(const char *path, long *n, long *sum)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned long wins[16];
	long max = 0, nw = 0;
	*n = *sum = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long addr, len;
		if (sscanf(line, "madvise(%lx, %lu,", &addr, &len) != 2)
			continue;
		if (strstr(line, "MADV_DONTFORK") && nw < 16)
			wins[nw++] = addr;
		for (long i = 0; strstr(line, "MADV_DONTNEED") && i < nw; i++)
			if (addr == wins[i]) {
				(*n)++;
				*sum += (long)len;
				max = (long)len > max ? (long)len : max;
			}
	}
	if (f)
		fclose(f);
	return max;
}

/* ...and a mapped short connection makes no call the floor does not: 30
 * connections of 16 KiB from the MSS 4108 sender, each mapped whole.  Its
 * FIN, which the kernel's queue count shows as one byte more, costs no
 * mapping call that answers EIO (two calls a connection before, one
 * now).  The window's pages go back at the last close by a madvise of
 * what was mapped, not of the whole 2 MiB window (2 MiB before a7e24c3),
 * once the window holds 64 KiB: one release for four such connections
 * (one each before run O), and under 64 KiB left mapped at the end. */
Test(core, mapped_short_connections_ask_once_and_release_what_they_mapped, .timeout = 120)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "16K", "--mode", "zerocopy", "--mss", "4108", "--serve-forever", NULL };
	char portbuf[16], out[] = "/tmp/zcshim-strace-XXXXXX";
	sender_and_trace_file(&snd, sa, portbuf, out);
	const char *ra[] = { "/usr/bin/strace", "-e", "trace=madvise", "-o", out, tl_bin("zcrecv"), "--port", portbuf,
			     "--seq", "30", "--size", "256K", "--mss", "4108", "--expect", "16K", NULL };
	struct tl_result r;
	tl_run(&r, 1, T_LONG, ra, NULL);
	tl_kill(&snd);
	long n, sum, max = madvise_max_len(out, &n, &sum);
	unlink(out);
	cr_assert(strstr(r.out, "bytes=491520 ok conns=30"), "%s", r.out);
	uint64_t mapped = total(&r, "bytes_mapped"), calls = total(&r, "zc_calls");
	cr_assert_eq(mapped, 30ull * 16384, "%llu bytes mapped: %s", (unsigned long long)mapped, r.json);
	cr_assert_leq(calls, 30 + 2, "%llu mapping calls for 30 connections: %s", (unsigned long long)calls, r.json);
	cr_assert(n >= 7 && n <= 8, "%ld releases for 30 connections of 16 KiB (one per 64 KiB mapped)", n);
	cr_assert_leq(max, 64 * 1024, "a release of %ld bytes for connections of 16 KiB", max);
	cr_assert_gt(sum, (long)mapped - 64 * 1024, "%ld of %llu mapped bytes released: 64 KiB or more kept idle", sum,
		     (unsigned long long)mapped);
	tl_free(&r);
}

/* ...and the peer memory does not keep a mappable peer from mapping: 50
 * connections of 256 KiB from the MSS 4108 sender map, each of them. */
Test(core, short_connections_from_a_mappable_peer_map, .timeout = 120)
{
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "256K", "--mode", "zerocopy", "--mss", "4108", "--serve-forever", NULL };
	int port = tl_sender(&snd, sa);
	char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	const char *ra[] = { tl_bin("zcrecv"), "--port", portbuf, "--seq", "50", "--size", "256K", "--mss", "4108",
			     "--expect", "256K", NULL };
	struct tl_result r;
	tl_run(&r, 1, T_LONG, ra, NULL);
	tl_kill(&snd);
	cr_assert(strstr(r.out, "conns=50"), "%s", r.out);
	uint64_t mapped = total(&r, "bytes_mapped");
	cr_assert_geq(mapped, 50ull * 256 * 1024 * 9 / 10, "%llu of %u bytes mapped: %s", (unsigned long long)mapped,
		      50 * 256 * 1024, r.json);
	tl_free(&r);
}

/* ...and what is learned of a host is learned per service: one server
 * process accepts 40 short connections from a plain sender on one port,
 * then 20 from a MSG_ZEROCOPY client (MSS 4108) on another, all from
 * 127.0.0.1 (a proxy's clients and its upstream on one host).  The second
 * service's connections map from their first read; keyed by the address
 * alone, they started backed off and mapped 4% of their bytes. */
Test(core, peer_memory_is_per_service, .timeout = 120)
{
	char zcsend_env[4200];
	snprintf(zcsend_env, sizeof(zcsend_env), "ZCSEND=%s", tl_bin("zcsend"));
	/* The coproc's pipe kept as fd 3: bash drops ${S[0]} once it has
	 * reaped the server, which may be before its last line is read. */
	const char *script = "coproc S { exec /usr/bin/python3 tests/apps/twoports.py 40 20; }; p=$S_PID; exec 3<&${S[0]}; "
			     "read -r _ A B <&3; "
			     "$ZCSEND --connect $A --conns 40 --bytes 1M --mode plain >/dev/null || exit 1; "
			     "$ZCSEND --connect $B --conns 20 --bytes 1M --mode zerocopy --mss 4108 >/dev/null || exit 1; "
			     "cat <&3; wait $p";
	const char *argv[] = { "/bin/bash", "-c", script, NULL };
	const char *env[] = { zcsend_env, NULL };
	struct tl_result r;
	tl_run(&r, 1, T_LONG, argv, env);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "A=41943040 B=20971520"), "%s", r.out);
	const char *py = r.json ? strstr(r.json, "\"command\":\"/usr/bin/python3 tests/apps/twoports.py") : NULL;
	cr_assert(py, "no python3 process in %s", r.json);
	uint64_t mapped = tl_json_u64(py, "\"totals\":", "bytes_mapped");
	cr_assert_geq(mapped, 20ull * MiB * 9 / 10, "the second service mapped %llu of %llu bytes: %.600s",
		      (unsigned long long)mapped, 20ull * MiB, py);
	tl_free(&r);
}
