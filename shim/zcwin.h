/*
 * zcwin.h - mapping windows and the TCP_ZEROCOPY_RECEIVE call.
 *
 * A window is a PROT_READ mapping of a private, never-connected TCP socket
 * that the shim creates and closes at once.  The kernel accepts any TCP VMA
 * as the target of TCP_ZEROCOPY_RECEIVE on any TCP socket of the process, so
 * one window serves every connection and pins none: closing an application
 * socket ends its connection immediately (a window mapped from the app's
 * own socket would keep it alive until munmap).
 *
 * Windows live in a small pool, borrowed for the duration of one read and
 * returned before the read returns.  Pages stay mapped (and referenced)
 * after a read only inside the pool's windows, so resident memory is bounded
 * by pool size x window size, whatever the number of connections.  Windows
 * are 2 MiB-aligned (one page-table page each) and MADV_DONTFORK.
 */
#ifndef ZCSHIM_ZCWIN_H
#define ZCSHIM_ZCWIN_H

#include <stddef.h>
#include <stdint.h>

#include "kzc.h"

struct zcwin_kernel {
	int probed;             /* 0 while the probe has not finished */
	int supported;          /* 1 yes, 0 no */
	unsigned optlen;        /* bytes of struct zcwin_zc the kernel understands */
	int why;                /* errno that made it unsupported */
};

struct zcwin_win {
	uint8_t *addr;
	size_t size;
	size_t next;            /* ring: first offset not mapped since the last zap */
	size_t reach;           /* nothing mapped at or past this offset since the
				 * last zap: the end of the furthest range asked for
				 * (a failed call may have mapped some of it) */
	uint32_t busy;
};

/* Set the window size (bytes, page multiple) before first use. */
void zcwin_configure(size_t window);
/* Probes the running kernel once; later calls return the cached answer. */
const struct zcwin_kernel *zcwin_kernel(void);
/* fn hears the probe's verdict once, whoever asks first (the shim: the
 * stats segment); zcwin itself stays free of the stats (zcfloor uses it). */
void zcwin_on_verdict(void (*fn)(int supported));
/* 1 once the probe found zero-copy receive usable, until zcwin_disable: the
 * read path's inline test (zcwin_kernel() when it is 0). */
extern int zcwin_usable;
static inline int zcwin_kernel_ok(void)
{
	/* acquire: a 1 orders the probe's answer (kinfo) before what the
	 * caller reads of it next */
	return __builtin_expect(__atomic_load_n(&zcwin_usable, __ATOMIC_ACQUIRE), 1) || zcwin_kernel()->supported;
}
/* Marks zero-copy unusable for the rest of the process (e.g. ENOPROTOOPT). */
void zcwin_disable(int why);
/* Reports each TCP_ZEROCOPY_RECEIVE outcome that says nothing about the
 * socket (0: success); 64 unexplained failures in a row disable the path. */
void zcwin_call_failed(int err);

/* A new window of size bytes (2 MiB-aligned), outside the pool; inherit:
 * keep it across fork (else MADV_DONTFORK).  NULL with errno on failure. */
uint8_t *zcwin_map(size_t size, int inherit);
/* The configured window size. */
size_t zcwin_size(void);

/* Borrow a window; NULL if all are busy or none can be mapped. */
struct zcwin_win *zcwin_acquire(void);
void zcwin_release(struct zcwin_win *w);

/* Called after each time a window gives back the pages of a trip (ns: the
 * thread CPU it took, bytes: what the trip had mapped); NULL: not timed.
 * ZCSHIM_MODE=auto sets it (auto.h: auto_released). */
void zcwin_on_release(void (*fn)(uint64_t ns, uint64_t bytes));

/* Gives back every page the window lent since its last zap (one
 * MADV_DONTNEED, one TLB flush), timed for zcwin_on_release. */
void zcwin_zap(struct zcwin_win *w);

/* One call.  In: map_len (page multiple, <= window size).  Out (in
 * *out): length = bytes mapped at *data, recv_skip_hint, inq (UINT32_MAX
 * where the kernel does not say).  Returns 0 or -errno.  Successive calls
 * map at advancing offsets of the window, so the pages a trip round it
 * lent are given back together (one madvise, one TLB flush), not on
 * every call.  The struct ends at inq: the kernel takes the socket's
 * error for any longer one (zcwin.c, call()); so no copybuf and no
 * TLB_CLEAN_HINT, which sit behind err. */
int zcwin_receive(int fd, struct zcwin_win *w, size_t map_len, struct tcp_zerocopy_receive *out, const uint8_t **data);

/* Called, holding w, before a read blocks: if the window is half full or
 * more, unmap it now (the next call would have to wrap the ring anyway),
 * so a sleeping reader keeps at most half a window of pages referenced.
 * Below half, the pages wait for the wrap: zapping on every wait cost a
 * system call and a TLB flush per read in bulk streams whose reader
 * outpaces the sender (measured: 9,500 extra madvise per GiB). */
void zcwin_settle(struct zcwin_win *w);

/* No TCP socket is open any more: gives back the pages of every idle
 * window that maps 64 KiB or more (TRIM_KEEP); one under that keeps them
 * until it reaches it (a sequential client's next connections), so an
 * idle process keeps under 64 KiB mapped per window. */
void zcwin_trim(void);

/* Fork child: windows were not inherited (MADV_DONTFORK); forget them. */
void zcwin_after_fork_child(void);

#endif
