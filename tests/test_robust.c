/*
 * test_robust.c - bad input, differentially (issue 6, first part).
 *
 * zcbad performs ~60 calls with bad fds, bad buffers, odd lengths, every
 * receive flag alone and in pairs, and odd iovec counts, printing each
 * result.  The transcript must be identical without the shim, with it at
 * the default minimum read, and with the mapped path taking 16K reads; and
 * the process must survive.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <limits.h>
#include <stdlib.h>

#include "segread.h"
#include "testlib.h"

static void differential(const char *min_read)
{
	const char *argv[] = { tl_bin("zcbad"), NULL };
	char env0[64];
	snprintf(env0, sizeof(env0), "ZCSHIM_MIN_READ=%s", min_read);
	const char *env[] = { env0, NULL };
	struct tl_result plain, shim;
	tl_run(&plain, 0, 60000, argv, NULL);
	tl_run(&shim, 1, 60000, argv, env);
	cr_assert_eq(plain.status, 0);
	cr_assert_eq(shim.status, 0, "the shim run died: %s", shim.out);
	cr_assert(strstr(plain.out, "survived"), "%s", plain.out);
	cr_assert(!strstr(plain.out, "WRONG"), "%s", plain.out);
	cr_assert_str_eq(shim.out, plain.out, "with the shim:\n%s", shim.out);
	cr_assert_gt(tl_json_u64(shim.json, "\"totals\":", "zc_calls"), 0, "mapped path never taken: %s", shim.json);
	tl_free(&plain);
	tl_free(&shim);
}

Test(robust, bad_input_same_results_as_libc_default_min_read, .timeout = 120) { differential("64K"); }
Test(robust, bad_input_same_results_as_libc_mapped_path_from_16K, .timeout = 120) { differential("16K"); }

Test(robust, memcheck_valgrind_receiving_64M_under_the_shim, .timeout = 300)
{
#ifdef ZCSHIM_SANITIZE
	cr_skip_test("valgrind cannot run sanitizer-instrumented programs");
#endif
	struct tl_proc snd;
	const char *sa[] = { "--bytes", "64M", "--mode", "zerocopy", "--mss", "4108", NULL };
	int port = tl_sender(&snd, sa);
	char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	/* zcstat preloads the shim; valgrind passes LD_PRELOAD on to zcrecv */
	const char *a[] = { "/usr/bin/valgrind", "--error-exitcode=9", "-q", tl_bin("zcrecv"), "--port", portbuf,
			    "--expect", "64M", NULL };
	struct tl_result r;
	tl_run(&r, 1, 240000, a, NULL);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	cr_assert_eq(r.status, 0, "valgrind reported errors (exit %d): %s", r.status, r.out);
	cr_assert(strstr(r.out, "bytes=67108864 ok"), "%s", r.out);
	cr_assert_gt(tl_json_u64(r.json, "\"totals\":", "bytes_mapped"), 32u << 20,
		     "the mapped path was not exercised: %s", r.json);
	tl_free(&r);
}

Test(robust, asan_the_shim_itself_under_asan_ubsan, .timeout = 120)
{
#ifdef ZCSHIM_SANITIZE
	cr_skip_test("run in the plain build: the helpers there are not instrumented themselves");
#endif
	/* The documented order: the sanitizer runtime first, then the shim. */
	FILE *p = popen("gcc -print-file-name=libasan.so", "r");
	char libasan[512] = { 0 }, shim[600], preload[1200], dir[] = "/tmp/zcshim-asan-XXXXXX", direnv[64];
	cr_assert(p && fgets(libasan, sizeof(libasan), p));
	pclose(p);
	libasan[strcspn(libasan, "\n")] = 0;
	cr_assert(realpath(tl_bin("libzcshim-asan.so"), shim));
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s %s", libasan, shim);
	cr_assert(mkdtemp(dir));
	snprintf(direnv, sizeof(direnv), "ZCSHIM_STATS_DIR=%s", dir);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s 10 4 2>&1", tl_bin("zcstress"));
	const char *a[] = { "/bin/sh", "-c", cmd, NULL };
	const char *env[] = { preload, direnv, "ZCSHIM_SESSION=asan-test", "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1",
			      "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1", NULL };
	struct tl_result r;
	tl_run(&r, 0, 100000, a, env);
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(!strstr(r.out, "Sanitizer") && !strstr(r.out, "runtime error") && !strstr(r.out, "cannot be preloaded"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "corrupt=0,"), "%s", r.out);
	/* the shim really ran the mapped path: its segment for that pid */
	int pid = 0;
	const char *pp = strstr(r.out, "pid=");
	cr_assert(pp && sscanf(pp, "pid=%d", &pid) == 1, "%s", r.out);
	char seg[128], err[128];
	snprintf(seg, sizeof(seg), "%s/%d-0.zcs", dir, pid);
	struct segview v;
	cr_assert_eq(segread_open(seg, -1, &v, err, sizeof(err)), 0, "%s: %s", seg, err);
	struct segfmt_counters t;
	segread_totals(&v, &t);
	cr_assert_gt(t.bytes_mapped, 0, "nothing mapped under the ASan shim");
	segread_close(&v);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	tl_free(&r);
}

/* The shim's hooks need no more stack than libc's own, give or take
 * 2 KiB: zcstack measures each call on a painted stack, plain and under
 * the shim (every read on the mapped path), and reads on an 8 KiB
 * sigaltstack, a PTHREAD_STACK_MIN thread and an 8 KiB coroutine (which
 * die of SIGSEGV where a hook needs more). */
static void stack_use(const char *sender)
{
#ifdef ZCSHIM_SANITIZE
	cr_skip_test("sanitizers change every frame and move locals off the stack");
#endif
	const char *argv[] = { tl_bin("zcstack"), sender, NULL };
	const char *env[] = { "ZCSHIM_MIN_READ=0", NULL };
	struct tl_result plain, shim;
	tl_run(&plain, 0, 60000, argv, NULL);
	tl_run(&shim, 1, 60000, argv, env);
	cr_assert_eq(plain.status, 0, "%s", plain.out);
	cr_assert_eq(shim.status, 0, "the shim run died (a small stack overflowed?): %s", shim.out);
	cr_assert_null(strstr(shim.out, "BAD"), "%s", shim.out);
	const char *p = plain.out, *s = shim.out;
	int lines = 0;
	for (;;) {
		const char *pc = strstr(p, ": "), *sc = strstr(s, ": ");
		const char *pb = pc ? strstr(pc, " bytes of stack") : NULL, *sb = sc ? strstr(sc, " bytes of stack") : NULL;
		if (!pb || !sb)
			break;
		long a = strtol(pc + 2, NULL, 10), b = strtol(sc + 2, NULL, 10);
		cr_log_info("%.*s: libc %ld, shim %ld bytes", (int)(pc - p), p, a, b);
		cr_assert(b <= a + 2048, "%.*s: %ld bytes of stack under the shim, %ld plain", (int)(pc - p), p, b, a);
		p = strchr(pb, '\n') + 1;
		s = strchr(sb, '\n') + 1;
		lines++;
	}
	cr_assert_eq(lines, 6, "%s", shim.out);
	cr_assert(strstr(shim.out, "an 8 KiB coroutine: read ok"), "%s", shim.out);
	/* the reads took the mapped path: they mapped, or asked the kernel */
	cr_assert_gt(tl_json_u64(shim.json, "\"totals\":", strcmp(sender, "plain") ? "bytes_mapped" : "zc_calls"), 0,
		     "%s", shim.json);
	tl_free(&plain);
	tl_free(&shim);
}

Test(robust, stack_mapped_reads_need_at_most_2k_more_than_libc, .timeout = 120) { stack_use("zc4108"); }
Test(robust, stack_unmappable_reads_need_at_most_2k_more_than_libc, .timeout = 120) { stack_use("plain"); }
