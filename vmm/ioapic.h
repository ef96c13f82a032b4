/* Emulated IOAPIC (82093AA datasheet, version 0x11 with 24 pins). */
#ifndef TERN_VIOAPIC_H
#define TERN_VIOAPIC_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

#define VIOAPIC_PINS 24

struct vm;
struct vcpu;

struct vioapic {
	struct spinlock lock;
	struct vm *vm;
	uint32_t id;
	uint32_t regsel;
	uint64_t redir[VIOAPIC_PINS];
	uint32_t level; /* current input line levels */
};

void vioapic_init(struct vioapic *io, struct vm *vm);
/* vioapic_set_irq: drive input pin to level; edge pins fire on a rising edge. */
void vioapic_set_irq(struct vioapic *io, unsigned pin, bool level);
/* vioapic_eoi: a LAPIC retired vector: clear Remote IRR and re-fire still-asserted lines. */
void vioapic_eoi(struct vioapic *io, uint8_t vector);
/* vioapic_mmio: IOREGSEL (0x00), IOWIN (0x10), EOI (0x40) accesses. */
void vioapic_mmio(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write,
                  uint64_t *val);

#endif
