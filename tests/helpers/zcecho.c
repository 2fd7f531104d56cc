/*
 * zcecho - echo servers to run under the shim, and a client to drive them.
 *
 *   zcecho server blocking|epoll|epoll-et|poll|select [--conns N] [--size 256K]
 *       Prints "PORT <n>", echoes every byte of N connections (default 1)
 *       back to its sender, then prints "fds before=A after=B" (open fds
 *       of this process before and after; unequal is a leak, exit 1).
 *       blocking: a thread per connection with read/write; the others: one
 *       thread, non-blocking sockets, one service routine that reads until
 *       EAGAIN and keeps unwritten bytes, driven by epoll (level- or
 *       edge-triggered), poll or select.
 *   zcecho client PORT [--bytes 64M] [--conns N] [--mixed]
 *       N connections, each sending the pattern with MSG_ZEROCOPY (so the
 *       server's reads are mappable) while a second thread reads the echo
 *       and checks every byte; --mixed makes every other connection a
 *       request/response client (100 round trips of 100 bytes).  Prints
 *       "echo ok" and exits 0 if everything came back intact.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>


static size_t rsize = 256u << 10;

static void *blocking_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(rsize);
	ssize_t r;
	while ((r = read(fd, buf, rsize)) > 0)
		write_all(fd, buf, (size_t)r);
	close(fd);
	free(buf);
	return NULL;
}

static int serve_blocking(int lfd, int conns)
{
	pthread_t th[1024];
	for (int i = 0; i < conns; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept: %s", strerror(errno));
		pthread_create(&th[i], NULL, blocking_conn, (void *)(intptr_t)fd);
	}
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	return 0;
}

/* ---- non-blocking servers: one service routine, four event loops ---- */

struct econn {
	int fd;
	char *pend;     /* bytes read but not yet written back */
	size_t off, len;
};

enum { WANT_READ, WANT_WRITE, CLOSED };

/* Echoes until the socket would block (edge-triggered loops need exactly
 * that), keeping unwritten bytes for when the socket is writable. */
static int service(struct econn *c, char *buf)
{
	for (;;) {
		while (c->off < c->len) {
			ssize_t w = write(c->fd, c->pend + c->off, c->len - c->off);
			if (w < 0 && errno == EAGAIN)
				return WANT_WRITE;
			if (w <= 0)
				return CLOSED;
			c->off += (size_t)w;
		}
		c->off = c->len = 0;
		ssize_t r = read(c->fd, buf, rsize);
		if (r < 0 && errno == EAGAIN)
			return WANT_READ;
		if (r <= 0)
			return CLOSED;
		memcpy(c->pend, buf, (size_t)r);
		c->len = (size_t)r;
	}
}

static struct econn *new_conn(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct econn *c = calloc(1, sizeof(*c));
	c->fd = fd;
	c->pend = malloc(rsize);
	return c;
}

static void free_conn(struct econn *c)
{
	close(c->fd);
	free(c->pend);
	free(c);
}

static int serve_epoll(int lfd, int conns, int et)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), accepted = 0, open = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	char *buf = malloc(rsize);
	uint32_t base = et ? EPOLLET : 0;
	while (accepted < conns || open > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			struct econn *c = evs[i].data.ptr;
			if (!c) {
				while (accepted < conns && (c = new_conn(lfd))) {
					struct epoll_event e = { .events = EPOLLIN | base, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
					accepted++;
					open++;
					if (et)	/* data may already be there: no edge will come */
						evs[i].events |= EPOLLIN;
				}
				continue;
			}
			int st = service(c, buf);
			if (st == CLOSED) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				free_conn(c);
				open--;
				continue;
			}
			struct epoll_event e = { .events = (st == WANT_WRITE ? EPOLLOUT : EPOLLIN) | base, .data.ptr = c };
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
		}
	}
	close(ep);
	free(buf);
	return 0;
}

static int serve_poll(int lfd, int conns, int use_select)
{
	struct pollfd *pf = calloc((size_t)conns + 1, sizeof(*pf));
	struct econn **cs = calloc((size_t)conns + 1, sizeof(*cs));
	int n = 1, accepted = 0;
	char *buf = malloc(rsize);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	while (accepted < conns || n > 1) {
		if (use_select) {
			fd_set rd, wr;
			FD_ZERO(&rd);
			FD_ZERO(&wr);
			int maxfd = 0;
			for (int i = 0; i < n; i++) {
				if (pf[i].fd >= FD_SETSIZE)
					die("fd %d beyond FD_SETSIZE", pf[i].fd);
				FD_SET(pf[i].fd, pf[i].events == POLLOUT ? &wr : &rd);
				if (pf[i].fd > maxfd)
					maxfd = pf[i].fd;
			}
			if (select(maxfd + 1, &rd, &wr, NULL, NULL) < 0)
				die("select: %s", strerror(errno));
			for (int i = 0; i < n; i++)
				pf[i].revents = (short)((FD_ISSET(pf[i].fd, &rd) ? POLLIN : 0) |
							(FD_ISSET(pf[i].fd, &wr) ? POLLOUT : 0));
		} else if (poll(pf, (nfds_t)n, -1) < 0) {
			die("poll: %s", strerror(errno));
		}
		for (int i = n - 1; i >= 1; i--) {
			if (!pf[i].revents)
				continue;
			int st = service(cs[i], buf);
			if (st == CLOSED) {
				free_conn(cs[i]);
				pf[i] = pf[n - 1];
				cs[i] = cs[n - 1];
				n--;
				continue;
			}
			pf[i].events = st == WANT_WRITE ? POLLOUT : POLLIN;
		}
		if (pf[0].revents) {
			struct econn *c;
			while (accepted < conns && (c = new_conn(lfd))) {
				cs[n] = c;
				pf[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
				accepted++;
			}
		}
	}
	free(pf);
	free(cs);
	free(buf);
	return 0;
}

struct cl {
	int fd;
	uint64_t bytes;
	int bad;
	pthread_t tx, rx;
};

static void *cl_send(void *arg)
{
	struct cl *c = arg;
	size_t ring = 16u << 20, chunk = 256u << 10;
	uint8_t *b = mmap(NULL, ring, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* MSG_ZEROCOPY buffers must stay untouched until completion; a fresh
	 * region per 16 MiB keeps that true without tracking completions. */
	for (uint64_t off = 0; off < c->bytes;) {
		size_t at = (size_t)(off % ring);
		if (off && at == 0)
			b = mmap(NULL, ring, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t n = c->bytes - off < chunk ? (size_t)(c->bytes - off) : chunk;
		pat_fill(b + at, off, n);
		zc_send_all(c->fd, b + at, n);
		off += n;
	}
	shutdown(c->fd, SHUT_WR);
	return NULL;
}

static void *cl_recv(void *arg)
{
	struct cl *c = arg;
	uint8_t *buf = malloc(1 << 20);
	uint64_t at = 0;
	ssize_t r;
	while ((r = read(c->fd, buf, 1 << 20)) > 0) {
		if (pat_check(buf, at, (size_t)r) != (size_t)r)
			c->bad = 1;
		at += (uint64_t)r;
	}
	if (at != c->bytes)
		c->bad = 1;
	return NULL;
}

/* Request/response: 100-byte messages, each echo checked. */
static void *cl_pingpong(void *arg)
{
	struct cl *c = arg;
	uint8_t msg[100], got[100];
	for (uint64_t off = 0; off < 100 * 100; off += 100) {
		pat_fill(msg, off, sizeof(msg));
		write_all(c->fd, msg, sizeof(msg));
		if (recv(c->fd, got, sizeof(got), MSG_WAITALL) != (ssize_t)sizeof(got) || memcmp(msg, got, sizeof(msg))) {
			c->bad = 1;
			break;
		}
	}
	shutdown(c->fd, SHUT_WR);
	char x;
	if (read(c->fd, &x, 1) != 0)
		c->bad = 1;
	return NULL;
}

/* mixed: every other connection is request/response instead of bulk */
static int client(int port, uint64_t bytes, int conns, int mixed)
{
	struct cl *cs = calloc((size_t)conns, sizeof(*cs));
	for (int i = 0; i < conns; i++) {
		cs[i].fd = connect_loopback(port, 0);
		cs[i].bytes = bytes;
		if (mixed && i % 2) {
			pthread_create(&cs[i].tx, NULL, cl_pingpong, &cs[i]);
			continue;
		}
		int one = 1;
		setsockopt(cs[i].fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
		pthread_create(&cs[i].tx, NULL, cl_send, &cs[i]);
		pthread_create(&cs[i].rx, NULL, cl_recv, &cs[i]);
	}
	int bad = 0;
	for (int i = 0; i < conns; i++) {
		pthread_join(cs[i].tx, NULL);
		if (!(mixed && i % 2))
			pthread_join(cs[i].rx, NULL);
		bad |= cs[i].bad;
	}
	printf(bad ? "echo BROKEN\n" : "echo ok\n");
	return bad;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && !strcmp(argv[1], "server")) {
		int conns = 1;
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--conns") && i + 1 < argc) conns = atoi(argv[++i]);
			else if (!strcmp(argv[i], "--size") && i + 1 < argc) rsize = (size_t)parse_size(argv[++i]);
			else die("bad argument %s", argv[i]);
		}
		int port, lfd = listen_loopback(0, &port);
		int before = count_fds();
		printf("PORT %d\n", port);
		fflush(stdout);
		const char *m = argv[2];
		if (!strcmp(m, "blocking")) serve_blocking(lfd, conns);
		else if (!strcmp(m, "epoll")) serve_epoll(lfd, conns, 0);
		else if (!strcmp(m, "epoll-et")) serve_epoll(lfd, conns, 1);
		else if (!strcmp(m, "poll")) serve_poll(lfd, conns, 0);
		else if (!strcmp(m, "select")) serve_poll(lfd, conns, 1);
		else die("unknown server mode %s", m);
		int after = count_fds();
		printf("fds before=%d after=%d\n", before, after);
		return before != after;
	}
	if (argc >= 3 && !strcmp(argv[1], "client")) {
		uint64_t bytes = 64u << 20;
		int conns = 1, mixed = 0;
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = parse_size(argv[++i]);
			else if (!strcmp(argv[i], "--conns") && i + 1 < argc) conns = atoi(argv[++i]);
			else if (!strcmp(argv[i], "--mixed")) mixed = 1;
			else die("bad argument %s", argv[i]);
		}
		return client(atoi(argv[2]), bytes, conns, mixed);
	}
	die("usage: zcecho server blocking|epoll|epoll-et|poll|select [--conns N] [--size N] | "
	    "client PORT [--bytes N] [--conns N] [--mixed]");
}
