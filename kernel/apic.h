/*
 * Local APIC (SDM 3A ch. 11, APM vol. 2 ch. 16), xAPIC (MMIO) or x2APIC (MSR) mode, and the
 * IOAPIC(s) for device interrupts, with the legacy 8259 PICs masked.
 */
#ifndef TERN_APIC_H
#define TERN_APIC_H

#include "kernel/compiler.h"

/* lapic_init_bsp: map the LAPIC, calibrate its timer; lapic_init_cpu: enable it on this CPU. */
void lapic_init_bsp(void);
void lapic_init_cpu(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
/* lapic_timer_deadline: one-shot timer interrupt at TSC value tsc (0 = stop). */
void lapic_timer_deadline(uint64_t tsc);
/* lapic_send_resched: the reschedule IPI to a CPU. */
void lapic_send_resched(uint32_t apic_id);
/* lapic_send_ipi: a fixed-vector IPI. */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
/* lapic_nmi_others: NMI to every other CPU (panic). */
void lapic_nmi_others(void);
/* lapic_start_ap: INIT-SIPI-SIPI to start an application processor at vector page. */
void lapic_start_ap(uint32_t apic_id, uint8_t sipi_page);
bool lapic_x2apic_mode(void);

/* ioapic_init: mask every IOAPIC input and the 8259s. */
void ioapic_init(void);
/* ioapic_route_isa: deliver ISA IRQ irq as vector to CPU apic_id (honouring MADT overrides). */
bool ioapic_route_isa(int irq, int vector, uint32_t apic_id);
/* ioapic_route_gsi: deliver a GSI with explicit level/low-active settings. */
bool ioapic_route_gsi(uint32_t gsi, int vector, uint32_t apic_id, bool level, bool active_low);

#endif
