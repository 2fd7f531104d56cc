/*
 * init.c - see init.h.  Owns start-up: nothing here runs on the read path.
 */
#define _GNU_SOURCE
#include "init.h"
#include "hot.h"
#include "auto.h"
#include "callsite.h"
#include "config.h"
#include "fdtable.h"
#include "libc.h"
#include "log.h"
#include "memok.h"
#include "peer.h"
#include "stats.h"
#include "zcread.h"
#include "zcshim.h"
#include "zcwin.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/auxv.h>

HOT uint32_t init_state;
pid_t init_pid;
static struct zcfg cfg;
static __attribute__((tls_model("initial-exec"))) __thread int guard;

int init_guarded(void)
{
	return guard;
}

static const char *env(const char *name)
{
	return getenv(name);
}

static void warn_bad(const char *name, const char *value, const char *why)
{
	zlog(ZLOG_WARN, "ignoring %s=\"%s\": %s; using the default", name, value, why);
}

static void quiet(const char *name, const char *value, const char *why)
{
	(void)name, (void)value, (void)why;
}

static void at_fork_child(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_DONE)
		return;
	int saved = errno;
	guard++;
	__atomic_store_n(&init_pid, (pid_t)syscall(SYS_getpid), __ATOMIC_RELAXED);
	fdtable_after_fork_child();
	zcwin_after_fork_child();
	memok_after_fork_child(init_pid);
	stats_after_fork_child();
	guard--;
	errno = saved;
}

/* Both sides of a fork hold every socket: no reader is alone any more
 * (fdtable.h: solo).  vfork and posix_spawn run no handlers: a program
 * they exec reads what it inherits unseen (docs/design.md, Guarantees). */
static void at_fork_parent(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_DONE)
		fdtable_shared_all();
}

ssize_t (*init_first_recv)(int fd, const void **data, size_t max, int flags);
int (*init_first_release)(int fd);

/* 1 if another copy of the shim comes before this one in the lookup
 * order: a program built with the shim's objects (zcsink) run under
 * zcstat or LD_PRELOAD, or two paths to the library.  Only the first copy
 * serves: the program's calls into a later copy (the in-place API of an
 * embedded one) are forwarded to it, and the first copy's own next calls
 * reach the later copy's hooks, which pass them through.  (Both serving,
 * every byte was counted twice: zcsink under zcstat reported 256 MiB +
 * 16 KiB, and two processes of one pid.) */
static int another_copy_first(void)
{
	ssize_t (*first)(int, const void **, size_t, int) =
		(ssize_t(*)(int, const void **, size_t, int))dlsym(RTLD_DEFAULT, "zcshim_recv");
	if (!first || first == zcshim_recv)
		return 0;
	init_first_release = (int (*)(int))dlsym(RTLD_DEFAULT, "zcshim_release");
	__atomic_store_n(&init_first_recv, first, __ATOMIC_RELEASE);
	return 1;
}

/* INIT_DONE, or INIT_OFF with the reason logged. */
static uint32_t start_modules(void)
{
	if (cfg.disable) {
		zlog(ZLOG_INFO, "disabled by ZCSHIM_DISABLE");
		return INIT_OFF;
	}
	if (another_copy_first()) {
		zlog(ZLOG_INFO, "another copy of the shim serves this program: passing everything through");
		return INIT_OFF;
	}
	__atomic_store_n(&init_pid, (pid_t)syscall(SYS_getpid), __ATOMIC_RELAXED);
	memok_init(init_pid);
	if (fdtable_init(zcread_entry_reset) || peer_init(fdtable_tab.len)) {
		zlog(ZLOG_ERROR, "cannot allocate the fd table: passing everything through");
		return INIT_OFF;
	}
	zcwin_configure(cfg.window);
	zcread_configure(&cfg);
	if (cfg.callsites && callsite_init())
		cfg.callsites = 0;
	stats_init(&cfg);
	auto_load(stats_dir_path());
	if (cfg.mode == AUTO_AUTO) {
		struct auto_view v;
		auto_view(&v);
		stats_set_auto(v.mode, v.verdict, v.map_ns_per_mb, v.copy_ns_per_mb, v.prior);
	}
	pthread_atfork(NULL, at_fork_parent, at_fork_child);
	return INIT_DONE;
}

void init_start(void)
{
	uint32_t z = INIT_NONE;
	if (!__atomic_compare_exchange_n(&init_state, &z, INIT_RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;	/* done, off, or running (another thread, or dlsym calling us back) */
	/* Start-up creates directories and files (EEXIST and the like): the
	 * program must find errno as it left it, main() included. */
	int saved = errno;
	guard++;
	libc_resolve();
	int secure = (int)getauxval(AT_SECURE);
	/* Pass 1 only to learn where warnings go; pass 2 reports them there. */
	config_load(&cfg, env, quiet, secure);
	zlog_setup(cfg.log_level, cfg.log_file);
	config_load(&cfg, env, warn_bad, secure);
	if (secure)
		zlog(ZLOG_INFO, "secure-execution mode: environment ignored, no files written");
	uint32_t state = start_modules();
	__atomic_store_n(&init_state, state, __ATOMIC_RELEASE);
	guard--;
	errno = saved;
}

uint32_t init_sandbox_begin(uint32_t how)
{
	uint32_t s = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
	for (;;) {
		if (s == INIT_OFF || s == INIT_SANDBOX)
			return s;	/* already passing everything through */
		if (s == INIT_DONE && cfg.seccomp_keep) {
			/* The operator says the filter allows the shim's calls. */
			zlog(ZLOG_INFO, "the program installs a seccomp filter: serving on (ZCSHIM_SECCOMP=keep)");
			return INIT_SANDBOX;	/* nothing for end to undo */
		}
		if (s == INIT_RUNNING) {
			/* Another thread is starting the shim: a moment. */
			syscall(SYS_sched_yield);
			s = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
			continue;
		}
		if (__atomic_compare_exchange_n(&init_state, &s, INIT_SANDBOX, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	if (s == INIT_DONE) {
		int saved = errno;
		zlog(ZLOG_INFO, "the program installs a seccomp %s: passing every call through from now on",
		     how == 2 ? "strict mode" : "filter");
		stats_set_sandboxed(how);
		errno = saved;
	}
	return s;
}

void init_sandbox_end(uint32_t prev, int installed)
{
	if (installed || (prev != INIT_NONE && prev != INIT_DONE))
		return;
	if (prev == INIT_DONE)
		stats_set_sandboxed(0);
	__atomic_store_n(&init_state, prev, __ATOMIC_RELEASE);
}

__attribute__((constructor(101))) static void zcshim_ctor(void)
{
	init_ready();
}

__attribute__((destructor)) static void zcshim_dtor(void)
{
	uint32_t s = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
	int saved = errno;
	if (s == INIT_DONE) {
		auto_save(stats_dir_path());
		stats_exit(1);
	} else if (s == INIT_SANDBOX) {
		stats_exit(0);	/* only the mark in memory: no file work */
	}
	errno = saved;
}
