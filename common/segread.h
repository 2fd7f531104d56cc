/*
 * segread.h - safe reading of zcshim statistics segments (segfmt.h).
 *
 * Segments are files written by other processes, possibly another user's
 * or damaged: nothing in them is trusted until segread_validate has checked
 * magic, version, every size field and the file size.  Used by zcstat, the
 * tests and the segment fuzzer; it does not depend on the preload.
 */
#ifndef ZCSHIM_SEGREAD_H
#define ZCSHIM_SEGREAD_H

#include "segfmt.h"

#include <stddef.h>
#include <sys/types.h>

struct segview {
	const struct segfmt_header *h;
	const struct segfmt_slot *slots;
	const struct segfmt_callsite *callsites; /* h->ncallsites entries, or NULL */
	uint32_t nslots;        /* slots that may be in use */
	size_t size;
	char path[512];
};

/* Checks a segment image of size bytes.  0, or -EINVAL/-EPROTO with a
 * reason in err. */
int segread_validate(const void *mem, size_t size, char *err, size_t errcap);
/* Opens and maps path read-only.  owner: required file owner, or -1 for
 * any.  0 or -errno with a reason in err. */
int segread_open(const char *path, long owner, struct segview *v, char *err, size_t errcap);
void segread_close(struct segview *v);
/* A view of a segment image already in memory (validated; v->path empty). */
int segread_view_mem(const void *mem, size_t size, struct segview *v, char *err, size_t errcap);

/* The process's totals: retired + overflow + every slot claimed. */
void segread_totals(const struct segview *v, struct segfmt_counters *out);
/* 1 if process pid is alive and still maps this segment file (so it was
 * neither replaced by exec nor is a reused pid). */
int segread_live(const struct segview *v);
/* 1 if fd of process pid is still the socket with this inode (0: any
 * socket; the shim no longer records it, to spare a call per connection). */
int segread_fd_open(int pid, int fd, unsigned long long inode);

#endif
