/* Emulated 8254 PIT (Intel 82C54 datasheet) at ports 0x40-0x43, and port 0x61 (gate 2, OUT2). */
#ifndef TERN_VPIT_H
#define TERN_VPIT_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

#define PIT_FREQ 1193182ULL

struct vm;
struct vcpu;

struct pit_channel {
	uint32_t reload;   /* count written (0 means 65536) */
	uint64_t load_tsc; /* host TSC when counting started */
	uint8_t mode;      /* 0..5 */
	uint8_t rw;        /* access: 1 LSB, 2 MSB, 3 LSB then MSB */
	bool bcd;
	bool gate;
	bool write_hi_next, read_hi_next;
	uint16_t latch;
	bool latched; /* count latched */
	uint8_t status;
	bool status_latched;
	bool armed;        /* a count was written and counting runs */
	uint64_t next_irq; /* channel 0: host TSC of the next OUT rising edge, 0 = none */
	uint8_t write_lsb;
};

struct vpit {
	struct spinlock lock;
	struct vm *vm;
	struct pit_channel ch[3];
	uint8_t port61; /* bits 0 (gate 2) and 1 (speaker data) as written */
};

void vpit_init(struct vpit *p, struct vm *vm);
void vpit_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val);
/* vpit_timer: raise IRQ0 edges that are due; returns the next deadline (host TSC) or 0. */
uint64_t vpit_timer(struct vpit *p);

#endif
