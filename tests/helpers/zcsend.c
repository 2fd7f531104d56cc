/*
 * zcsend - bulk sender for tests, demos and benchmarks.
 *
 * Listens on 127.0.0.1 port 0, prints "PORT <n>" on stdout, and for each
 * accepted connection sends the pattern stream (pattern.h) of --bytes bytes
 * with plain send() or with MSG_ZEROCOPY (only data sent this way, after
 * loopback's copy into fresh pages, is mappable by the receiver), then
 * ends the connection: FIN (default: then it waits for the peer's close and,
 * with a single connection, prints "PEER_CLOSED"), RST (--rst), or holds it
 * open until stdin reaches EOF (--hold).  --pull sends only what the peer
 * asks for: it reads a 4-byte request (network order: a byte count), sends
 * that much of the stream, and reads the next (zcbench's queued rows: the
 * receiver asks, waits until the bytes are queued, then drains them).
 *
 *   zcsend [--bytes 256M] [--mode plain|zerocopy] [--mss 4108] [--chunk 256K]
 *          [--conns 1] [--http] [--rst] [--hold] [--serve-forever] [--pull]
 *   zcsend --connect PORT [--conns N] [--bytes N] [--mode ...] [--mss N]
 *          (a client: N connections one after another to a server, each
 *          sending the stream and closing; zcrecv --accept is the server)
 *   zcsend --stdout [--bytes N]     (writes the stream to stdout, for files)
 * --bind ADDR listens on ADDR instead of 127.0.0.1 (a sender for another host).
 *
 * --mss 4108 makes every segment carry exactly one 4096-byte page (4108
 * minus the 12-byte timestamp option).  --http reads a request and answers
 * with HTTP/1.0 headers before the stream.  --hold keeps the connection
 * open after sending until stdin reaches EOF (the test decides).  Exit 0 on
 * success.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

#include <linux/errqueue.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>


#define RING 16
#define MAXOUT 4096

struct opts {
	uint64_t bytes;
	int zerocopy, mss, http, rst, hold, forever, conns, to_stdout, pull, connect_port;
	size_t chunk;
};

struct zc_state {
	int pending[RING];          /* outstanding zerocopy sends per ring slot */
	int8_t id_slot[MAXOUT];     /* ring slot of each send id (mod MAXOUT) */
	uint32_t next_id;
};

/* Drains completions; with block, waits up to a second for one first.
 * Returns 0 if block was set and nothing came. */
static int reap(int fd, struct zc_state *z, int block)
{
	for (;;) {
		char ctl[128];
		struct msghdr m = { .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN && block) {
				struct pollfd p = { .fd = fd, .events = 0 };
				if (poll(&p, 1, 1000) == 0)
					return 0;
				block = 0;	/* something is there now; drain it */
				continue;
			}
			if (errno == EAGAIN || errno == EINTR)
				return 1;
			die("recvmsg(MSG_ERRQUEUE): %s", strerror(errno));
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			for (uint32_t id = ee->ee_info; id != ee->ee_data + 1; id++)
				if (z->pending[z->id_slot[id % MAXOUT]] > 0)
					z->pending[z->id_slot[id % MAXOUT]]--;
		}
	}
}

/* --pull: the end of what the peer has asked for so far, after reading
 * its next request (unchanged at EOF: the sender stops there). */
static uint64_t next_grant(int fd, uint64_t granted, uint64_t end)
{
	uint32_t req;
	if (read_full(fd, &req, sizeof(req)) != sizeof(req))
		return granted;
	granted += ntohl(req);
	return granted < end ? granted : end;
}

static void send_stream(int fd, const struct opts *o)
{
	size_t ringsz = o->chunk * RING;
	uint8_t *ring = mmap(NULL, ringsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ring == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	struct zc_state z;
	memset(&z, 0, sizeof(z));
	if (o->zerocopy) {
		int one = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
			die("SO_ZEROCOPY: %s", strerror(errno));
	}
	uint8_t *slotbuf[RING];
	for (unsigned i = 0; i < RING; i++)
		slotbuf[i] = ring + (size_t)i * o->chunk;
	uint64_t off = 0, granted = o->pull ? 0 : o->bytes;
	for (unsigned n = 0; off < o->bytes; n++) {
		if (off == granted && (granted = next_grant(fd, granted, o->bytes)) == off)
			break;
		unsigned s = n % RING;
		uint8_t *buf = slotbuf[s];
		while (o->zerocopy && z.pending[s] > 0) {
			if (!reap(fd, &z, 1)) {
				/* Completions can lag (on loopback they wait for the
				 * receiver to let go of the pages): rather than stall,
				 * give this slot fresh memory and leave the old pages to
				 * the kernel. */
				buf = mmap(NULL, o->chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (buf == MAP_FAILED)
					die("mmap: %s", strerror(errno));
				slotbuf[s] = buf;
				z.pending[s] = 0;
			}
		}
		size_t len = granted - off < o->chunk ? (size_t)(granted - off) : o->chunk;
		pat_fill(buf, off, len);
		size_t done = 0;
		while (done < len) {
			ssize_t w;
			if (o->zerocopy) {
				w = send(fd, buf + done, len - done, MSG_ZEROCOPY | MSG_NOSIGNAL);
				if (w < 0 && errno == ENOBUFS) {	/* optmem full: wait for completions */
					reap(fd, &z, 1);
					continue;
				}
				if (w >= 0) {
					z.id_slot[z.next_id % MAXOUT] = (int8_t)s;
					z.next_id++;
					z.pending[s]++;
				}
			} else {
				w = send(fd, buf + done, len - done, MSG_NOSIGNAL);
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				die("send: %s", strerror(errno));
			done += (size_t)w;
		}
		off += len;
		if (o->zerocopy)
			reap(fd, &z, 0);
	}
	munmap(ring, ringsz);
}

static void read_request(int fd)
{
	char buf[4096];
	size_t got = 0;
	while (got < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			die("reading request: %s", r ? strerror(errno) : "EOF");
		got += (size_t)r;
		buf[got] = 0;
		if (strstr(buf, "\r\n\r\n"))
			return;
	}
	die("request too long");
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)((void **)arg)[0];
	const struct opts *o = ((void **)arg)[1];
	if (o->http) {
		char hdr[256];
		read_request(fd);
		int n = snprintf(hdr, sizeof(hdr),
				 "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
				 "Content-Length: %llu\r\nConnection: close\r\n\r\n",
				 (unsigned long long)o->bytes);
		write_all(fd, hdr, (size_t)n);
	}
	send_stream(fd, o);
	if (o->rst) {
		struct linger l = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	} else if (o->hold) {
		char c;
		while (read(0, &c, 1) > 0)
			;
	} else {
		/* FIN, then wait for the peer's close so no data is lost to an RST. */
		shutdown(fd, SHUT_WR);
		char buf[4096];
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		if (o->conns == 1 && !o->forever) {
			printf("PEER_CLOSED\n");	/* the lifecycle tests wait for this */
			fflush(stdout);
		}
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct opts o = { .bytes = 256u << 20, .chunk = 256u << 10, .conns = 1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--bytes") && v) o.bytes = parse_size(v), i++;
		else if (!strcmp(a, "--mode") && v) o.zerocopy = !strcmp(v, "zerocopy"), i++;
		else if (!strcmp(a, "--mss") && v) o.mss = atoi(v), i++;
		else if (!strcmp(a, "--chunk") && v) o.chunk = (size_t)parse_size(v), i++;
		else if (!strcmp(a, "--conns") && v) o.conns = atoi(v), i++;
		else if (!strcmp(a, "--http")) o.http = 1;
		else if (!strcmp(a, "--rst")) o.rst = 1;
		else if (!strcmp(a, "--hold")) o.hold = 1;
		else if (!strcmp(a, "--serve-forever")) o.forever = 1;
		else if (!strcmp(a, "--pull")) o.pull = 1;
		else if (!strcmp(a, "--stdout")) o.to_stdout = 1;
		else if (!strcmp(a, "--bind") && v) helper_addr = v, i++;
		else if (!strcmp(a, "--connect") && v) o.connect_port = atoi(v), i++;
		else die("usage: zcsend [--bytes N] [--mode plain|zerocopy] [--mss N] [--chunk N] "
			 "[--conns N] [--http] [--rst] [--hold] [--serve-forever] [--pull] | zcsend --stdout [--bytes N]");
	}
	if (o.chunk < 4096 || o.chunk % 4096)
		die("--chunk must be a multiple of 4096");
	if (o.to_stdout) {
		static uint8_t buf[1 << 20];
		for (uint64_t off = 0; off < o.bytes;) {
			size_t n = o.bytes - off < sizeof(buf) ? (size_t)(o.bytes - off) : sizeof(buf);
			pat_fill(buf, off, n);
			write_all(1, buf, n);
			off += n;
		}
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (o.connect_port) {
		/* Client: --conns connections one after another to a server
		 * (zcrecv --accept), each the stream, a FIN, and the server's
		 * close awaited. */
		for (int c = 0; c < o.conns; c++) {
			int fd = connect_loopback(o.connect_port, o.mss);
			send_stream(fd, &o);
			shutdown(fd, SHUT_WR);
			char buf[4096];
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
		}
		return 0;
	}
	int port, lfd = listen_loopback(o.mss, &port);
	printf("PORT %d\n", port);
	fflush(stdout);
	pthread_t th[1024];
	int n = 0;
	for (int c = 0; o.forever || c < o.conns; c++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept: %s", strerror(errno));
		void **arg = malloc(2 * sizeof(void *));
		arg[0] = (void *)(intptr_t)fd;
		arg[1] = &o;
		if (o.conns == 1 && !o.forever) {
			serve(arg);
		} else {
			pthread_create(&th[n % 1024], NULL, serve, arg);
			if (o.forever)
				pthread_detach(th[n % 1024]);
			n++;
		}
	}
	for (int i = 0; i < n && !o.forever; i++)
		pthread_join(th[i], NULL);
	return 0;
}
