/*
 * zcecho - echo servers to run under the shim, and a client to drive them.
 *
 *   zcecho server blocking|epoll [--conns N] [--size 256K]
 *       Prints "PORT <n>", echoes every byte of N connections (default 1)
 *       back to its sender, then exits.  blocking: a thread per connection
 *       with read/write; epoll: one thread, non-blocking sockets, level-
 *       triggered epoll, partial writes buffered per connection.
 *   zcecho client PORT [--bytes 64M] [--conns N]
 *       N connections, each sending the pattern with MSG_ZEROCOPY (so the
 *       server's reads are mappable) while a second thread reads the echo
 *       and checks every byte.  Prints "echo ok" and exits 0 if intact.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

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

struct econn {
	int fd;
	char *pend;     /* bytes read but not yet written back */
	size_t off, len;
};

static int serve_epoll(int lfd, int conns)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), accepted = 0, open = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	char *buf = malloc(rsize);
	while (accepted < conns || open > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			struct econn *c = evs[i].data.ptr;
			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0)
					continue;
				c = calloc(1, sizeof(*c));
				c->fd = fd;
				c->pend = malloc(rsize);
				struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				accepted++;
				open++;
				continue;
			}
			if (c->len) {	/* flush what is pending before reading more */
				ssize_t w = write(c->fd, c->pend + c->off, c->len - c->off);
				if (w > 0 && (c->off += (size_t)w) == c->len) {
					c->off = c->len = 0;
					struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
				}
				continue;
			}
			ssize_t r = read(c->fd, buf, rsize);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				free(c->pend);
				free(c);
				open--;
				continue;
			}
			ssize_t w = write(c->fd, buf, (size_t)r);
			if (w < 0)
				w = 0;
			if (w < r) {
				memcpy(c->pend, buf + w, (size_t)(r - w));
				c->off = 0;
				c->len = (size_t)(r - w);
				struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
			}
		}
	}
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

static int client(int port, uint64_t bytes, int conns)
{
	struct cl *cs = calloc((size_t)conns, sizeof(*cs));
	for (int i = 0; i < conns; i++) {
		cs[i].fd = connect_loopback(port, 0);
		cs[i].bytes = bytes;
		int one = 1;
		setsockopt(cs[i].fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one));
		pthread_create(&cs[i].tx, NULL, cl_send, &cs[i]);
		pthread_create(&cs[i].rx, NULL, cl_recv, &cs[i]);
	}
	int bad = 0;
	for (int i = 0; i < conns; i++) {
		pthread_join(cs[i].tx, NULL);
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
		printf("PORT %d\n", port);
		fflush(stdout);
		return !strcmp(argv[2], "epoll") ? serve_epoll(lfd, conns) : serve_blocking(lfd, conns);
	}
	if (argc >= 3 && !strcmp(argv[1], "client")) {
		uint64_t bytes = 64u << 20;
		int conns = 1;
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = parse_size(argv[++i]);
			else if (!strcmp(argv[i], "--conns") && i + 1 < argc) conns = atoi(argv[++i]);
			else die("bad argument %s", argv[i]);
		}
		return client(atoi(argv[2]), bytes, conns);
	}
	die("usage: zcecho server blocking|epoll [--conns N] [--size N] | client PORT [--bytes N] [--conns N]");
}
