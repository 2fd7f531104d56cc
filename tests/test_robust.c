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

Test(bad_input, same_results_as_libc_default_min_read, .timeout = 120) { differential("64K"); }
Test(bad_input, same_results_as_libc_mapped_path_from_16K, .timeout = 120) { differential("16K"); }

Test(memcheck, valgrind_receiving_64M_under_the_shim, .timeout = 300)
{
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
