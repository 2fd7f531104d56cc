/*
 * test_apps.c - real, unmodified programs from Debian under the shim.
 *
 * Each program receives through a bash pipeline (pipefail, bounded by
 * timeout) twice: without the shim, then under zcstat.  Both runs must
 * exit with the same status and the received bytes must be the sender's
 * pattern, checked by zcrecv at the end of the pipe.  The shim run's
 * counters tell how much of it was mapped, per program.
 * Preconditions: `make test` installed curl, socat, iperf3, openssl, python3.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define T 180000

struct twice {
	struct tl_result plain, shim;
};

/* script runs with $ZCRECV and $ZCSEND set; both runs must succeed alike. */
static void run_twice(struct twice *t, const char *script, const char *marker)
{
	char full[4096], zr[256], zs[256];
	snprintf(zr, sizeof(zr), "ZCRECV=%s", tl_bin("zcrecv"));
	snprintf(zs, sizeof(zs), "ZCSEND=%s", tl_bin("zcsend"));
	snprintf(full, sizeof(full), "set -o pipefail; %s", script);
	const char *argv[] = { "/bin/bash", "-c", full, NULL };
	const char *env[] = { zr, zs, NULL };
	tl_run(&t->plain, 0, T, argv, env);
	tl_run(&t->shim, 1, T, argv, env);
	cr_assert_eq(t->plain.status, 0, "without the shim: exit %d: %s", t->plain.status, t->plain.out);
	cr_assert_eq(t->shim.status, t->plain.status, "with the shim: exit %d: %s", t->shim.status, t->shim.out);
	cr_assert(strstr(t->plain.out, marker), "without the shim: %s", t->plain.out);
	cr_assert(strstr(t->shim.out, marker), "with the shim: %s", t->shim.out);
}

static double mapped_pct(const char *json, const char *command)
{
	char key[128];
	snprintf(key, sizeof(key), "\"command\":\"%s", command);
	uint64_t m = tl_json_u64(json, key, "bytes_mapped"), c = tl_json_u64(json, key, "bytes_copied");
	cr_assert(m != UINT64_MAX, "no process '%s' in %s", command, json);
	cr_assert_gt(m + c, 0, "'%s' received nothing through the shim", command);
	double pct = 100.0 * (double)m / (double)(m + c);
	fprintf(stderr, "apps: %s: %.2f%% mapped of %llu bytes\n", command, pct, (unsigned long long)(m + c));
	return pct;
}

static int start_sender(struct tl_proc *p, const char *mode, int http, const char *bytes)
{
	const char *a[] = { "--bytes", bytes, "--mode", mode, "--conns", "2", http ? "--http" : NULL, NULL };
	return tl_sender(p, a);
}

Test(apps, socat_large_buffer_from_zerocopy_sender, .timeout = 240)
{
	struct tl_proc snd;
	int port = start_sender(&snd, "zerocopy", 0, "256M");
	char s[512];
	snprintf(s, sizeof(s), "timeout 120 socat -b 1048576 -u TCP:127.0.0.1:%d STDOUT | $ZCRECV --fd 0 --expect 256M",
		 port);
	struct twice t;
	run_twice(&t, s, "bytes=268435456 ok");
	cr_assert_geq(mapped_pct(t.shim.json, "socat"), 90.0);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	tl_free(&t.plain);
	tl_free(&t.shim);
}

Test(apps, curl_512M_from_zerocopy_http_sender, .timeout = 240)
{
	struct tl_proc snd;
	int port = start_sender(&snd, "zerocopy", 1, "512M");
	char s[512];
	snprintf(s, sizeof(s), "timeout 120 curl -sS --fail http://127.0.0.1:%d/ | $ZCRECV --fd 0 --expect 512M", port);
	struct twice t;
	run_twice(&t, s, "bytes=536870912 ok");
	/* At the default MSS one page per GSO unit cannot map.  Through curl
	 * the units are smaller than zcsend's own (zcstat doctor on this VM:
	 * one unmappable run every ~36 KiB mapped, 90.5% of the mapped path's
	 * bytes, vs ~94% with 64 KiB units), and the HTTP headers come first
	 * in small reads: 85% holds with room, 0% (nothing mapped) fails. */
	cr_assert_geq(mapped_pct(t.shim.json, "curl"), 85.0);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	tl_free(&t.plain);
	tl_free(&t.shim);
}

Test(apps, curl_512M_from_python_http_server, .timeout = 300)
{
	char dir[] = "/tmp/zcshim-www-XXXXXX", cmd[512], line[256];
	cr_assert(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s --stdout --bytes 512M > %s/big", tl_bin("zcsend"), dir);
	cr_assert_eq(system(cmd), 0);
	struct tl_proc srv;
	const char *a[] = { "/usr/bin/python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
			    dir, NULL };
	tl_spawn(&srv, a, NULL, 0);
	cr_assert_eq(tl_readline(&srv, line, sizeof(line), 20000), 0, "http.server did not start");
	int port = 0;
	cr_assert(sscanf(strstr(line, "port ") ? strstr(line, "port ") : "", "port %d", &port) == 1, "%s", line);
	char s[512];
	snprintf(s, sizeof(s), "timeout 150 curl -sS --fail http://127.0.0.1:%d/big | $ZCRECV --fd 0 --expect 512M", port);
	struct twice t;
	run_twice(&t, s, "bytes=536870912 ok");
	mapped_pct(t.shim.json, "curl");	/* plain sendall: expect ~0% */
	tl_kill(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	tl_free(&t.plain);
	tl_free(&t.shim);
}

static void python_client(const char *mode)
{
	struct tl_proc snd;
	int port = start_sender(&snd, "zerocopy", 0, "256M");
	char s[512];
	snprintf(s, sizeof(s), "timeout 120 /usr/bin/python3 tests/apps/pyclient.py %s %d | $ZCRECV --fd 0 --expect 256M",
		 mode, port);
	struct twice t;
	run_twice(&t, s, "bytes=268435456 ok");
	cr_assert_geq(mapped_pct(t.shim.json, "/usr/bin/python3"), 90.0);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	tl_free(&t.plain);
	tl_free(&t.shim);
}

Test(apps, python_blocking_recv_into, .timeout = 240) { python_client("blocking"); }
Test(apps, python_asyncio_streams, .timeout = 240) { python_client("asyncio"); }

Test(apps, bash_dev_tcp_and_cat_reading_the_inherited_socket, .timeout = 240)
{
	struct tl_proc snd;
	int port = start_sender(&snd, "zerocopy", 0, "256M");
	char s[512];
	snprintf(s, sizeof(s), "exec 3<>/dev/tcp/127.0.0.1/%d; timeout 120 cat <&3 | $ZCRECV --fd 0 --expect 256M", port);
	struct twice t;
	run_twice(&t, s, "bytes=268435456 ok");
	cr_assert_geq(mapped_pct(t.shim.json, "cat"), 90.0);
	cr_assert_eq(tl_wait(&snd, 30000), 0);
	tl_free(&t.plain);
	tl_free(&t.shim);
}

Test(apps, iperf3_reverse_5s, .timeout = 120)
{
	/* iperf3 rejects port 0: take one the kernel picked, then free it. */
	FILE *f = popen("/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind((\"127.0.0.1\",0));"
			"print(s.getsockname()[1])'", "r");
	int port = 0;
	cr_assert_eq(fscanf(f, "%d", &port), 1);
	pclose(f);
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	struct tl_proc srv;
	const char *a[] = { "/usr/bin/iperf3", "-s", "-B", "127.0.0.1", "-p", ps, NULL };
	tl_spawn(&srv, a, NULL, 0);
	char line[256];
	while (tl_readline(&srv, line, sizeof(line), 10000) == 0 && !strstr(line, "listening"))
		;
	char s[512];
	snprintf(s, sizeof(s), "timeout 60 iperf3 -c 127.0.0.1 -p %d -R -t 5 -J > /tmp/iperf3.$$.json; rc=$?; "
		 "grep -q '\"error\"' /tmp/iperf3.$$.json && rc=9; "
		 "grep -o '\"bytes\":[[:space:]]*[0-9]*' /tmp/iperf3.$$.json | tail -1; rm -f /tmp/iperf3.$$.json; "
		 "[ $rc = 0 ] && echo iperf-ok; exit $rc", port);
	struct twice t;
	run_twice(&t, s, "iperf-ok");
	mapped_pct(t.shim.json, "iperf3");	/* iperf3's server sends with send(): ~0% */
	tl_kill(&srv);
	tl_free(&t.plain);
	tl_free(&t.shim);
}

Test(apps, openssl_s_client_64M_over_tls, .timeout = 180)
{
	char dir[] = "/tmp/zcshim-tls-XXXXXX", cmd[1024], line[256];
	cr_assert(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "%s --stdout --bytes 64M > %s/data && cd %s && openssl req -x509 -newkey ec "
		 "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 1 -keyout k.pem -out c.pem 2>/dev/null",
		 tl_bin("zcsend"), dir, dir);
	cr_assert_eq(system(cmd), 0);
	char sh[512];
	snprintf(sh, sizeof(sh), "cd %s && exec stdbuf -oL openssl s_server -WWW -accept 127.0.0.1:0 -naccept 2 -cert c.pem -key k.pem",
		 dir);
	const char *a[] = { "/bin/sh", "-c", sh, NULL };
	struct tl_proc srv;
	tl_spawn(&srv, a, NULL, 1);	/* s_server quits at EOF on stdin: keep it open */
	int port = 0;
	while (!port && tl_readline(&srv, line, sizeof(line), 20000) == 0)
		if (strstr(line, "ACCEPT "))
			port = atoi(strrchr(line, ':') + 1);
	cr_assert_gt(port, 0);
	char s[512];
	snprintf(s, sizeof(s), "printf 'GET /data HTTP/1.0\\r\\n\\r\\n' | timeout 120 openssl s_client -quiet "
		 "-connect 127.0.0.1:%d 2>/dev/null | $ZCRECV --fd 0 --skip-headers --expect 64M", port);
	struct twice t;
	run_twice(&t, s, "bytes=67108864 ok");
	mapped_pct(t.shim.json, "openssl s_client");	/* TLS records are read 8-16K at a time */
	tl_kill(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	tl_free(&t.plain);
	tl_free(&t.shim);
}
