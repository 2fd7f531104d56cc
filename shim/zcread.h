/*
 * zcread.h - the one receive routine behind every hooked read call.
 *
 * read, readv, recv, recvfrom, recvmsg and their _chk variants all describe
 * their request as a struct zcr_req and call zcr_read.  It decides between
 * the mapped path and a pass-through to the real call, waits like the real
 * call would, keeps the kernel's consumed socket error until the app has
 * drained the data before it, and counts every call in the stats segment.
 */
#ifndef ZCSHIM_ZCREAD_H
#define ZCSHIM_ZCREAD_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"
#include "fdtable.h"

enum zcr_op { ZCR_READ, ZCR_READV, ZCR_RECVFROM, ZCR_RECVMSG };

struct zcr_req {
	int op;
	int fd;
	int flags;                      /* MSG_* (0 for read/readv) */
	void *buf;                      /* READ, RECVFROM */
	size_t len;
	const struct iovec *iov;        /* READV */
	int iovcnt;
	struct msghdr *msg;             /* RECVMSG */
	struct sockaddr *from;          /* RECVFROM */
	socklen_t *fromlen;
};

void zcr_configure(const struct zcfg *cfg);
/* e: the fd's entry, kind TCP.  Returns bytes or -errno; errno untouched. */
ssize_t zcr_read(const struct zcr_req *rq, struct fdt_entry *e);

#endif
