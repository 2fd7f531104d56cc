/*
 * testlib.c - see testlib.h.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *tl_bin(const char *name)
{
	static char bufs[16][512];
	static int next;
	const char *b = getenv("ZCSHIM_BUILD");
	char *out = bufs[next++ % 16];
	/* The helpers live in build/helpers/, the shipped tools in build/. */
	snprintf(out, 512, "%s/helpers/%s", b && *b ? b : "build", name);
	if (access(out, F_OK))
		snprintf(out, 512, "%s/%s", b && *b ? b : "build", name);
	return out;
}

static char **make_env(const char *const extra[])
{
	size_t n = 0, m = 0;
	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	char **env = calloc(n + m + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "ZCSHIM_", 7))
			env[k++] = environ[i];
	for (size_t i = 0; i < m; i++)
		env[k++] = (char *)extra[i];
#ifdef ZCSHIM_SANITIZE
	/* Sanitized helpers run with the shim preloaded ahead of the sanitizer
	 * runtime, which is intended here; helpers keep some memory to the end
	 * on purpose (zero-copy send buffers). */
	env = realloc(env, (k + 4) * sizeof(char *));
	env[k++] = "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0:abort_on_error=1";
	env[k++] = "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1";
#ifdef ZCSHIM_SANITIZE_THREAD
	/* Any report fails the program (exit 66), and so the test. */
	env[k++] = "TSAN_OPTIONS=halt_on_error=1:exitcode=66:report_signal_unsafe=0:second_deadlock_stack=1";
#endif
	env[k] = NULL;
#endif
	return env;
}

void tl_spawn(struct tl_proc *p, const char *const argv[], const char *const extra_env[], int with_stdin)
{
	int out[2], in[2] = { -1, -1 };
	cr_assert(!pipe2(out, O_CLOEXEC));
	if (with_stdin)
		cr_assert(!pipe2(in, O_CLOEXEC));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (with_stdin)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	char **env = make_env(extra_env);
	int r = posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv, env);
	cr_assert_eq(r, 0, "spawn %s: %s", argv[0], strerror(r));
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(out[1]);
	p->out = out[0];
	if (with_stdin)
		close(in[0]);
	p->in = in[1];
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	cr_assert(p->pidfd >= 0, "pidfd_open: %s", strerror(errno));
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int tl_readline(struct tl_proc *p, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	long long end = now_ms() + timeout_ms;
	while (n + 1 < cap) {
		struct pollfd pf = { .fd = p->out, .events = POLLIN };
		long long left = end - now_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			return -1;
		char c;
		if (read(p->out, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

char *tl_slurp(struct tl_proc *p, int timeout_ms)
{
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap);
	long long end = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pf = { .fd = p->out, .events = POLLIN };
		long long left = end - now_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			break;
		if (n + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(p->out, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	return buf;
}

void tl_kill(struct tl_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}

int tl_wait(struct tl_proc *p, int timeout_ms)
{
	struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
	int status = 0;
	if (poll(&pf, 1, timeout_ms) != 1) {
		tl_kill(p);
		return -1;
	}
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	close(p->pidfd);
	if (p->out >= 0)
		close(p->out);
	if (p->in >= 0)
		close(p->in);
	p->out = p->in = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tl_sender(struct tl_proc *p, const char *const args[])
{
	const char *argv[32] = { tl_bin("zcsend") };
	int n = 1;
	while (args && *args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	tl_spawn(p, argv, NULL, 1);
	char line[64];
	cr_assert_eq(tl_readline(p, line, sizeof(line), 10000), 0, "sender did not start");
	int port = 0;
	cr_assert_eq(sscanf(line, "PORT %d", &port), 1, "sender said '%s'", line);
	return port;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&buf, &cap, 0, f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void tl_run(struct tl_result *r, int shim, int timeout_ms, const char *const argv[], const char *const extra_env[])
{
	const char *full[64];
	char json[] = "/tmp/zcshim-test-XXXXXX";
	int n = 0;
	if (shim) {
		int fd = mkstemp(json);
		cr_assert(fd >= 0);
		close(fd);
		full[n++] = tl_bin("zcstat");
		full[n++] = "--json";
		full[n++] = "-o";
		full[n++] = json;
		full[n++] = "--";
	}
	for (int i = 0; argv[i] && n < 63; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	struct tl_proc p;
	tl_spawn(&p, full, extra_env, 0);
	r->out = tl_slurp(&p, timeout_ms);
	r->status = tl_wait(&p, timeout_ms);
	r->json = NULL;
	if (shim) {
		r->json = read_file(json);
		unlink(json);
	}
}

void tl_free(struct tl_result *r)
{
	free(r->out);
	free(r->json);
	r->out = r->json = NULL;
}

uint64_t tl_json_u64(const char *json, const char *within, const char *key)
{
	char pat[128];
	if (!json)
		return UINT64_MAX;
	const char *p = json;
	if (within && !(p = strstr(json, within)))
		return UINT64_MAX;
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(p, pat);
	if (!p)
		return UINT64_MAX;
	return strtoull(p + strlen(pat), NULL, 10);
}

int tl_json_bool(const char *json, const char *key)
{
	char pat[128];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	p += strlen(pat);
	return !strncmp(p, "true", 4) ? 1 : !strncmp(p, "false", 5) ? 0 : -1;
}

int tl_count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}
