/*
 * state.h - where the shim stands (set by init.c and sandbox.c), for the
 * modules that only need to ask: a leaf, so asking draws no arrow back
 * to start-up.
 */
#ifndef ZCSHIM_STATE_H
#define ZCSHIM_STATE_H

#include <stdint.h>

/* ZCI_SANDBOX: the program installed a seccomp filter (sandbox.c); every
 * hook passes its call through from then on, as under ZCI_OFF. */
enum { ZCI_NONE, ZCI_RUNNING, ZCI_DONE, ZCI_OFF, ZCI_SANDBOX };
extern uint32_t zci_state;

/* Still serving, asked again inside a read that began serving: another
 * thread may have installed a seccomp filter since (sandbox.c). */
static inline int zci_serving(void)
{
	return __atomic_load_n(&zci_state, __ATOMIC_RELAXED) == ZCI_DONE;
}

/* The libc symbols are resolved (the shim ran, whatever it does now). */
static inline int zci_resolved(void)
{
	uint32_t s = __atomic_load_n(&zci_state, __ATOMIC_ACQUIRE);
	return s == ZCI_DONE || s == ZCI_SANDBOX;
}

#endif
