/*
 * Tern test guest: its own page tables. The first 4 GiB are identity-mapped with 2 MiB pages
 * (write-back RAM, uncached from the PCI hole up); a window of 512 4 KiB slots at
 * WINDOW_VA maps any physical page, e.g. above 4 GiB. Accessed and dirty bits are preset in
 * every entry, so the CPU never writes these tables (the dirty test depends on it).
 */
#include "tg.h"

#define PTE_P     (1ULL << 0)
#define PTE_W     (1ULL << 1)
#define PTE_PWT   (1ULL << 3)
#define PTE_PCD   (1ULL << 4)
#define PTE_A     (1ULL << 5)
#define PTE_D     (1ULL << 6)
#define PTE_PS    (1ULL << 7)
#define TABLE     (PTE_P | PTE_W | PTE_A)
#define WINDOW_VA (1ULL << 39) /* PML4 slot 1 */

static uint64_t g_pml4[512] __attribute__((aligned(4096)));
static uint64_t g_pdpt[512] __attribute__((aligned(4096)));
static uint64_t g_pd[4][512] __attribute__((aligned(4096)));
static uint64_t g_pdpt_win[512] __attribute__((aligned(4096)));
static uint64_t g_pd_win[512] __attribute__((aligned(4096)));
static uint64_t g_pt_win[512] __attribute__((aligned(4096)));
static unsigned g_next_slot;

void paging_init(void)
{
	for (uint64_t g = 0; g < 4; g++) {
		g_pdpt[g] = (uint64_t)g_pd[g] | TABLE;
		for (uint64_t i = 0; i < 512; i++) {
			uint64_t pa = (g << 30) | (i << 21);
			uint64_t cache = pa >= HOLE_START ? PTE_PCD | PTE_PWT : 0;
			g_pd[g][i] = pa | PTE_P | PTE_W | PTE_PS | PTE_A | PTE_D | cache;
		}
	}
	g_pml4[0] = (uint64_t)g_pdpt | TABLE;
	g_pml4[1] = (uint64_t)g_pdpt_win | TABLE;
	g_pdpt_win[0] = (uint64_t)g_pd_win | TABLE;
	g_pd_win[0] = (uint64_t)g_pt_win | TABLE;
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)g_pml4) : "memory");
}

uint64_t map_phys_raw(uint64_t pte)
{
	unsigned slot = g_next_slot++ % 512;
	uint64_t va = WINDOW_VA + (uint64_t)slot * 4096;
	g_pt_win[slot] = pte;
	invlpg(va);
	return va;
}

uint64_t map_phys(uint64_t pa, bool uncached)
{
	return map_phys_raw((pa & ~0xfffULL) | PTE_P | PTE_W | PTE_A | PTE_D |
	                    (uncached ? PTE_PCD | PTE_PWT : 0)) +
	       (pa & 0xfff);
}

void paging_pt_pages(uint64_t *out, unsigned *n)
{
	out[0] = (uint64_t)g_pml4;
	out[1] = (uint64_t)g_pdpt;
	out[2] = (uint64_t)g_pd[g_env.image_start >> 30];
	*n = 3;
}
