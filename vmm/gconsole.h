/*
 * A VM's console: what its UART (or debug port) printed, kept in a ring so `vm console` can
 * show recent output, and forwarded live to the operator console while attached.
 */
#ifndef TERN_GCONSOLE_H
#define TERN_GCONSOLE_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

#define GCONSOLE_RING (32 * 1024)

struct vm;

struct console_sink {
	struct spinlock lock;
	char ring[GCONSOLE_RING];
	uint64_t written;
	volatile bool attached;
};

/* gconsole_output: guest output bytes. */
void gconsole_output(struct vm *vm, const char *s, size_t n);
/* gconsole_tail: copy the last n bytes kept (for `vm console` history). */
size_t gconsole_tail(struct vm *vm, char *buf, size_t n);
/* gconsole_attach: print the last hist bytes kept, then marker, then whatever the guest printed
 * meanwhile, and forward live from there: no byte lost or shown twice. */
void gconsole_attach(struct vm *vm, size_t hist, const char *marker);
/* gconsole_find: whether text occurs in the kept output (tests and `vm wait`). */
bool gconsole_contains(struct vm *vm, const char *text);

#endif
