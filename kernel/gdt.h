/* Per-CPU GDT and TSS (SDM 3A 3.4.5 segment descriptors, 8.7 64-bit TSS). */
#ifndef TERN_GDT_H
#define TERN_GDT_H

#include "kernel/compiler.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_TSS   0x18 /* 16-byte system descriptor: slots 3 and 4 */

/* IST slots used by the IDT for exceptions that must not run on a possibly broken stack. */
#define IST_DOUBLE_FAULT 1
#define IST_NMI          2
#define IST_MCE          3
#define IST_STACK_SIZE   (16 * 1024)

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;

struct gdt_block {
	uint64_t gdt[5];
	struct tss tss;
} __aligned(16);

/* gdt_init_cpu: build and load this CPU's GDT and TSS (IST stacks from the page allocator). */
void gdt_init_cpu(struct gdt_block *g);

#endif
