/* Traps: the IDT, exception reports, and the interrupt-vector registry. */
#ifndef TERN_TRAP_H
#define TERN_TRAP_H

#include "kernel/compiler.h"

/* Saved state on interrupt entry, lowest address first (see isr.asm). */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* Fixed vectors. Device interrupts get theirs from irq_alloc_vector(). */
#define VEC_NMI       2
#define VEC_DEVICE_LO 0x30
#define VEC_DEVICE_HI 0xdf
#define VEC_TIMER     0xef
#define VEC_RESCHED   0xf0
#define VEC_CALL      0xf1
#define VEC_SPURIOUS  0xff

typedef void (*irq_handler_fn)(void *arg);

/* idt_init: build the shared IDT (once) and load it on this CPU. */
void idt_init(void);
/* irq_register: run fn(arg) when vector fires (the LAPIC EOI is done by the caller). */
void irq_register(int vector, irq_handler_fn fn, void *arg);
/* irq_alloc_vector: a free device vector, or -1. */
int irq_alloc_vector(void);
/* trap_dump: print a register dump and stack trace for a frame. */
void trap_dump(const struct trap_frame *f);
/* stack_trace: print the return addresses found by walking the frame-pointer chain. */
void stack_trace(uint64_t rbp, uint64_t rip);
/* irq_total: interrupts handled by CPU id. */
uint64_t irq_total(int id);

#endif
