/*
 * testlib.h - spawning helpers for the Criterion suites.
 *
 * The Criterion runner never runs with the shim: helpers are spawned with
 * posix_spawn and an explicit environment, under zcstat when the shim is
 * wanted (so its counters come back as JSON).  Every wait is bounded by a
 * pidfd/poll timeout that fails the test instead of hanging it.
 */
#ifndef ZCSHIM_TESTLIB_H
#define ZCSHIM_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tl_proc {
	pid_t pid;
	int out;        /* its stdout, or -1 */
	int in;         /* its stdin, or -1 */
	int pidfd;
};

/* build/helpers/NAME for a helper, else build/NAME (the build directory
 * comes from $ZCSHIM_BUILD, default "build"). */
const char *tl_bin(const char *name);

/* Starts argv with the test's environment minus any LD_PRELOAD/ZCSHIM_*,
 * plus extra_env (NULL-terminated, may be NULL).  stdout is piped to p->out;
 * with_stdin pipes stdin from p->in, else stdin is /dev/null. */
void tl_spawn(struct tl_proc *p, const char *const argv[], const char *const extra_env[], int with_stdin);
/* One line of p's stdout (newline stripped); 0, or -1 on EOF/timeout. */
int tl_readline(struct tl_proc *p, char *buf, size_t cap, int timeout_ms);
/* Everything left on p's stdout until EOF (malloc'ed, NUL-terminated). */
char *tl_slurp(struct tl_proc *p, int timeout_ms);
/* Exit code (128+signal if killed); kills it and returns -1 on timeout. */
int tl_wait(struct tl_proc *p, int timeout_ms);
void tl_kill(struct tl_proc *p);

/* zcsend with the given extra arguments (NULL-terminated); returns its port. */
int tl_sender(struct tl_proc *p, const char *const args[]);

struct tl_result {
	int status;     /* exit code */
	char *out;      /* stdout */
	char *json;     /* zcstat report, with the shim; else NULL */
};

/* Runs argv to completion, under zcstat --json when shim is set. */
void tl_run(struct tl_result *r, int shim, int timeout_ms, const char *const argv[], const char *const extra_env[]);
void tl_free(struct tl_result *r);

/* First number after "key": at or after the first occurrence of within
 * (NULL: from the start) in json.  UINT64_MAX if absent. */
uint64_t tl_json_u64(const char *json, const char *within, const char *key);
/* 1 true, 0 false, -1 null/absent. */
int tl_json_bool(const char *json, const char *key);
/* Number of occurrences of needle in hay. */
int tl_count(const char *hay, const char *needle);

#endif
