/*
 * statdir.h - where statistics segments live: one rule, shared by the shim
 * (which creates them) and zcstat (which finds them).
 */
#ifndef ZCSHIM_STATDIR_H
#define ZCSHIM_STATDIR_H

#include <stddef.h>

/* Default per-user directory ("/dev/shm/zcshim-UID" or
 * "$XDG_RUNTIME_DIR/zcshim").  Returns its length or -errno. */
int statdir_default(char *buf, size_t cap, const char *xdg_runtime_dir, unsigned uid);
/* The statistics directory, the one rule: override when set (ZCSHIM_STATS_DIR),
 * else the default for the effective uid.  Returns its length or -errno. */
int statdir_find(char *buf, size_t cap, const char *override, const char *xdg_runtime_dir);
/* Creates dir 0700 if missing (create) and checks it is a real directory
 * owned by uid, not a symlink, mode 0700.  0 or -errno. */
int statdir_check(const char *dir, unsigned uid, int create);

#endif
