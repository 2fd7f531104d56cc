/*
 * segfmt.c - the names of the reasons in segfmt.h, for every reader.
 */
#include "segfmt.h"

const char *const zcs_reason_names[ZCS_R_COUNT] = {
	[ZCS_R_SMALL] = "small_read",
	[ZCS_R_UNMAPPABLE] = "unmappable",
	[ZCS_R_FLAGS] = "flags",
	[ZCS_R_NOKERNEL] = "no_kernel",
	[ZCS_R_NOWINDOW] = "no_window",
	[ZCS_R_BUFFER] = "buffer",
	[ZCS_R_NESTED] = "nested",
	[ZCS_R_BACKOFF] = "backoff",
	[ZCS_R_LITTLE] = "little_data",
	[ZCS_R_SOCKOPT] = "sockopt",
	[ZCS_R_AUTO] = "auto_copy",
};

const char *zcs_reason_name(unsigned r)
{
	return r < ZCS_R_COUNT ? zcs_reason_names[r] : "?";
}
