/*
 * Per-CPU data. GS_BASE of each CPU points at its struct cpu, whose first field points at
 * itself, so this_cpu() is one load: mov %gs:0, %rax.
 */
#ifndef TERN_PERCPU_H
#define TERN_PERCPU_H

#include "kernel/compiler.h"
#include "kernel/gdt.h"
#include "kernel/spinlock.h"

#define MAX_CPUS 64

struct thread;

struct cpu {
	struct cpu *self; /* must stay first: read through %gs:0 */
	int id;           /* dense index, 0 = boot CPU */
	uint32_t apic_id;
	volatile bool online;
	bool present;
	uint64_t tsc_online; /* TSC when the CPU came up */

	struct gdt_block gdt; /* this CPU's GDT and TSS */

	/* Scheduler state (kernel/sched.c). */
	struct thread *current;
	struct thread *idle;
	struct thread *runq_head, *runq_tail;
	struct thread *sleepq;    /* threads blocked with a deadline */
	struct thread *zombie;    /* exited thread whose stack is freed after the switch */
	struct thread *fpu_owner; /* thread whose FPU state is in the registers */
	uint64_t timer_hint;      /* extra timer deadline of the running thread (guest timers) */
	uint64_t timer_armed;     /* deadline the LAPIC counts to (0: stopped or fired) */
	struct spinlock runq_lock;
	volatile bool need_resched;
	volatile bool in_idle;
	uint64_t ticks;
	uint64_t idle_tsc, busy_since; /* for `cpus` load accounting */
	uint64_t irq_count;

	void *vmm; /* vendor backend per-CPU state (host save area, VMXON region) */
};

extern struct cpu cpus[MAX_CPUS];
extern int ncpus; /* CPUs found in the MADT (present) */

/* this_cpu: the struct cpu of the CPU running this code. */
static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* cpu_id: dense id of the current CPU (percpu_init must have run on it). */
static inline int cpu_id(void)
{
	int id;
	__asm__ volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(offsetof(struct cpu, id)));
	return id;
}

/* percpu_init: point GS_BASE at cpus[id]. */
void percpu_init(int id);

#endif
