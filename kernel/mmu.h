/*
 * Kernel virtual memory layout and page-table entry bits (AMD APM vol. 2 5.4, Intel SDM 3A 4.5).
 *
 *   0xffff800000000000  direct map of physical memory (PHYSMAP_BASE, RAM only)
 *   0xffffff0000000000  ioremap window: device MMIO mapped uncached
 *   0xffffffff80000000  kernel image (KERNEL_VBASE)
 */
#ifndef TERN_MMU_H
#define TERN_MMU_H

#include "kernel/compiler.h"
#include "boot/bootinfo.h"

#define PAGE_SIZE       4096ULL
#define PAGE_SHIFT      12
#define LARGE_PAGE_SIZE (2ULL << 20)
#define HUGE_PAGE_SIZE  (1ULL << 30)

#define IOREMAP_BASE 0xffffff0000000000ULL
#define IOREMAP_SIZE (512ULL << 30)

/* Page-table entry bits, common to all levels unless noted. */
#define PTE_P         (1ULL << 0)  /* present */
#define PTE_W         (1ULL << 1)  /* writable */
#define PTE_U         (1ULL << 2)  /* user */
#define PTE_PWT       (1ULL << 3)  /* write-through */
#define PTE_PCD       (1ULL << 4)  /* cache disable */
#define PTE_A         (1ULL << 5)  /* accessed */
#define PTE_D         (1ULL << 6)  /* dirty (leaf) */
#define PTE_PS        (1ULL << 7)  /* page size: 1 GiB in PDPTE, 2 MiB in PDE */
#define PTE_G         (1ULL << 8)  /* global (leaf) */
#define PTE_NX        (1ULL << 63) /* no execute (needs EFER.NXE) */
#define PTE_ADDR_MASK 0x000ffffffffff000ULL

#define PT_INDEX(va, level) (((va) >> (12 + 9 * (level))) & 511) /* level 0 = PT, 3 = PML4 */

extern uint64_t kernel_phys_base; /* physical address of KERNEL_VBASE */

/* P2V: direct-map virtual address of physical address pa. */
static inline void *P2V(uint64_t pa)
{
	return (void *)(pa + PHYSMAP_BASE);
}

/* V2P: physical address of a direct-map or kernel-image virtual address. */
static inline uint64_t V2P(const void *va)
{
	uint64_t v = (uint64_t)va;
	if (v >= KERNEL_VBASE)
		return v - KERNEL_VBASE + kernel_phys_base;
	return v - PHYSMAP_BASE;
}

#endif
