/*
 * fuzz_config.c - libFuzzer target: the environment parser.
 *
 * The input, as a string, is offered as the value of every ZCSHIM_*
 * variable at once and to each parser on its own.  Run by `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "size.h"

static const char *value;

static const char *get(const char *name)
{
	(void)name;
	return value;
}

static void warn(const char *name, const char *v, const char *why)
{
	(void)name, (void)v, (void)why;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	value = s;
	uint64_t u;
	int b;
	size_parse(s, 0, UINT64_MAX, &u);
	config_parse_bool(s, &b);
	config_parse_level(s, &b);
	struct zcfg c;
	config_load(&c, get, warn, 0);
	if (c.window % 4096 || c.window < CONFIG_MIN_WINDOW || c.window > CONFIG_MAX_WINDOW)
		abort();	/* an accepted window must be valid */
	free(s);
	return 0;
}
