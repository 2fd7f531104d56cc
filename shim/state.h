/*
 * state.h - where the shim stands (set by init.c and sandbox.c), for the
 * modules that only need to ask: a leaf, so asking draws no arrow back
 * to start-up.
 */
#ifndef ZCSHIM_STATE_H
#define ZCSHIM_STATE_H

#include <stdint.h>

/* INIT_SANDBOX: the program installed a seccomp filter (sandbox.c); every
 * hook passes its call through from then on, as under INIT_OFF. */
enum { INIT_NONE, INIT_RUNNING, INIT_DONE, INIT_OFF, INIT_SANDBOX };
extern uint32_t init_state;

/* Still serving, asked again inside a read that began serving: another
 * thread may have installed a seccomp filter since (sandbox.c). */
static inline int init_serving(void)
{
	return __atomic_load_n(&init_state, __ATOMIC_RELAXED) == INIT_DONE;
}

/* The libc symbols are resolved (the shim ran, whatever it does now). */
static inline int init_resolved(void)
{
	uint32_t s = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
	return s == INIT_DONE || s == INIT_SANDBOX;
}

#endif
