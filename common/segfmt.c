/*
 * segfmt.c - the names of the reasons in segfmt.h, for every reader.
 */
#include "segfmt.h"

const char *const segfmt_reason_names[SEGFMT_R_COUNT] = {
	[SEGFMT_R_SMALL] = "small_read",
	[SEGFMT_R_UNMAPPABLE] = "unmappable",
	[SEGFMT_R_FLAGS] = "flags",
	[SEGFMT_R_NOKERNEL] = "no_kernel",
	[SEGFMT_R_NOWINDOW] = "no_window",
	[SEGFMT_R_BUFFER] = "buffer",
	[SEGFMT_R_NESTED] = "nested",
	[SEGFMT_R_BACKOFF] = "backoff",
	[SEGFMT_R_LITTLE] = "little_data",
	[SEGFMT_R_SOCKOPT] = "sockopt",
	[SEGFMT_R_AUTO] = "auto_copy",
	[SEGFMT_R_SPLICED] = "spliced",
};

const char *segfmt_reason_name(unsigned r)
{
	return r < SEGFMT_R_COUNT ? segfmt_reason_names[r] : "?";
}
