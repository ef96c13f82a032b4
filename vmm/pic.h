/* Emulated 8259A PIC pair, master at 0x20 and slave at 0xA0 on IRQ2, plus ELCR (0x4D0). */
#ifndef TERN_VPIC_H
#define TERN_VPIC_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

struct vm;
struct vcpu;

struct pic_chip {
	uint8_t irr, imr, isr;
	uint8_t base;      /* ICW2 vector base */
	uint8_t init_step; /* 0 = ready; 2..4 = expecting ICW2..ICW4 */
	uint8_t icw4, single, auto_eoi, read_isr, poll, special_mask; /* flags, 0/1 (saved raw) */
	uint8_t priority_add; /* rotation: IRQ with highest priority */
	uint8_t elcr;         /* level-triggered lines */
	uint8_t elcr_mask;
	uint8_t last_level; /* input levels, for edge detection */
};

struct vpic {
	struct spinlock lock;
	struct vm *vm;
	struct pic_chip chip[2];
	bool output; /* INTR line to the BSP's LINT0 */
};

void vpic_init(struct vpic *p, struct vm *vm);
void vpic_set_irq(struct vpic *p, unsigned irq, bool level);
/* vpic_has_interrupt: the INTR output is asserted. */
bool vpic_has_interrupt(struct vpic *p);
/* vpic_ack: the CPU takes the interrupt (INTA cycle): returns the vector. */
uint8_t vpic_ack(struct vpic *p);
void vpic_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val);

#endif
