/* Emulated 16550A UART (PC16550D datasheet) used as the guest's ttyS0 at 0x3F8, IRQ 4. */
#ifndef TERN_VUART_H
#define TERN_VUART_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

#define VUART_FIFO 16

struct vm;
struct vcpu;

struct vuart {
	struct spinlock lock;
	struct vm *vm;
	uint16_t base;
	unsigned irq;
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint16_t divisor;
	uint8_t rx[VUART_FIFO];
	unsigned rx_head, rx_count;
	bool thre_pending; /* THR-empty interrupt condition */
	bool irq_level;
};

void vuart_init(struct vuart *u, struct vm *vm, uint16_t base, unsigned irq);
void vuart_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val);
/* vuart_receive: bytes typed for the guest; returns how many fitted in the FIFO. */
size_t vuart_receive(struct vuart *u, const char *s, size_t n);

#endif
