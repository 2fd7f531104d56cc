/*
 * zcsmall - a program with one bad habit, for the call-site view: its
 * function read_small_chunks reads the stream 100 bytes at a time (never
 * mappable), while read_big_chunks reads 1 MiB at a time.
 *
 *   zcsmall PORT SMALL_BYTES
 *
 * Reads SMALL_BYTES in 100-byte reads, the rest in 1 MiB reads, checks
 * every byte, prints "bytes=N ok".  Under ZCSHIM_CALLSITES=1, zcstat must
 * name read_small_chunks as the top call site.
 */
#define _GNU_SOURCE
#include "common.h"
#include "pattern.h"

static uint8_t buf[1 << 20];

__attribute__((noinline)) static uint64_t read_small_chunks(int fd, uint64_t at, uint64_t n)
{
	uint64_t end = at + n;
	while (at < end) {
		ssize_t r = read(fd, buf, end - at < 100 ? (size_t)(end - at) : 100);
		if (r <= 0)
			die("short stream");
		if (pat_check(buf, at, (size_t)r) != (size_t)r)
			die("mismatch at %llu", (unsigned long long)at);
		at += (uint64_t)r;
	}
	return at;
}

__attribute__((noinline)) static uint64_t read_big_chunks(int fd, uint64_t at)
{
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (pat_check(buf, at, (size_t)r) != (size_t)r)
			die("mismatch at %llu", (unsigned long long)at);
		at += (uint64_t)r;
	}
	return at;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		die("usage: zcsmall PORT SMALL_BYTES");
	int fd = connect_loopback(atoi(argv[1]), 0);
	uint64_t at = read_small_chunks(fd, 0, parse_size(argv[2]));
	at = read_big_chunks(fd, at);
	printf("bytes=%llu ok\n", (unsigned long long)at);
	return 0;
}
