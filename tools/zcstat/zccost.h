/*
 * zccost.h - the CPU cost of a mapped and of a copied read on this host,
 * measured by a short loopback self-test (zccost.c).
 */
#ifndef ZCSHIM_ZCCOST_H
#define ZCSHIM_ZCCOST_H

struct zccost {
	double map_ms_per_mib;  /* map a window, copy the pages out */
	double copy_ms_per_mib; /* recv() */
	double mapped_pct;      /* of the self-test's bytes (should be ~100) */
	double mib;             /* per round */
};

/* 0, or -errno (no TCP_ZEROCOPY_RECEIVE, no loopback, no memory). */
int zccost_measure(struct zccost *out);

#endif
