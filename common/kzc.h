/*
 * kzc.h - what the running kernel offers for TCP zero-copy receive, asked
 * at run time.  Shared by the shim (before its first mapped read) and
 * zcstat (when no process under the shim has asked yet).
 *
 * The kernel's struct tcp_zerocopy_receive has grown; glibc's
 * <netinet/tcp.h> still has the 16-byte first version, so this uses the
 * kernel's own <linux/tcp.h> and finds at run time how much of it the
 * kernel understands:
 *   4.18  address, length, recv_skip_hint          (KZC_LEN_BASE)
 *   5.7   inq, err                                  (KZC_LEN_ERR)
 *   5.11  copybuf_address, copybuf_len, flags       (KZC_LEN_COPYBUF)
 *   5.12  msg_control, msg_controllen, msg_flags    (KZC_LEN_CMSG)
 */
#ifndef ZCSHIM_KZC_H
#define ZCSHIM_KZC_H

#include <linux/tcp.h>
#include <stddef.h>

#define KZC_END(field) (offsetof(struct tcp_zerocopy_receive, field) + \
			sizeof(((struct tcp_zerocopy_receive *)0)->field))
#define KZC_LEN_BASE    KZC_END(recv_skip_hint)
#define KZC_LEN_ERR     KZC_END(err)
#define KZC_LEN_COPYBUF KZC_END(flags)
#define KZC_LEN_CMSG    KZC_END(msg_flags)

struct kzc_info {
	int supported;          /* 1: the option works and a window maps */
	unsigned optlen;        /* bytes of the struct the kernel takes */
	int why;                /* errno that made it unsupported, else 0 */
};

/* Asks the kernel (a private TCP socket, closed again; raw system calls
 * only).  Never fails: the answer is in *out. */
void kzc_probe(struct kzc_info *out);
/* 1 when a probe failure says "not now" (no fds, no memory), not "never". */
int kzc_transient(int err);

#endif
