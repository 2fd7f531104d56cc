/*
 * autohost.h - ZCSHIM_MODE=auto's estimates for this boot, kept between
 * processes in the stats directory (shim/auto.c writes them, zcstat doctor
 * reads them): one line,
 *     zcshim-auto 3 BOOT_ID MAP COPY RELEASE SETUP
 * CPU ns per MiB: a sampled mapped read, a copied read, and releasing the
 * mapped pages; SETUP: CPU ns a process's first mapped read costs beyond
 * that (its window, the signal scan), 0 if not measured.  Version 1 had
 * neither RELEASE (and its MAP read low for it) nor SETUP, version 2 no
 * SETUP.
 */
#ifndef ZCSHIM_AUTOHOST_H
#define ZCSHIM_AUTOHOST_H

#include <stdio.h>
#include <string.h>

#define AUTOHOST_FILE "/auto-host"
#define AUTOHOST_FMT "zcshim-auto 3 %s %llu %llu %llu %llu\n"

struct autohost {
	unsigned long long map, copy, release, setup;
};

/* 0 and *h if line holds estimates made this boot (boot_id), else -1. */
static inline int autohost_parse(const char *line, const char *boot_id, struct autohost *h)
{
	char fid[64];
	int version = 0;
	h->release = h->setup = 0;
	if (sscanf(line, "zcshim-auto %d %63s %llu %llu %llu %llu", &version, fid, &h->map, &h->copy, &h->release,
		   &h->setup) < 4 ||
	    version < 1 || version > 3 || strcmp(fid, boot_id) || !h->map || !h->copy)
		return -1;
	return 0;
}

#endif
