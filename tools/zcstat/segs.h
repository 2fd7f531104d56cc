/*
 * segs.h - the statistics segments of the shim's processes, as zcstat's
 * commands (zcstat.c, zcdoctor.c) find them: the directory, the live
 * ones, and those of a command run under the shim.
 */
#ifndef ZCSHIM_SEGS_H
#define ZCSHIM_SEGS_H

#include "segread.h"

#include <stddef.h>

struct seglist {
	struct segview *v;
	size_t n, cap;
};

/* The statistics directory (ZCSHIM_STATS_DIR, else the per-user
 * default).  0 or -errno. */
int segs_stats_dir(char *out, size_t cap);
/* Live segments of every process (pid 0) or of pid; dead ones are removed
 * unless a running zcstat -- CMD is still to collect them. */
void segs_collect_live(const char *dir, struct seglist *out, int pid);
void segs_free_list(struct seglist *l);
/* Runs cmd under the shim, in a session of its own, with extra_env
 * ("NAME=value", NULL-terminated, may be NULL) added; waits for it and
 * collects the segments of its processes into *out, its exit code into
 * *code.  0, or 127 when it could not be run (said on stderr). */
int segs_run(char **cmd, const char *const extra_env[], struct seglist *out, int *code);
/* Closes a run's segments and removes the files of processes gone. */
void segs_run_done(struct seglist *l);

#endif
