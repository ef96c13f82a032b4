/* Emulated MC146818 CMOS RTC at ports 0x70/0x71 (time from the host wall clock). */
#ifndef TERN_VRTC_H
#define TERN_VRTC_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

struct vm;
struct vcpu;

struct vrtc {
	struct spinlock lock;
	uint8_t index;
	uint8_t ram[128];
	int64_t offset; /* guest time = host wall clock + offset (guest may set the clock) */
};

void vrtc_init(struct vrtc *r, uint64_t ram_below_4g, uint64_t ram_above_4g);
void vrtc_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val);

#endif
