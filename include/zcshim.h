/*
 * zcshim.h - in-place TCP receive: read the kernel's pages where they lie.
 *
 * libzcshim gives unmodified programs zero-copy receive by mapping received
 * pages and copying out of them.  A program that can change a few lines can
 * skip that copy too: zcshim_recv() lends it the mapped pages themselves.
 *
 *     const void *p;
 *     ssize_t n;
 *     while ((n = zcshim_recv(fd, &p, 1 << 20, 0)) > 0)
 *             consume(p, n);          // p is valid until the next call
 *
 * Build: cc app.c $(pkg-config --cflags --libs zcshim)
 * Linked this way the program needs libzcshim.so at run time and does not
 * start without it (the dynamic loader says so).  To run either way, look
 * the function up instead (see zcshim_recv(3)):
 *     ssize_t (*zr)(int, const void **, size_t, int) =
 *             (ssize_t (*)(int, const void **, size_t, int))dlsym(RTLD_DEFAULT, "zcshim_recv");
 * and call recv() into a buffer of your own when zr is NULL.
 *
 * Works on any fd: where the kernel cannot map (a non-TCP fd, data that is
 * not page-aligned in the socket buffer, a tail under a page, a kernel
 * without TCP_ZEROCOPY_RECEIVE, the lending budget spent), the bytes come
 * through one kernel copy into a buffer the library owns, and the call
 * works the same.  The shim's counters (zcstat) count both, per fd.
 */
#ifndef ZCSHIM_H
#define ZCSHIM_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Borrow the next bytes of fd's stream in place: up to max bytes,
 * contiguous, read-only.  Returns n > 0 with *data pointing at them, 0 at
 * end of stream (or when max is 0), -1 with errno as recv() would set it.
 * Blocks like recv() (SO_RCVTIMEO, signals, EINTR) unless flags has
 * MSG_DONTWAIT or the fd is non-blocking; flags other than MSG_DONTWAIT
 * and MSG_NOSIGNAL fail with EINVAL.  May return fewer bytes than are
 * queued (at most one window, 2 MiB by default: ZCSHIM_WINDOW), never
 * more than max.  Every byte taken from the kernel is returned by this
 * call.  The bytes stay valid and unchanged until the next zcshim_recv()
 * or zcshim_release() on this fd, or until the fd is closed or reused.
 * One borrower per fd: while a borrow made by one thread is outstanding,
 * another thread's call on the same fd fails with EBUSY (release it
 * first), and nothing is taken. */
ssize_t zcshim_recv(int fd, const void **data, size_t max, int flags);

/* Give back what the last zcshim_recv() on fd lent (optional: the next
 * call, a close or a reuse of the fd does it too).  Returns 0, or -1 with
 * errno EBADF (fd negative or beyond the process's limit). */
int zcshim_release(int fd);

#ifdef __cplusplus
}
#endif

#endif
