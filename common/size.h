/*
 * size.h - byte counts as people write them ("4096", "64k", "2M", "1GiB"):
 * one parser for the shim's environment and every tool's options.
 */
#ifndef ZCSHIM_SIZE_H
#define ZCSHIM_SIZE_H

#include <stdint.h>

/* Binary units (k, M, G, optionally followed by i and B).  0, or -EINVAL
 * (not a size) or -ERANGE (outside [min, max]). */
int size_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
