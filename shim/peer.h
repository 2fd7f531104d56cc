/*
 * peer.h - who is at the other end of each TCP fd, learned for free, and
 * what the shim has learned about each peer's traffic.
 *
 * The address comes from the program's own calls: connect() names it, and
 * accept() is handed a buffer for it (the program's, or the shim's where
 * the program passed none), so no getpeername() is made on a connection's
 * path.  Kept per fd in an array beside the fd table (reserved, touched
 * only where used).  The statistics read it when a fd's slot is claimed.
 *
 * Per peer (its address and the service: the port it names where the
 * program connected, the local port it came in on where it accepted; not
 * a client's ephemeral port): how far the fd's back-off from an
 * unmappable sender had gone (policy.c), so a new connection from a peer
 * whose data never mapped starts backed off instead of learning it again
 * with a dozen failed zero-copy calls.  A small table of hints: relaxed
 * atomics, a lost update or a collision costs at most a few probes.
 */
#ifndef ZCSHIM_PEER_H
#define ZCSHIM_PEER_H

#include <stdint.h>
#include <sys/socket.h>

struct peer_addr {
	uint8_t family;         /* AF_INET, AF_INET6, or 0: not known */
	uint8_t service;        /* 1: the port names the service (connect), so
				 * it is part of the key; 0: an ephemeral
				 * client port (accept), the address alone */
	uint16_t port;          /* host order */
	uint8_t addr[16];
};

/* Reserves the array for n fds; 0 or -errno. */
int peer_init(unsigned n);
/* fd now talks to sa (connect: service 1; accept: 0, after
 * peer_accepted); other families forget it.  Its peer_key, 0 if none. */
uint32_t peer_note(int fd, const struct sockaddr *sa, socklen_t len, int service);
/* fd was accepted on the listening lfd: the local port it came in on
 * joins its key (asked of the kernel once per listening fd).  Before
 * peer_note, whose key it joins. */
void peer_accepted(int lfd, int fd);
/* newfd is a duplicate of oldfd; fd means something else now. */
void peer_copy(int oldfd, int newfd);
void peer_forget(int fd);
/* 1 and *out if fd's peer is known, else 0. */
int peer_get(int fd, struct peer_addr *out);
/* fd's peer as a key for the table below (the address, and the port of
 * the service: the peer's where connected, the local one where accepted);
 * 0 if not known. */
uint32_t peer_key(int fd);

/* What was last learned of this peer's traffic: mapped-path reads in a
 * row that mapped nothing, and the back-off (reads to pass through) they
 * led to; both 0 if nothing (or its data mapped).  A peer's short
 * connections add up: one that reads twice still counts its misses. */
struct peer_learned {
	uint8_t misses;         /* a run of unmappable reads, across connections */
	uint8_t waited;         /* connections started backed off since the last probe */
	uint16_t backoff;
};
struct peer_learned peer_recall(uint32_t key);
void peer_learn(uint32_t key, struct peer_learned l);

#endif
