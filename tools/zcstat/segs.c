/*
 * segs.c - see segs.h.
 */
#define _GNU_SOURCE
#include "segs.h"
#include "statdir.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- finding things -------------------------------------------------- */

static int find_lib(char *out, size_t cap)
{
	const char *env = getenv("ZCSHIM_LIB");
	if (env && *env) {
		if (access(env, R_OK))
			return fprintf(stderr, "zcstat: ZCSHIM_LIB=%s: %s\n", env, strerror(errno)), -1;
		if (!realpath(env, out))
			return -1;
		return 0;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -1;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	*slash = 0;
#ifndef ZCSHIM_MULTIARCH
#define ZCSHIM_MULTIARCH ""
#endif
	const char *tries[] = { "%s/libzcshim.so", "%s/../lib/zcshim/libzcshim.so",
				"%s/../lib/" ZCSHIM_MULTIARCH "/zcshim/libzcshim.so" };
	for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), tries[i], self);
		if (!access(p, R_OK) && realpath(p, out))
			return 0;
	}
	(void)cap;
	fprintf(stderr, "zcstat: cannot find libzcshim.so beside %s; set ZCSHIM_LIB\n", self);
	return -1;
}

int segs_stats_dir(char *out, size_t cap)
{
	int r = statdir_find(out, cap, getenv("ZCSHIM_STATS_DIR"), getenv("XDG_RUNTIME_DIR"));
	return r < 0 ? r : 0;
}

/* ---- collecting segments --------------------------------------------- */

static int cmp_seg(const void *a, const void *b)
{
	const struct segview *x = a, *y = b;
	if (x->h->pid != y->h->pid)
		return x->h->pid < y->h->pid ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Segments in dir whose session equals session (NULL: all, and say why
 * any cannot be read; a session's own segments are always readable). */
static void collect(const char *dir, const char *session, struct seglist *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	long owner = geteuid() == 0 ? -1 : (long)geteuid();
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(SEGFMT_SEG_SUFFIX);
		if (len <= sl || strcmp(de->d_name + len - sl, SEGFMT_SEG_SUFFIX))
			continue;
		char path[PATH_MAX + 256], err[256];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct segview v;
		if (segread_open(path, owner, &v, err, sizeof(err))) {
			if (!session)
				fprintf(stderr, "zcstat: skipping %s: %s\n", path, err);
			continue;
		}
		if (session && strcmp(v.h->session, session)) {
			segread_close(&v);
			continue;
		}
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 16;
			out->v = realloc(out->v, out->cap * sizeof(*out->v));
		}
		out->v[out->n++] = v;
	}
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_seg);
}

/* ---- live segments ------------------------------------------------- */

/* The pid of the zcstat that owns a session ("zcstat-PID-..."), or 0. */
static int session_owner(const char *session)
{
	int pid = 0;
	return sscanf(session, "zcstat-%d-", &pid) == 1 ? pid : 0;
}

/* Live segments only; dead ones are removed unless a running zcstat --
 * CMD is still to collect them. */
void segs_collect_live(const char *dir, struct seglist *out, int pid)
{
	struct seglist all = { 0 };
	collect(dir, NULL, &all);
	for (size_t i = 0; i < all.n; i++) {
		struct segview *v = &all.v[i];
		if (segread_live(v) && (!pid || v->h->pid == pid)) {
			if (out->n == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 16;
				out->v = realloc(out->v, out->cap * sizeof(*out->v));
			}
			out->v[out->n++] = *v;
			continue;
		}
		if (!segread_live(v)) {
			int owner = session_owner(v->h->session);
			if (!owner || (kill(owner, 0) && errno == ESRCH))
				unlink(v->path);
		}
		segread_close(v);
	}
	free(all.v);
}

void segs_free_list(struct seglist *l)
{
	for (size_t i = 0; i < l->n; i++)
		segread_close(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* ---- a command under the shim ---------------------------------------- */

int segs_run(char **cmd, const char *const extra_env[], struct seglist *out, int *code)
{
	char lib[PATH_MAX], dir[PATH_MAX], session[48];
	if (find_lib(lib, sizeof(lib)))
		return 127;
	if (segs_stats_dir(dir, sizeof(dir))) {
		fprintf(stderr, "zcstat: no statistics directory (no /dev/shm and no XDG_RUNTIME_DIR)\n");
		return 127;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(session, sizeof(session), "zcstat-%d-%lld%09ld", (int)getpid(), (long long)ts.tv_sec, ts.tv_nsec);

	const char *old = getenv("LD_PRELOAD");
	char *preload;
	if (old && *old) {
		if (asprintf(&preload, "%s:%s", lib, old) < 0)
			return 127;
	} else {
		preload = strdup(lib);
	}
	setenv("LD_PRELOAD", preload, 1);
	setenv("ZCSHIM_SESSION", session, 1);
	free(preload);
	for (size_t i = 0; extra_env && extra_env[i]; i++)
		putenv((char *)extra_env[i]);

	/* Like time(1): the terminal's signals go to CMD; we wait and report. */
	struct sigaction ign = { .sa_handler = SIG_IGN }, oint, oquit;
	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	pid_t pid = fork();
	if (pid < 0) {
		perror("zcstat: fork");
		return 127;
	}
	if (pid == 0) {
		sigaction(SIGINT, &oint, NULL);
		sigaction(SIGQUIT, &oquit, NULL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "zcstat: %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	unsetenv("LD_PRELOAD");
	collect(dir, session, out);
	return 0;
}

void segs_run_done(struct seglist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		/* Collected: remove the files of processes that are gone. */
		if (!segread_live(&l->v[i]))
			unlink(l->v[i].path);
		segread_close(&l->v[i]);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
