/* Physical page allocator: the buddy allocator fed from the UEFI memory map. */
#ifndef TERN_PMM_H
#define TERN_PMM_H

#include "kernel/compiler.h"
#include "boot/bootinfo.h"

void pmm_init(const struct boot_info *bi);
/* pmm_alloc: 2^order contiguous pages, not zeroed; 0 when out of memory. */
uint64_t pmm_alloc(unsigned order);
/* pmm_alloc_zeroed: as pmm_alloc, cleared. */
uint64_t pmm_alloc_zeroed(unsigned order);
/* pmm_alloc_below: zeroed block that ends at or below physical address limit. */
uint64_t pmm_alloc_below(unsigned order, uint64_t limit);
void pmm_free(uint64_t pa, unsigned order);
/* pmm_order_for: smallest order whose block holds size bytes. */
unsigned pmm_order_for(size_t size);
/* pmm_alloc_kva: zeroed pages for size bytes, returned as a direct-map pointer. */
void *pmm_alloc_kva(size_t size);
void pmm_free_kva(void *p, size_t size);

struct pmm_stats {
	uint64_t total;       /* bytes of RAM the firmware reported */
	uint64_t free;        /* bytes free in the allocator */
	uint64_t managed_end; /* highest physical address of RAM */
};
void pmm_get_stats(struct pmm_stats *s);

#endif
