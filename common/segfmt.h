/*
 * segfmt.h - layout of a zcshim statistics segment.
 *
 * Every process running the shim owns one
 * segment: a file in the per-user stats directory (see stats.c) mapped
 * MAP_SHARED.  The shim is the only writer; zcstat and the tests only read.
 * Writers use relaxed atomic adds so a reader never blocks them and never
 * sees a torn 64-bit counter.
 *
 * The layout is versioned.  A reader must check magic, version, header_size,
 * slot_size, nslots and total_size against the file size before touching
 * anything (tools/segread.c does, and is fuzzed).
 */
#ifndef ZCSHIM_SEGFMT_H
#define ZCSHIM_SEGFMT_H

#include <stdint.h>

#define SEGFMT_MAGIC "ZCSHIMSG"
#define SEGFMT_VERSION 5
#define SEGFMT_SESSION_LEN 48
#define SEGFMT_COMMAND_LEN 200
#define SEGFMT_SEG_SUFFIX ".zcs"

/* Why a byte was not mapped (or a call not attempted on the mapped path).
 * Each reason's name (zcstat, JSON) stands beside it in segfmt.c. */
enum segfmt_reason {
	SEGFMT_R_SMALL = 0,   /* read smaller than ZCSHIM_MIN_READ */
	SEGFMT_R_UNMAPPABLE,  /* data not page-mappable (recv_skip_hint) */
	SEGFMT_R_FLAGS,       /* MSG_PEEK, MSG_OOB, control buffer, address...: passed through */
	SEGFMT_R_NOKERNEL,    /* kernel without TCP_ZEROCOPY_RECEIVE, or disabled */
	SEGFMT_R_NOWINDOW,    /* no mapping window free or mappable */
	SEGFMT_R_BUFFER,      /* caller's buffer not verifiably writable */
	SEGFMT_R_NESTED,      /* nested call (signal handler) or fd busy */
	SEGFMT_R_BACKOFF,     /* recent data on this fd was unmappable: not probed */
	SEGFMT_R_LITTLE,      /* little data arriving at a time (request/response) */
	SEGFMT_R_SOCKOPT,     /* a socket option the mapped path cannot honour
			    * (SO_PEEK_OFF, TCP_REPAIR, TCP_INQ, timestamps) */
	SEGFMT_R_AUTO,        /* ZCSHIM_MODE=auto measured copying cheaper here */
	SEGFMT_R_SPLICED,     /* the program moved them with splice(): the
			       * kernel's own path, nothing for the shim to map */
	SEGFMT_R_COUNT
};

/* "small_read", "unmappable", ...; NULL-free, SEGFMT_R_COUNT entries. */
extern const char *const segfmt_reason_names[SEGFMT_R_COUNT];
/* The name of r, or "?" for a value from a newer or damaged segment. */
const char *segfmt_reason_name(unsigned r);

/* Counter block: per fd slot, per process total. */
struct segfmt_counters {
	uint64_t reads;         /* receive calls that consumed data or failed */
	uint64_t bytes_mapped;  /* delivered from mapped pages */
	uint64_t bytes_copied;  /* delivered by any kernel copy */
	uint64_t zc_calls;      /* getsockopt(TCP_ZEROCOPY_RECEIVE) calls */
	uint64_t bytes_probed;  /* delivered by reads that took the mapped path:
				 * bytes_mapped / bytes_probed is the share of
				 * the traffic that could be mapped */
	uint64_t api_calls;     /* zcshim_recv() calls (also counted in reads) */
	uint64_t skip_runs;     /* unmappable runs the kernel reported (recv_skip_hint)
				 * and the shim took: fb_bytes[SEGFMT_R_UNMAPPABLE] /
				 * skip_runs is their typical size (zcstat doctor) */
	uint64_t fb_reads[SEGFMT_R_COUNT]; /* calls with unmapped bytes, by reason */
	uint64_t fb_bytes[SEGFMT_R_COUNT]; /* unmapped bytes, by reason */
};

enum segfmt_slot_state { SEGFMT_SLOT_FREE = 0, SEGFMT_SLOT_OPEN = 1, SEGFMT_SLOT_CLOSED = 2 };

struct segfmt_slot {
	uint32_t state;         /* enum segfmt_slot_state */
	int32_t fd;
	uint64_t inode;         /* socket inode: lets a reader tell if fd is still it */
	uint16_t family;        /* AF_INET, AF_INET6 or 0 if unknown */
	uint16_t port;          /* peer port, host order */
	uint8_t addr[16];       /* peer address, network order */
	uint32_t pad;
	uint64_t opened_ns;     /* 0: no longer kept (a clock read per connection) */
	uint64_t closed_ns;
	struct segfmt_counters c;
};

/* Where reads that were not fully mapped come from (ZCSHIM_CALLSITES=1). */
struct segfmt_callsite {
	uint64_t ip;            /* return address in the caller; 0 = free */
	uint32_t state;         /* 0 free, 1 being filled, 2 ready */
	uint32_t reason;        /* enum segfmt_reason of its first unmapped read */
	uint64_t reads;         /* reads from here with unmapped bytes */
	uint64_t bytes;         /* unmapped bytes read from here */
	uint64_t offset;        /* ip - load address of module */
	uint64_t fn_offset;     /* ip - start of function */
	char module[112];
	char function[64];
};

#define SEGFMT_CALLSITES 256

struct segfmt_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint32_t slot_size;
	uint32_t nslots;
	uint64_t total_size;
	int32_t pid;
	int32_t ppid;
	uint64_t start_time;    /* field 22 of /proc/PID/stat: detects pid reuse */
	char session[SEGFMT_SESSION_LEN]; /* ZCSHIM_SESSION of zcstat -- CMD, or "" */
	char command[SEGFMT_COMMAND_LEN]; /* argv joined by spaces, truncated */
	uint32_t kernel_zc;     /* 0 unknown, 1 supported, 2 not supported */
	uint32_t exited;        /* set by the exit handler */
	uint64_t slots_used;    /* high-water mark of claimed slots */
	uint64_t slots_recycled;/* closed slots reused (their counts move to retired) */
	uint64_t window_size;
	uint64_t min_read;
	uint32_t ncallsites;    /* call-site table after the slots; 0 if off */
	uint32_t callsite_offset;
	uint64_t callsites_dropped; /* table full: sites not recorded */
	uint32_t mode;          /* ZCSHIM_MODE: 0 map, 1 auto */
	uint32_t auto_verdict;  /* auto: 0 learning, 1 mapping pays, 2 copying does */
	uint64_t auto_map_ns_per_mb;  /* auto: CPU per MiB of mapped-path reads (median of samples) */
	uint64_t auto_copy_ns_per_mb; /* auto: CPU per MiB of copied reads */
	uint32_t auto_prior;    /* auto: started from this host's saved estimates */
	uint32_t sandboxed;     /* the program installed a seccomp filter (1) or
				 * strict mode (2): the shim passes through since */
	/* Counts of slots that were recycled.  The process's totals are
	 * retired + overflow + every slot: summed by the reader, so that a read
	 * pays for one set of atomic adds, not two. */
	struct segfmt_counters retired;
	struct segfmt_slot overflow; /* fds that found no slot */
};

#define SEGFMT_DEFAULT_SLOTS 4096

#endif
