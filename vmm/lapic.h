/*
 * Emulated local APIC (xAPIC, SDM 3A ch. 11): interrupt acceptance and priority (IRR, ISR,
 * TMR, TPR/PPR), EOI with level-triggered broadcast to the IOAPIC, the timer in one-shot,
 * periodic and TSC-deadline modes, and IPIs (fixed, lowest priority, NMI, INIT, SIPI; physical
 * and logical flat/cluster destinations; shorthands). Registers are reached through MMIO at
 * the APIC base (0xFEE00000) and the TSC_DEADLINE MSR.
 */
#ifndef TERN_VLAPIC_H
#define TERN_VLAPIC_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

#define VLAPIC_BASE   0xfee00000ULL
#define VLAPIC_BUS_HZ 1000000000ULL /* timer input clock: 1 GHz, so one tick = 1 ns */

/* Delivery modes (ICR and LVT bits 10:8). */
#define APIC_DM_FIXED   0
#define APIC_DM_LOWEST  1
#define APIC_DM_SMI     2
#define APIC_DM_NMI     4
#define APIC_DM_INIT    5
#define APIC_DM_STARTUP 6
#define APIC_DM_EXTINT  7

struct vcpu;

struct vlapic {
	struct spinlock lock;
	struct vcpu *vcpu;
	uint32_t id; /* APIC id (bits 31:24 of the ID register) */
	uint32_t irr[8], isr[8], tmr[8];
	uint32_t tpr, ldr, dfr, svr, esr;
	uint32_t lvt[7]; /* CMCI, timer, thermal, perf, LINT0, LINT1, error */
	uint32_t icr_lo, icr_hi;
	uint32_t timer_init, timer_div;
	uint64_t timer_start;    /* host TSC when the count was loaded */
	uint64_t timer_deadline; /* host TSC of the next expiry, 0 = not armed */
	uint64_t tsc_deadline;   /* guest TSC value written to IA32_TSC_DEADLINE */
	uint64_t apic_base_msr;
	volatile bool nmi_pending;
	volatile bool init_pending;
};

void vlapic_init(struct vlapic *a, struct vcpu *v, uint32_t id, bool bsp);
/* vlapic_mmio: register access at offset off of the APIC page. */
void vlapic_mmio(struct vlapic *a, uint64_t off, unsigned size, bool write, uint64_t *val);
/* vlapic_accept: deliver vector (level: also set TMR) and wake the vCPU. */
void vlapic_accept(struct vlapic *a, uint8_t vector, bool level);
/* vlapic_pending: the highest-priority deliverable vector, or -1. */
int vlapic_pending(struct vlapic *a);
/* vlapic_ack: the vCPU is taking vector: move it from IRR to ISR. */
void vlapic_ack(struct vlapic *a, uint8_t vector);
/* vlapic_timer_check: fire the timer if its deadline passed (called by the vCPU thread). */
void vlapic_timer_check(struct vlapic *a);
/* vlapic_tsc_deadline: read/write IA32_TSC_DEADLINE. */
uint64_t vlapic_tsc_deadline_read(struct vlapic *a);
void vlapic_tsc_deadline_write(struct vlapic *a, uint64_t guest_tsc);
/* vlapic_enabled: the APIC is hardware- and software-enabled. */
bool vlapic_enabled(const struct vlapic *a);
/* vlapic_match_dest: whether this APIC is a target of (dest, logical mode). */
bool vlapic_match_dest(const struct vlapic *a, uint32_t dest, bool logical);

#endif
