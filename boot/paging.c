/*
 * The loader's page tables (AMD APM vol. 2, 5.3 long-mode paging; Intel SDM vol. 3A, 4.5):
 *   - identity map of physical memory (so the loader keeps running after the CR3 switch),
 *   - the same map again at PHYSMAP_BASE (the kernel's direct map),
 *   - the kernel image at KERNEL_VBASE with 4 KiB pages.
 * The kernel replaces these with its own tables early in boot.
 */
#include <efi.h>
#include <efilib.h>

#include "boot/loader.h"

#define PTE_P   (1ULL << 0) /* present */
#define PTE_W   (1ULL << 1) /* writable */
#define PTE_PS  (1ULL << 7) /* large page (in PDPTE/PDE) */
#define ENTRIES 512

/* has_1g_pages: CPUID 8000_0001h EDX bit 26 (Page1GB). */
static int has_1g_pages(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000));
	if (a < 0x80000001)
		return 0;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001));
	return (d >> 26) & 1;
}

/* max_phys: the end of the highest memory-map entry, at least 4 GiB (to cover MMIO). */
static EFI_STATUS max_phys(uint64_t mapbuf, UINTN mapcap, uint64_t *top)
{
	UINTN size = mapcap, key, dsize;
	UINT32 dver;
	EFI_STATUS st =
	    uefi_call_wrapper(BS->GetMemoryMap, 5, &size, (void *)mapbuf, &key, &dsize, &dver);
	if (EFI_ERROR(st))
		return st;
	uint64_t t = 4ULL << 30;
	for (UINTN off = 0; off + dsize <= size; off += dsize) {
		EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)(mapbuf + off);
		uint64_t end = d->PhysicalStart + d->NumberOfPages * 4096;
		if (end > t)
			t = end;
	}
	*top = t;
	return EFI_SUCCESS;
}

/* map_physical: fill PDPTs (and PDs) so that [0, top) is mapped; returns PDPT pages in pml4. */
static EFI_STATUS map_physical(uint64_t *pml4, uint64_t top)
{
	int big = has_1g_pages();
	uint64_t gib = (top + (1ULL << 30) - 1) >> 30;
	uint64_t npdpt = (gib + ENTRIES - 1) / ENTRIES;
	if (npdpt > 128)
		return EFI_UNSUPPORTED; /* more than 64 TiB of physical address space */
	for (uint64_t p = 0; p < npdpt; p++) {
		uint64_t pdpt_phys;
		EFI_STATUS st = alloc_zeroed(1, 0, &pdpt_phys);
		if (EFI_ERROR(st))
			return st;
		uint64_t *pdpt = (uint64_t *)pdpt_phys;
		for (uint64_t g = 0; g < ENTRIES && p * ENTRIES + g < gib; g++) {
			uint64_t gaddr = (p * ENTRIES + g) << 30;
			if (big) {
				pdpt[g] = gaddr | PTE_P | PTE_W | PTE_PS;
				continue;
			}
			uint64_t pd_phys;
			st = alloc_zeroed(1, 0, &pd_phys);
			if (EFI_ERROR(st))
				return st;
			uint64_t *pd = (uint64_t *)pd_phys;
			for (int e = 0; e < ENTRIES; e++)
				pd[e] = (gaddr + ((uint64_t)e << 21)) | PTE_P | PTE_W | PTE_PS;
			pdpt[g] = pd_phys | PTE_P | PTE_W;
		}
		pml4[p] = pdpt_phys | PTE_P | PTE_W;       /* identity */
		pml4[256 + p] = pdpt_phys | PTE_P | PTE_W; /* PHYSMAP_BASE */
	}
	return EFI_SUCCESS;
}

/* map_kernel: map the kernel image pages at KERNEL_VBASE (PML4 511, PDPT 510). */
static EFI_STATUS map_kernel(uint64_t *pml4, const struct boot_info *bi)
{
	uint64_t pdpt_phys, pd_phys;
	EFI_STATUS st;
	if (EFI_ERROR((st = alloc_zeroed(1, 0, &pdpt_phys))) ||
	    EFI_ERROR((st = alloc_zeroed(1, 0, &pd_phys))))
		return st;
	uint64_t npt = (bi->kernel_pages + ENTRIES - 1) / ENTRIES;
	for (uint64_t t = 0; t < npt; t++) {
		uint64_t pt_phys;
		if (EFI_ERROR((st = alloc_zeroed(1, 0, &pt_phys))))
			return st;
		uint64_t *pt = (uint64_t *)pt_phys;
		for (uint64_t e = 0; e < ENTRIES && t * ENTRIES + e < bi->kernel_pages; e++)
			pt[e] = (bi->kernel_phys + ((t * ENTRIES + e) << 12)) | PTE_P | PTE_W;
		((uint64_t *)pd_phys)[t] = pt_phys | PTE_P | PTE_W;
	}
	((uint64_t *)pdpt_phys)[510] = pd_phys | PTE_P | PTE_W;
	pml4[511] = pdpt_phys | PTE_P | PTE_W;
	return EFI_SUCCESS;
}

/* build_page_tables: see the comment at the top of this file. */
EFI_STATUS build_page_tables(struct boot_info *bi, uint64_t mapbuf, UINTN mapcap, uint64_t *cr3)
{
	uint64_t pml4_phys, top;
	EFI_STATUS st;
	if (EFI_ERROR((st = alloc_zeroed(1, 0, &pml4_phys))) ||
	    EFI_ERROR((st = max_phys(mapbuf, mapcap, &top))) ||
	    EFI_ERROR((st = map_physical((uint64_t *)pml4_phys, top))) ||
	    EFI_ERROR((st = map_kernel((uint64_t *)pml4_phys, bi))))
		return st;
	*cr3 = pml4_phys;
	return EFI_SUCCESS;
}

/* enter_kernel: interrupts off, switch to our tables, jump to the kernel's _start. */
void enter_kernel(uint64_t cr3, uint64_t entry, uint64_t bootinfo)
{
	__asm__ volatile("cli\n\t"
	                 "mov %%rcx, %%cr3\n\t"
	                 "xor %%ebp, %%ebp\n\t"
	                 "jmp *%%rax"
	                 :
	                 : "c"(cr3), "a"(entry), "D"(bootinfo)
	                 : "memory");
	__builtin_unreachable();
}
