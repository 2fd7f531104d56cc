/*
 * test_install.c - install like a system tool: make install/uninstall and
 * the Debian packages, each followed by a transfer from the installed
 * paths only and a check that removal leaves nothing (tests/scripts/
 * install.sh does the work).  The package test needs root and says
 * "skip" without it.  Run from the repository by `make test`.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static void run(const char *how)
{
	const char *san = getenv("ZCSHIM_SANITIZE_RUN");
	if (san && *san)
		cr_skip_test("installation is tested by the plain `make test`, not the %s build", san);
	const char *build = getenv("ZCSHIM_BUILD");
	if (!build || !*build)
		build = "build";
	const char *argv[] = { "/bin/sh", "tests/scripts/install.sh", how, build, NULL };
	struct tl_result r;
	tl_run(&r, 0, 600000, argv, NULL);
	if (strstr(r.out, "skip:")) {
		cr_log_warn("%s", r.out);
		tl_free(&r);
		cr_skip_test("%s", r.out);
	}
	cr_assert_eq(r.status, 0, "%s", r.out);
	cr_assert(strstr(r.out, "\nok\n") || !strncmp(r.out, "ok\n", 3), "%s", r.out);
	tl_free(&r);
}

Test(install, make_install_then_uninstall_leaves_nothing, .timeout = 300)
{
	run("make");
}

Test(install, debian_packages_install_run_remove_purge, .timeout = 900)
{
	run("deb");
}
