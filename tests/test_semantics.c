/*
 * test_semantics.c - receive semantics identical to plain libc.
 *
 * Each zcsem scenario runs twice: without the shim, then under zcstat with
 * it.  Both transcripts must equal the expected one (so neither run can
 * pass by accident), and the shim's counters must show it really served
 * that socket (reads counted, zero-copy calls made) rather than stepping
 * aside.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"

/* zc: also require the mapped path to have been taken (zc_calls > 0) */
static void scenario(const char *name, const char *expect, int zc, int mapped)
{
	const char *argv[] = { tl_bin("zcsem"), name, NULL };
	/* The scenarios read 16K-256K at a time: make all of it eligible. */
	const char *env[] = { "ZCSHIM_MIN_READ=16K", NULL };
	struct tl_result plain, shim;
	tl_run(&plain, 0, 60000, argv, env);
	tl_run(&shim, 1, 60000, argv, env);
	cr_assert_eq(plain.status, 0, "plain run failed: %s", plain.out);
	cr_assert_eq(shim.status, 0, "shim run failed: %s", shim.out);
	cr_assert_str_eq(plain.out, expect, "plain libc itself differs from the expectation");
	cr_assert_str_eq(shim.out, plain.out, "with the shim:\n%s\nwithout:\n%s", shim.out, plain.out);
	uint64_t reads = tl_json_u64(shim.json, "\"totals\":", "reads");
	cr_assert(reads > 0 && reads != UINT64_MAX, "the shim counted no reads: %s", shim.json);
	if (zc)
		cr_assert_gt(tl_json_u64(shim.json, "\"totals\":", "zc_calls"), 0, "mapped path not taken: %s",
			     shim.json);
	if (mapped)
		cr_assert_gt(tl_json_u64(shim.json, "\"totals\":", "bytes_mapped"), 0, "nothing mapped: %s",
			     shim.json);
	tl_free(&plain);
	tl_free(&shim);
}

Test(semantics, blocking_wait_without_busy_loop, .timeout = 60)
{
	scenario("block", "blocked read returned data: yes\ncpu while blocked: idle\n", 1, 1);
}

Test(semantics, so_rcvtimeo_expires, .timeout = 60)
{
	scenario("rcvtimeo", "read with SO_RCVTIMEO: -1 EAGAIN\nthen with data: 65536\n", 1, 1);
}

Test(semantics, signal_with_sa_restart_restarts, .timeout = 60)
{
#ifdef ZCSHIM_SANITIZE_THREAD
	/* TSan runs a handler only when the interrupted call returns to its
	 * interceptor; with SA_RESTART the kernel restarts the read without
	 * returning, so the handler never runs and plain libc hangs too. */
	cr_skip_test("ThreadSanitizer defers signal handlers past a restarted read");
#endif
	scenario("restart", "handler ran: 1; read: data\n", 1, 1);
}

Test(semantics, signal_without_sa_restart_gives_eintr, .timeout = 60)
{
	/* 0: the read waits in the kernel before any map call, and the
	 * signal ends that wait */
	scenario("norestart", "handler ran: 1; read: -1 EINTR\n", 0, 0);
}

Test(semantics, nonblocking_eagain, .timeout = 60)
{
	scenario("nonblock",
		 "MSG_DONTWAIT, empty: -1 EAGAIN\nO_NONBLOCK read, empty: -1 EAGAIN\n"
		 "O_NONBLOCK read, 64K queued: 65536\nO_NONBLOCK read, drained: -1 EAGAIN\n", 1, 1);
}

Test(semantics, eof_is_zero_never_eio, .timeout = 60)
{
	scenario("eof", "data: 307200, then: 0, again: 0, MSG_DONTWAIT: 0\n", 1, 1);
}

Test(semantics, rst_after_data_then_econnreset_then_zero, .timeout = 60)
{
	scenario("rst", "data: 65536, then: -1 ECONNRESET, then: 0, then: 0\n", 1, 1);
}

Test(semantics, half_close, .timeout = 60)
{
	scenario("halfclose", "received 204800 then 0; peer got reply: yes\n", 1, 1);
}

Test(semantics, msg_peek_passes_through_and_loses_nothing, .timeout = 60)
{
	scenario("peek", "peek: 32768, read: 65536 (same bytes from offset 0)\n", 1, 1);
}

Test(semantics, msg_waitall, .timeout = 60)
{
	scenario("waitall", "MSG_WAITALL of 300K fed in three parts: 307200\nMSG_WAITALL at EOF: 51200\n", 1, 1);
}

Test(semantics, msg_trunc, .timeout = 60)
{
	scenario("trunc", "MSG_TRUNC 32K: 32768, then read: 32768 (from offset 32K)\n", 1, 1);
}

Test(semantics, msg_oob_and_urgent_data, .timeout = 60)
{
	scenario("oob", "urgent byte: 1 '!', stream: 65536, at mark: 1\n", 1, 1);
}

Test(semantics, msg_errqueue, .timeout = 60)
{
	scenario("errqueue", "MSG_ERRQUEUE: -1 EAGAIN\n", 0, 0);
}

Test(semantics, recvmsg_with_control_buffer, .timeout = 60)
{
	scenario("cmsg", "recvmsg with control: 32768, TCP_CM_INQ: 32768\n", 0, 0);
}

Test(semantics, length_zero, .timeout = 60)
{
	scenario("len0", "read 0, empty: 0, with data: 0, recv 0: 0, inq after: 65536\n", 0, 0);
}

Test(semantics, null_buffer_efault_loses_nothing, .timeout = 60)
{
	scenario("nullbuf",
		 "read(NULL, 128K): -1 EFAULT, recv(NULL, 128K): -1 EFAULT, then: 65536 (nothing lost)\n", 1, 1);
}

Test(semantics, recvfrom_and_recvmsg_address_and_flags, .timeout = 60)
{
	scenario("addr", "recvfrom: 32768 addrlen=0; recvmsg: 32768 namelen=0 controllen=0 flags=0x40000000\n", 1, 1);
}

Test(semantics, signal_handler_reading_same_socket_mid_read, .timeout = 120)
{
	scenario("sigread", "main loop and handler together: every byte exactly once, each read contiguous\n", 1, 1);
}

Test(semantics, no_residue_readiness_stays_true, .timeout = 60)
{
	scenario("residue", "read: 40960, then poll: 1, inq: 24576, rest: 24576, then poll: 0\n", 1, 1);
}

Test(semantics, sockets_not_seen_created_are_classified_on_first_read, .timeout = 60)
{
	const char *expect = "raw socket(2): 65536, SCM_RIGHTS socket: 65536\n";
	scenario("unseen", expect, 1, 1);
	/* and each was mapped through, in a slot of its own */
	const char *argv[] = { tl_bin("zcsem"), "unseen", NULL };
	const char *env[] = { "ZCSHIM_MIN_READ=16K", NULL };
	struct tl_result r;
	tl_run(&r, 1, 60000, argv, env);
	cr_assert_str_eq(r.out, expect);
	cr_assert_eq(tl_count(r.json, "\"bytes_mapped\":65536,"), 2, "%s", r.json);
	tl_free(&r);
}
