/*
 * config.c - see config.h.  No allocation; safe to call from the shim's
 * init path before anything else is set up.
 */
#include "config.h"
#include "size.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

void config_defaults(struct zcfg *c)
{
	memset(c, 0, sizeof(*c));
	c->window = CONFIG_DEFAULT_WINDOW;
	c->min_read = CONFIG_DEFAULT_MIN_READ;
	c->log_level = ZLOG_OFF;
	c->slots = CONFIG_DEFAULT_SLOTS;
}

int config_parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "1", "true", "yes", "on" };
	static const char *no[] = { "0", "false", "no", "off", "" };
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(s, yes[i]))
			return *out = 1, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcasecmp(s, no[i]))
			return *out = 0, 0;
	return -EINVAL;
}

int config_parse_mode(const char *s, int *out)
{
	if (s && !strcasecmp(s, "map"))
		return *out = 0, 0;
	if (s && !strcasecmp(s, "auto"))
		return *out = 1, 0;
	return -EINVAL;
}

static int parse_cost(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > 1000000000000ull)
			return -EINVAL;
	}
	if (p == s || !v)
		return -EINVAL;
	*end = p;
	*out = v;
	return 0;
}

int config_parse_costs(const char *s, uint64_t *map, uint64_t *copy)
{
	const char *p;
	uint64_t m, c;
	if (!s || parse_cost(s, &p, &m) || *p != ':' || parse_cost(p + 1, &p, &c) || *p)
		return -EINVAL;
	*map = m;
	*copy = c;
	return 0;
}

int config_parse_level(const char *s, int *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	if (!s)
		return -EINVAL;
	if (!strcasecmp(s, "off") || !strcasecmp(s, "none"))
		return *out = ZLOG_OFF, 0;
	for (int i = 0; i < 4; i++)
		if (!strcasecmp(s, names[i]))
			return *out = i, 0;
	if (!strcasecmp(s, "warning"))
		return *out = ZLOG_WARN, 0;
	return -EINVAL;
}

static int copy_path(const char *s, char *dst, size_t cap)
{
	size_t n = strlen(s);
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, s, n + 1);
	return 0;
}

int config_load(struct zcfg *c, config_getenv_fn get, config_warn_fn warn, int secure)
{
	int bad = 0;
	const char *v;
	config_defaults(c);
	c->secure = secure;
	if (secure)
		return 0;

	if ((v = get("ZCSHIM_LOG")) && config_parse_level(v, &c->log_level)) {
		warn("ZCSHIM_LOG", v, "expected off, error, warn, info or debug");
		c->log_level = ZLOG_WARN;
		bad++;
	}
	if ((v = get("ZCSHIM_LOG_FILE")) && *v && copy_path(v, c->log_file, sizeof(c->log_file))) {
		warn("ZCSHIM_LOG_FILE", v, "path too long");
		c->log_file[0] = 0;
		bad++;
	}
	/* A log file named and no level: warnings go there. */
	if (c->log_file[0] && !get("ZCSHIM_LOG"))
		c->log_level = ZLOG_WARN;
	if ((v = get("ZCSHIM_DISABLE")) && config_parse_bool(v, &c->disable)) {
		warn("ZCSHIM_DISABLE", v, "expected 0 or 1");
		c->disable = 0;
		bad++;
	}
	if ((v = get("ZCSHIM_WINDOW"))) {
		uint64_t w;
		if (size_parse(v, CONFIG_MIN_WINDOW, CONFIG_MAX_WINDOW, &w) || (w & 4095)) {
			warn("ZCSHIM_WINDOW", v, "expected a multiple of 4096 between 64K and 256M");
			bad++;
		} else {
			c->window = w;
		}
	}
	if ((v = get("ZCSHIM_MIN_READ"))) {
		uint64_t m;
		if (size_parse(v, 0, CONFIG_MAX_MIN_READ, &m)) {
			warn("ZCSHIM_MIN_READ", v, "expected a size between 0 and 1G");
			bad++;
		} else {
			c->min_read = m;
		}
	}
	if ((v = get("ZCSHIM_MODE")) && config_parse_mode(v, &c->mode)) {
		warn("ZCSHIM_MODE", v, "expected map or auto");
		c->mode = 0;
		bad++;
	}
	if ((v = get("ZCSHIM_AUTO_COSTS")) && config_parse_costs(v, &c->auto_map_cost, &c->auto_copy_cost)) {
		warn("ZCSHIM_AUTO_COSTS", v, "expected MAP:COPY, CPU ns per MiB of each");
		c->auto_map_cost = c->auto_copy_cost = 0;
		bad++;
	}
	if ((v = get("ZCSHIM_STATS_DIR")) && *v && (v[0] != '/' || copy_path(v, c->stats_dir, sizeof(c->stats_dir)))) {
		warn("ZCSHIM_STATS_DIR", v, "expected an absolute path shorter than 256 bytes");
		c->stats_dir[0] = 0;
		bad++;
	}
	if ((v = get("ZCSHIM_SLOTS"))) {
		uint64_t n;
		if (size_parse(v, 1, 1u << 20, &n)) {
			warn("ZCSHIM_SLOTS", v, "expected a count between 1 and 1048576");
			bad++;
		} else {
			c->slots = (uint32_t)n;
		}
	}
	if ((v = get("ZCSHIM_CALLSITES")) && config_parse_bool(v, &c->callsites)) {
		warn("ZCSHIM_CALLSITES", v, "expected 0 or 1");
		c->callsites = 0;
		bad++;
	}
	if ((v = get("ZCSHIM_SECCOMP")) && strcmp(v, "aside") && strcmp(v, "keep")) {
		warn("ZCSHIM_SECCOMP", v, "expected aside or keep");
		bad++;
	} else if (v) {
		c->seccomp_keep = !strcmp(v, "keep");
	}
	if ((v = get("ZCSHIM_SESSION")) && *v && copy_path(v, c->session, sizeof(c->session))) {
		warn("ZCSHIM_SESSION", v, "too long");
		c->session[0] = 0;
		bad++;
	}
	return bad;
}
