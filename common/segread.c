/*
 * segread.c - see segread.h.
 */
#define _GNU_SOURCE
#include "segread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(code, ...) (snprintf(err, errcap, __VA_ARGS__), (code))

int segread_validate(const void *mem, size_t size, char *err, size_t errcap)
{
	const struct segfmt_header *h = mem;
	if (size < sizeof(*h))
		return ERR(-EINVAL, "too small for a header (%zu bytes)", size);
	if (memcmp(h->magic, SEGFMT_MAGIC, 8))
		return ERR(-EINVAL, "not a zcshim segment (bad magic)");
	if (h->version != SEGFMT_VERSION)
		return ERR(-EPROTO, "segment version %u, this zcstat reads %u", h->version, SEGFMT_VERSION);
	if (h->header_size != sizeof(*h) || h->slot_size != sizeof(struct segfmt_slot))
		return ERR(-EPROTO, "segment layout sizes %u/%u do not match %zu/%zu",
			   h->header_size, h->slot_size, sizeof(*h), sizeof(struct segfmt_slot));
	if (h->nslots > (1u << 24))
		return ERR(-EINVAL, "implausible slot count %u", h->nslots);
	if (h->ncallsites > 65536)
		return ERR(-EINVAL, "implausible call-site count %u", h->ncallsites);
	size_t slots_end = sizeof(*h) + (size_t)h->nslots * sizeof(struct segfmt_slot);
	if (h->ncallsites && h->callsite_offset != slots_end)
		return ERR(-EINVAL, "call-site table at %u, expected %zu", h->callsite_offset, slots_end);
	size_t need = slots_end + (size_t)h->ncallsites * sizeof(struct segfmt_callsite);
	if (h->total_size < need || h->total_size > size)
		return ERR(-EINVAL, "segment claims %llu bytes, needs %zu, file has %zu",
			   (unsigned long long)h->total_size, need, size);
	if (h->pid <= 0)
		return ERR(-EINVAL, "bad pid %d", h->pid);
	if (!memchr(h->command, 0, sizeof(h->command)) || !memchr(h->session, 0, sizeof(h->session)))
		return ERR(-EINVAL, "unterminated string field");
	return 0;
}

int segread_open(const char *path, long owner, struct segview *v, char *err, size_t errcap)
{
	memset(v, 0, sizeof(*v));
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return ERR(-errno, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return ERR(-e, "cannot stat: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ERR(-EINVAL, "not a regular file");
	}
	if (owner >= 0 && st.st_uid != (uid_t)owner) {
		close(fd);
		return ERR(-EPERM, "owned by uid %u, not %ld: refused", (unsigned)st.st_uid, owner);
	}
	if (st.st_size < (off_t)sizeof(struct segfmt_header) || st.st_size > (off_t)(1ull << 32)) {
		close(fd);
		return ERR(-EINVAL, "bad size %lld", (long long)st.st_size);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return ERR(-errno, "cannot map: %s", strerror(errno));
	int r = segread_view_mem(p, (size_t)st.st_size, v, err, errcap);
	if (r) {
		munmap(p, (size_t)st.st_size);
		return r;
	}
	snprintf(v->path, sizeof(v->path), "%s", path);
	return 0;
}

int segread_view_mem(const void *mem, size_t size, struct segview *v, char *err, size_t errcap)
{
	int r = segread_validate(mem, size, err, errcap);
	if (r)
		return r;
	v->h = mem;
	v->size = size;
	v->slots = (const struct segfmt_slot *)((const char *)mem + v->h->header_size);
	v->callsites = v->h->ncallsites ? (const struct segfmt_callsite *)((const char *)mem + v->h->callsite_offset) : NULL;
	uint64_t used = __atomic_load_n(&v->h->slots_used, __ATOMIC_ACQUIRE);
	v->nslots = used < v->h->nslots ? (uint32_t)used : v->h->nslots;
	return 0;
}

static void add_snapshot(struct segfmt_counters *t, const struct segfmt_counters *c)
{
	const uint64_t *src = (const uint64_t *)c;
	uint64_t *dst = (uint64_t *)t;
	for (size_t i = 0; i < sizeof(*c) / 8; i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void segread_totals(const struct segview *v, struct segfmt_counters *out)
{
	memset(out, 0, sizeof(*out));
	add_snapshot(out, &v->h->retired);
	add_snapshot(out, &v->h->overflow.c);
	for (uint32_t i = 0; i < v->nslots; i++)
		add_snapshot(out, &v->slots[i].c);
}

void segread_close(struct segview *v)
{
	if (v->h)
		munmap((void *)v->h, v->size);
	v->h = NULL;
}

/* Field 22 of /proc/PID/stat, or 0. */
static unsigned long long start_time(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	for (int field = 2; p && *p && field < 22; p++)
		if (*p == ' ')
			field++;
	return p ? strtoull(p, NULL, 10) : 0;
}

int segread_live(const struct segview *v)
{
	char maps[64], line[1024];
	/* A reused pid is another process: its start time differs. */
	if (start_time(v->h->pid) != v->h->start_time)
		return 0;
	const char *base = strrchr(v->path, '/');
	base = base ? base + 1 : v->path;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", v->h->pid);
	FILE *f = fopen(maps, "re");
	if (!f)
		return 0;
	int live = 0;
	while (!live && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, base);
		/* Match the whole file name, as the last path component. */
		if (p && p[-1] == '/' && (p[strlen(base)] == '\n' || p[strlen(base)] == ' '))
			live = 1;
	}
	fclose(f);
	return live;
}

int segread_fd_open(int pid, int fd, unsigned long long inode)
{
	char path[64], target[64], want[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = 0;
	if (!inode)	/* not recorded: any socket there is taken as it */
		return !strncmp(target, "socket:[", 8);
	snprintf(want, sizeof(want), "socket:[%llu]", inode);
	return !strcmp(target, want);
}
