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
