/*
 * zcprom.c - see zcprom.h.
 */
#define _GNU_SOURCE
#include "zcprom.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void add(struct segfmt_counters *t, const struct segfmt_counters *c)
{
	const uint64_t *s = (const uint64_t *)c;
	uint64_t *d = (uint64_t *)t;
	for (size_t i = 0; i < sizeof(*c) / 8; i++)
		d[i] += s[i];
}

void zcprom_fold(struct zcprom_state *st, const struct zcprom_proc *live, size_t n)
{
	for (size_t i = 0; i < st->n; i++) {
		int still = 0;
		for (size_t k = 0; k < n && !still; k++)
			still = live[k].pid == st->seen[i].pid && live[k].start == st->seen[i].start;
		if (!still) {
			add(&st->exited, &st->seen[i].c);
			st->have_exited = 1;
		}
	}
	if (n > st->cap) {
		st->cap = n;
		st->seen = realloc(st->seen, n * sizeof(*st->seen));
	}
	if (n)
		memcpy(st->seen, live, n * sizeof(*live));
	st->n = n;
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f), fputc(*s, f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static int by_bytes(const void *a, const void *b)
{
	const struct zcprom_proc *x = a, *y = b;
	uint64_t bx = x->c.bytes_mapped + x->c.bytes_copied, by = y->c.bytes_mapped + y->c.bytes_copied;
	return bx > by ? -1 : bx < by ? 1 : x->pid - y->pid;
}

/* The series of the processes to show: the biggest PROM_MAX_PROCS, the
 * rest summed as "other", and "exited" when known. */
struct series {
	const char *pid, *command;
	char pidbuf[16];
	struct segfmt_counters c;
};

static size_t make_series(struct zcprom_proc *live, size_t n, const struct zcprom_state *st, struct series *out)
{
	size_t k = 0;
	qsort(live, n, sizeof(*live), by_bytes);
	struct series other = { .pid = "other", .command = "other" };
	for (size_t i = 0; i < n; i++) {
		if (i >= PROM_MAX_PROCS) {
			add(&other.c, &live[i].c);
			continue;
		}
		struct series *s = &out[k++];
		memset(s, 0, sizeof(*s));
		snprintf(s->pidbuf, sizeof(s->pidbuf), "%d", live[i].pid);
		s->pid = s->pidbuf;
		s->command = live[i].command;
		s->c = live[i].c;
	}
	if (n > PROM_MAX_PROCS)
		out[k++] = other;
	if (st && st->have_exited) {
		struct series *s = &out[k++];
		memset(s, 0, sizeof(*s));
		s->pid = s->command = "exited";
		s->c = st->exited;
	}
	return k;
}

static void counter(FILE *f, const char *name, const char *help, const struct series *s, size_t n, size_t off)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = *(const uint64_t *)((const char *)&s[i].c + off);
		fprintf(f, "%s{pid=", name);
		label(f, s[i].pid);
		fputs(",command=", f);
		label(f, s[i].command);
		fprintf(f, "} %llu\n", (unsigned long long)v);
	}
}

static void copied_by_reason(FILE *f, const struct series *s, size_t n)
{
	const char *name = "zcshim_bytes_copied_total";
	fprintf(f, "# HELP %s Received bytes delivered by a kernel copy, by why they were not mapped.\n"
		   "# TYPE %s counter\n", name, name);
	for (size_t i = 0; i < n; i++) {
		uint64_t attributed = 0;
		for (int r = 0; r <= SEGFMT_R_COUNT; r++) {
			uint64_t v;
			if (r < SEGFMT_R_COUNT)
				attributed += v = s[i].c.fb_bytes[r];
			else	/* copied bytes no reason was recorded for */
				v = s[i].c.bytes_copied > attributed ? s[i].c.bytes_copied - attributed : 0;
			if (!v && r < SEGFMT_R_COUNT)
				continue;
			fprintf(f, "%s{pid=", name);
			label(f, s[i].pid);
			fputs(",command=", f);
			label(f, s[i].command);
			fprintf(f, ",reason=\"%s\"} %llu\n", r < SEGFMT_R_COUNT ? segfmt_reason_names[r] : "none",
				(unsigned long long)v);
		}
	}
}

void zcprom_write(FILE *f, struct zcprom_proc *live, size_t n, const struct zcprom_state *st, int kernel)
{
	struct series *s = calloc(PROM_MAX_PROCS + 2, sizeof(*s));
	size_t k = make_series(live, n, st, s);
	fprintf(f, "# HELP zcshim_processes Live processes running the zcshim preload.\n"
		   "# TYPE zcshim_processes gauge\nzcshim_processes %zu\n", n);
	if (kernel >= 0)
		fprintf(f, "# HELP zcshim_kernel_zerocopy 1 if the kernel offers TCP_ZEROCOPY_RECEIVE to these "
			   "processes.\n# TYPE zcshim_kernel_zerocopy gauge\nzcshim_kernel_zerocopy %d\n", kernel);
	counter(f, "zcshim_reads_total", "Receive calls on TCP sockets served by the shim.", s, k,
		offsetof(struct segfmt_counters, reads));
	counter(f, "zcshim_bytes_mapped_total", "Received bytes delivered from mapped pages (zero-copy).", s, k,
		offsetof(struct segfmt_counters, bytes_mapped));
	copied_by_reason(f, s, k);
	counter(f, "zcshim_zc_calls_total", "getsockopt(TCP_ZEROCOPY_RECEIVE) calls.", s, k,
		offsetof(struct segfmt_counters, zc_calls));
	counter(f, "zcshim_api_calls_total", "zcshim_recv() calls (in-place API).", s, k,
		offsetof(struct segfmt_counters, api_calls));
	free(s);
}
