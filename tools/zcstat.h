/*
 * zcstat.h - what zcstat's commands share: finding and collecting the
 * shim's statistics segments, and running a command under the shim.
 */
#ifndef ZCSHIM_ZCSTAT_H
#define ZCSHIM_ZCSTAT_H

#include "segread.h"

#include <stddef.h>

struct seglist {
	struct segview *v;
	size_t n, cap;
};

/* The statistics directory (ZCSHIM_STATS_DIR, else the per-user
 * default).  0 or -errno. */
int zcstat_stats_dir(char *out, size_t cap);
/* Live segments of every process (pid 0) or of pid. */
void zcstat_collect_live(const char *dir, struct seglist *out, int pid);
void zcstat_free_list(struct seglist *l);
/* Runs cmd under the shim, in a session of its own, with extra_env
 * ("NAME=value", NULL-terminated, may be NULL) added; waits for it and
 * collects the segments of its processes into *out, its exit code into
 * *code.  0, or 127 when it could not be run (said on stderr). */
int zcstat_run(char **cmd, const char *const extra_env[], struct seglist *out, int *code);
/* Closes a run's segments and removes the files of processes gone. */
void zcstat_run_done(struct seglist *l);

/* zcstat doctor (zcdoctor.c): argv[0] is "doctor". */
int doctor_main(int argc, char **argv);

#endif
