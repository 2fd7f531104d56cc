/*
 * test_diff.c - the differential table: plain libc is the oracle.
 *
 * Every zcdiff scenario runs without the shim, then under zcstat with it,
 * for each sender (plain send(), MSG_ZEROCOPY at the default MSS and at
 * MSS 4108) and two ZCSHIM_MIN_READ settings (the default, and 0, which
 * sends every read down the mapped path).  The transcripts must be equal,
 * the plain one must hold no failure verdict (so a scenario cannot pass by
 * being broken both ways), and the shim must have served the socket: reads
 * counted, and at MIN_READ 0 with the MSS 4108 sender, bytes mapped.
 * Cases: every difference of issue #10 and its neighbours (see zcdiff.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"

static const char *const senders[] = { "plain", "zc", "zc4108" };
static const char *const minreads[] = { "ZCSHIM_MIN_READ=64K", "ZCSHIM_MIN_READ=0" };
static const char *const failures[] = { "BAD", "WRITTEN", "NOT ALL", "UNDER", "LATE", "never blocked" };

static void compare(const char *const argv[], const char *what)
{
	struct tl_result plain;
	tl_run(&plain, 0, 60000, argv, NULL);
	cr_assert_eq(plain.status, 0, "%s: plain run failed: %s", what, plain.out);
	cr_assert_null(strstr(plain.out, "BAD"), "%s: plain libc itself says BAD:\n%s", what, plain.out);
	for (int m = 0; m < 2; m++) {
		const char *env[] = { minreads[m], NULL };
		struct tl_result shim;
		tl_run(&shim, 1, 60000, argv, env);
		cr_assert_eq(shim.status, 0, "%s, %s: shim run failed: %s", what, minreads[m], shim.out);
		cr_assert_str_eq(shim.out, plain.out, "%s, %s\nwith the shim:\n%s\nwithout:\n%s", what, minreads[m],
				 shim.out, plain.out);
		tl_free(&shim);
	}
	tl_free(&plain);
}

/* mapped: 1, the scenario reads enough that the MSS 4108 sender must
 * map; 0, the shim must at least count its reads; -1, it reads no socket. */
static void table_row(const char *scenario, int mapped)
{
	for (int s = 0; s < 3; s++) {
		const char *argv[] = { tl_bin("zcdiff"), senders[s], scenario, NULL };
		struct tl_result plain;
		tl_run(&plain, 0, 60000, argv, NULL);
		cr_assert_eq(plain.status, 0, "%s/%s: plain run failed: %s", scenario, senders[s], plain.out);
		for (unsigned f = 0; f < sizeof(failures) / sizeof(failures[0]); f++)
			cr_assert_null(strstr(plain.out, failures[f]), "%s/%s: plain libc itself says %s:\n%s",
				       scenario, senders[s], failures[f], plain.out);
		for (int m = 0; m < 2; m++) {
			const char *env[] = { minreads[m], NULL };
			struct tl_result shim;
			tl_run(&shim, 1, 60000, argv, env);
			cr_assert_eq(shim.status, 0, "%s/%s/%s: shim run failed: %s", scenario, senders[s], minreads[m],
				     shim.out);
			cr_assert_str_eq(shim.out, plain.out, "%s, sender %s, %s\nwith the shim:\n%s\nwithout:\n%s",
					 scenario, senders[s], minreads[m], shim.out, plain.out);
			uint64_t reads = tl_json_u64(shim.json, "\"totals\":", "reads");
			if (mapped >= 0)
				cr_assert(reads > 0 && reads != UINT64_MAX, "%s: the shim counted no reads: %s", scenario,
					  shim.json);
			if (mapped > 0 && s == 2 && m == 1)
				cr_assert_gt(tl_json_u64(shim.json, "\"totals\":", "bytes_mapped"), 0,
					     "%s: nothing mapped (the shim stepped aside): %s", scenario, shim.json);
			tl_free(&shim);
		}
		tl_free(&plain);
	}
}

#define ROW(name, mapped, secs) \
	Test(diff, name, .timeout = secs) { table_row(#name, mapped); }

/* TSan runs a handler only when the interrupted call returns to its
 * interceptor; with SA_RESTART the kernel restarts the read without
 * returning, so the handler never runs and plain libc hangs too. */
#ifdef ZCSHIM_SANITIZE_THREAD
#define SA_RESTART_ROW(name, mapped, secs) \
	Test(diff, name, .timeout = secs) { cr_skip_test("ThreadSanitizer defers signal handlers past a restarted read"); }
#else
#define SA_RESTART_ROW ROW
#endif

/* 1. urgent data: no hang, reads stop at the mark, inline or not */
ROW(urgent, 1, 120)
ROW(urgent_inline, 0, 120)
ROW(urgent_waitall, 1, 120)
/* 2, 9. a pending cancel acts before data is taken; siglongjmp out of a
 * blocked read leaves no lock or guard behind */
ROW(cancel, 0, 120)
ROW(self_cancel, 0, 120)
ROW(longjmp, 1, 120)
/* 3. SO_PEEK_OFF */
ROW(peekoff, 0, 120)
/* 4. bad pointers at every argument; buffers made read-only or unmapped */
ROW(badptr, 1, 120)
/* 5. reads as full as recv's */
ROW(short, 1, 120)
/* 6-8. SO_RCVLOWAT; MSG_WAITALL with SO_RCVTIMEO and with signals */
ROW(lowat, 1, 120)
ROW(waitall_timeo, 1, 120)
SA_RESTART_ROW(waitall_restart, 1, 120)
ROW(waitall_eintr, 1, 120)
ROW(rcvtimeo, 1, 120)
/* 10. TCP_REPAIR */
ROW(repair, 0, 120)
/* 11. nothing written past the result; overlapping iovecs */
ROW(beyond, 1, 180)
/* 12. invalid address lengths */
ROW(addrlen, 1, 120)
/* 13, 14. a reset seen through a dup; a stale entry after fclose */
ROW(rst_dup, 1, 120)
ROW(stale, 1, 120)
/* 15-17 */
ROW(errno, -1, 60)
ROW(ctrunc, 0, 120)
ROW(iov1024, 1, 120)
/* neighbours */
ROW(eof, 1, 120)
ROW(nonblock, 1, 120)
/* the receive core: the kernel does every wait (SO_RCVLOWAT above its
 * cap; signals and SO_RCVTIMEO ending a low-water wait; one MSG_WAITALL
 * deadline), options belong to the socket (set through a dup), a read
 * proves only the memory it fills, and each read is one run of the stream
 * while a forked child reads too */
ROW(lowat_cap, 1, 120)
SA_RESTART_ROW(lowat_wake, 1, 180)
ROW(waitall_deadline, 1, 120)
ROW(dup_lowat, 1, 120)
ROW(dup_peekoff, 0, 120)
ROW(footprint, 1, 120)
ROW(race_fork, 1, 180)
/* a vfork child's close, dup2 or close_range changes nothing of the
 * parent's (beyond-the-bytes issue, 2) */
ROW(vfork_fds, 1, 120)
/* the socket's error stays the socket's: 100 connections reset, a fork
 * child or an exec'd program reading the rest, FIN then a reset, poll and
 * SO_ERROR after part of the data (beyond-the-bytes issue, 1) */
ROW(errors, 1, 240)

/* #24, 5: a seccomp filter the program installs (each action, libseccomp,
 * TSYNC, a hand-made one by prctl, strict mode): from then on the shim
 * makes no call of its own.  Fails (the child killed by SIGSYS) at 051ebdf. */
ROW(seccomp, 1, 240)

/* #24, 3: memory changed by free()'s own munmap, raw munmap/mmap and
 * mprotect, sbrk; a file mapping past its end; a guard region: EFAULT or
 * a short read as plain, no crash, no byte lost.  Dies of SIGSEGV at
 * ae90f31. */
ROW(memchanged, 1, 120)

/* #23: splice() out of the socket between reads (HAProxy's path): left to
 * the kernel, only counted ("spliced"). */
ROW(splice, 1, 120)

/* A read that begins with the rest of a page it copies without asking,
 * the rest of the stream taken by a fork child, then a reset: the read
 * reports ECONNRESET, not EOF.  Reads "0" (an EOF) where the copy's
 * error is not the read's (4c2de04 with that line undone). */
ROW(rest_then_reset, 1, 120)

/* Seeded random sequences of calls (read, readv, recv, recvfrom, recvmsg),
 * flags, lengths, iovec shapes and signals (SA_RESTART or not) while a
 * reader sleeps, on one connection per sender, each step's outcome in the
 * transcript.  `make fuzz` runs fresh seeds the same way; seeds it found
 * a difference with stay here.  3219194288: a MSG_WAITALL read ends 1563
 * bytes into a mappable page, more data arrives, and a MSG_DONTWAIT
 * recvmsg took only the rest of that page (2533 of 68827: the queue the
 * last read saw was taken for the queue now). */
Test(diff, random_sequences, .timeout = 600)
{
#ifdef ZCSHIM_SANITIZE_THREAD
	cr_skip_test("ThreadSanitizer defers signal handlers past a restarted read (the sequences use SA_RESTART)");
#endif
	static const char *const seeds[] = { "1", "2", "3", "4", "5", "6", "3219194288" };
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		for (int s = 0; s < 3; s++) {
			char what[64];
			snprintf(what, sizeof(what), "seed %s, sender %s", seeds[i], senders[s]);
			const char *argv[] = { tl_bin("zcdiff"), senders[s], "random", seeds[i], NULL };
			compare(argv, what);
		}
}
