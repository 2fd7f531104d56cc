/*
 * test_cli.c - the shipped tools' command lines, as users of Debian tools
 * expect them (getopt_long): --opt=value and --opt value alike, attached
 * short-option values, --help on stdout with status 0, a bad option or
 * value with status 2 and a message, and CMD's own options left to CMD.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static int run(const char *const argv[], char **out)
{
	struct tl_result r;
	tl_run(&r, 0, 30000, argv, NULL);
	int st = r.status;
	*out = strdup(r.out ? r.out : "");
	tl_free(&r);
	return st;
}

Test(cli, zcstat_long_options_with_equals_and_cmd_options_left_alone)
{
	char path[] = "/tmp/zcshim-cli-XXXXXX", *out;
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	char o[64];
	snprintf(o, sizeof(o), "--output=%s", path);
	/* "-n" is echo's, after CMD: zcstat must not take it. */
	const char *a[] = { tl_bin("zcstat"), "--json", o, "--", "/bin/echo", "-n", "x", NULL };
	cr_assert_eq(run(a, &out), 0, "%s", out);
	cr_assert_str_eq(out, "x");
	free(out);
	FILE *f = fopen(path, "r");
	char buf[64] = { 0 };
	cr_assert(f && fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	unlink(path);
	cr_assert(!strncmp(buf, "{\"version\":1", 12), "the JSON report went to --output: %s", buf);
}

Test(cli, zcstat_help_and_bad_values)
{
	char *out;
	const char *h[] = { tl_bin("zcstat"), "--help", NULL };
	cr_assert_eq(run(h, &out), 0);
	cr_assert(strstr(out, "usage: zcstat"), "--help prints the usage on stdout: %s", out);
	free(out);
	const char *bad[][5] = {
		{ "-p", "abc", NULL }, { "--pid=12x", NULL }, { "-p1", "-i", "0", NULL }, { "--bogus", NULL },
		{ "--json=yes", "--", "true", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[7] = { tl_bin("zcstat") };
		for (int k = 0; bad[i][k]; k++)
			a[k + 1] = bad[i][k];
		cr_assert_eq(run(a, &out), 2, "zcstat %s %s: status 2", bad[i][0], bad[i][1] ? bad[i][1] : "");
		free(out);
	}
	/* An attached value, and a bounded count: one snapshot of no one. */
	const char *ok[] = { tl_bin("zcstat"), "-p999999", "-c1", "-i0.1", "--json", NULL };
	int st = run(ok, &out);
	cr_assert(st == 0 || st == 1, "zcstat -p999999 -c1 -i0.1: %d %s", st, out);
	free(out);
}

Test(cli, doctor_takes_equals_forms)
{
	char *out;
	const char *a[] = { tl_bin("zcstat"), "doctor", "--no-selftest", "--json", "--peer=127.0.0.1", NULL };
	int st = run(a, &out);
	cr_assert(st == 0 || st == 1, "%d %s", st, out);
	cr_assert(strstr(out, "\"id\":\"path.127.0.0.1\""), "--peer=HOST was taken: %s", out);
	free(out);
	const char *bad[] = { tl_bin("zcstat"), "doctor", "--pid=x", NULL };
	cr_assert_eq(run(bad, &out), 2);
	free(out);
}

Test(cli, zcsink_and_launcher)
{
	char *out;
	const char *h[] = { tl_bin("zcsink"), "--help", NULL };
	cr_assert_eq(run(h, &out), 0);
	cr_assert(strstr(out, "usage: zcsink"));
	free(out);
	const char *bad[] = { tl_bin("zcsink"), "--listen=0", "--size=0", NULL };
	cr_assert_eq(run(bad, &out), 2);
	free(out);
	const char *l[] = { tl_bin("zcshim"), "--mode=auto", "--min-read", "128K", "--", "/bin/sh", "-c",
			    "echo $ZCSHIM_MODE $ZCSHIM_MIN_READ", NULL };
	cr_assert_eq(run(l, &out), 0);
	cr_assert_str_eq(out, "auto 128K\n");
	free(out);
	const char *lh[] = { tl_bin("zcshim"), "--help", NULL };
	cr_assert_eq(run(lh, &out), 0);
	cr_assert(strstr(out, "usage: zcshim"));
	free(out);
	const char *lb[] = { tl_bin("zcshim"), "--bogus", "--", "true", NULL };
	cr_assert_eq(run(lb, &out), 2);
	free(out);
}

/* --version: the package's version, on stdout, status 0, for every tool. */
Test(cli, every_tool_says_its_version)
{
	const char *tools[] = { "zcstat", "zcsink", "zcshim", "zcbench", "zcfloor" };
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		char *out;
		const char *a[] = { tl_bin(tools[i]), "--version", NULL };
		cr_assert_eq(run(a, &out), 0, "%s --version", tools[i]);
		cr_assert(!strncmp(out, tools[i], strlen(tools[i])) && strchr(out, '.'), "%s --version: %s", tools[i], out);
		free(out);
	}
}
