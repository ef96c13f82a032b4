/* GDT and TSS set-up for each CPU; see gdt.h. */
#include "kernel/gdt.h"
#include "kernel/pmm.h"
#include "kernel/panic.h"
#include "kernel/string.h"

/* Code/data descriptor bits (SDM 3A 3.4.5): present, S=1, type, L for 64-bit code. */
#define DESC_KCODE 0x00af9a000000ffffULL /* P, DPL0, code exec/read, L=1, G=1 */
#define DESC_KDATA 0x00cf92000000ffffULL /* P, DPL0, data read/write, D/B=1, G=1 */

/* tss_descriptor: the two 8-byte halves of a 64-bit available-TSS descriptor (type 9). */
static void tss_descriptor(uint64_t *slot, uint64_t base, uint32_t limit)
{
	slot[0] = (limit & 0xffffULL) | ((base & 0xffffffULL) << 16) | (0x89ULL << 40) |
	          ((uint64_t)((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xffULL) << 56);
	slot[1] = base >> 32;
}

/* gdt_init_cpu: fill the GDT, allocate IST stacks, load GDTR, segments and TR. */
void gdt_init_cpu(struct gdt_block *g)
{
	memset(g, 0, sizeof(*g));
	g->gdt[1] = DESC_KCODE;
	g->gdt[2] = DESC_KDATA;
	tss_descriptor(&g->gdt[3], (uint64_t)&g->tss, sizeof(g->tss) - 1);
	g->tss.iomap_base = sizeof(g->tss); /* no I/O permission bitmap */
	for (int ist = 1; ist <= 3; ist++) {
		void *stack = pmm_alloc_kva(IST_STACK_SIZE);
		if (!stack)
			panic("no memory for IST stacks");
		g->tss.ist[ist - 1] = (uint64_t)stack + IST_STACK_SIZE;
	}
	struct __packed {
		uint16_t limit;
		uint64_t base;
	} gdtr = {sizeof(g->gdt) - 1, (uint64_t)g->gdt};
	__asm__ volatile("lgdt %0\n\t"
	                 "mov %1, %%ds\n\t"
	                 "mov %1, %%es\n\t"
	                 "mov %1, %%ss\n\t"
	                 "xor %%eax, %%eax\n\t"
	                 "mov %%ax, %%fs\n\t"
	                 "pushq %2\n\t"
	                 "leaq 1f(%%rip), %%rax\n\t"
	                 "pushq %%rax\n\t"
	                 "lretq\n"
	                 "1:\n\t"
	                 "ltr %w3"
	                 :
	                 : "m"(gdtr), "r"((uint64_t)SEL_KDATA), "i"(SEL_KCODE), "r"(SEL_TSS)
	                 : "rax", "memory");
}
