/*
 * config.h - the shim's environment configuration.
 *
 * Read once at init.  Every variable is validated; a bad value produces one
 * warning naming the variable and falls back to the default.  In
 * secure-execution mode (setuid/setgid, AT_SECURE) the environment is ignored
 * entirely and no files are written.  The parsing functions are pure (no
 * globals, getenv passed in) so the tests and fuzzers can drive them.
 */
#ifndef ZCSHIM_CONFIG_H
#define ZCSHIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_WINDOW   (2u << 20)
#define CONFIG_MIN_WINDOW       (64u << 10)
#define CONFIG_MAX_WINDOW       (256u << 20)
#define CONFIG_DEFAULT_MIN_READ (64u << 10)
#define CONFIG_MAX_MIN_READ     (1u << 30)
#define CONFIG_PATH_MAX         256

struct zcfg {
	int disable;
	int secure;                 /* AT_SECURE: environment ignored */
	uint64_t window;            /* bytes, multiple of the page size */
	uint64_t min_read;          /* smallest read sent down the mapped path */
	int log_level;              /* enum zlog_level */
	char log_file[CONFIG_PATH_MAX];
	char stats_dir[CONFIG_PATH_MAX]; /* "" = default per-user directory */
	char session[48];           /* set by zcstat -- CMD */
	uint32_t slots;             /* per-fd slots in the stats segment */
	int callsites;              /* record call sites of unmapped reads */
	int seccomp_keep;           /* ZCSHIM_SECCOMP=keep: serve on under the
				     * program's own seccomp filter */
	int mode;                   /* enum auto_mode: 0 map, 1 auto */
	uint64_t auto_map_cost;     /* ZCSHIM_AUTO_COSTS, ns per MiB (0: measure) */
	uint64_t auto_copy_cost;
};

#define CONFIG_DEFAULT_SLOTS 4096u

typedef const char *(*config_getenv_fn)(const char *name);
/* Called once per rejected variable: name, offending value, reason. */
typedef void (*config_warn_fn)(const char *name, const char *value, const char *why);

void config_defaults(struct zcfg *c);
/* Fills c from the environment.  Returns the number of rejected variables. */
int config_load(struct zcfg *c, config_getenv_fn get, config_warn_fn warn, int secure);

/* "1", "true", "yes", "on" / "0", "false", "no", "off", "".  0 or -EINVAL. */
int config_parse_bool(const char *s, int *out);
/* "map" (0), "auto" (1).  0 or -EINVAL. */
int config_parse_mode(const char *s, int *out);
/* "MAP:COPY", two costs in ns per MiB, each 1..10^12.  0 or -EINVAL. */
int config_parse_costs(const char *s, uint64_t *map, uint64_t *copy);
/* "error", "warn", "info", "debug".  0 or -EINVAL. */
int config_parse_level(const char *s, int *out);

#endif
