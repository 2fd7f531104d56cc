/*
 * zcread.h - the one receive routine behind every hooked read call.
 *
 * read, readv, recv, recvfrom, recvmsg and their _chk variants describe
 * their request as a struct zcr_req (the destination always as an iovec
 * array) and call zcr_read.  It decides between the mapped path and the
 * real call, and on the mapped path returns what recv() would: min(len,
 * what is queued), waiting as recv() waits (blocking, O_NONBLOCK,
 * SO_RCVTIMEO, SO_RCVLOWAT, MSG_WAITALL, signals), keeping the socket
 * error the kernel handed over early until recv() would report it.
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
	const struct iovec *iov;        /* the destination, whatever the call */
	int iovcnt;
	struct msghdr *msg;             /* RECVMSG */
	struct sockaddr *from;          /* RECVFROM */
	socklen_t *fromlen;
};

void zcr_configure(const struct zcfg *cfg);
/* e: the fd's entry, kind TCP.  Returns bytes or -errno; errno untouched. */
ssize_t zcr_read(struct zcr_req *rq, struct fdt_entry *e);
struct zst_delta;
/* One call's figures into fd's counters (its stats slot claimed on first
 * use) and, for unmapped bytes, its call site. */
void zcr_account(int fd, struct fdt_entry *e, const struct zst_delta *d);

#endif
