/*
 * FPU/SSE/AVX state. The kernel itself never touches these registers (-mgeneral-regs-only), so
 * only threads that run guest code own an XSAVE area; the registers are switched lazily: they
 * keep the state of the last such thread until another one runs (SDM vol. 1 ch. 13).
 */
#ifndef TERN_FPU_H
#define TERN_FPU_H

#include "kernel/compiler.h"

struct cpu;
struct thread;

/* fpu_init_cpu: enable x87/SSE/XSAVE on this CPU and set XCR0 to what it supports. */
void fpu_init_cpu(void);
/* fpu_area_size: bytes of one XSAVE area for the enabled XCR0 features. */
size_t fpu_area_size(void);
/* fpu_xcr0: the host's XCR0 (what guests may at most enable). */
uint64_t fpu_xcr0(void);
/* fpu_alloc: a 64-byte aligned XSAVE area in the architectural initial state. */
void *fpu_alloc(void);
void fpu_free(void *area);
/* fpu_switch: on a thread switch, bring next's FPU state in if it has one. */
void fpu_switch(struct cpu *c, struct thread *prev, struct thread *next);
/* fpu_release: forget t as owner of this CPU's registers (t is exiting). */
void fpu_release(struct cpu *c, struct thread *t);
/* fpu_save_current: write the registers back into the owner's area (before reading it). */
void fpu_save_current(struct cpu *c);

#endif
