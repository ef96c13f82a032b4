/* Physical memory: builds the buddy allocator from the boot memory map. */
#include "kernel/pmm.h"
#include "kernel/buddy.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/log.h"

#define LOW_RESERVED (1ULL << 20) /* the first MiB stays out of the allocator */

static struct buddy g_buddy;
static struct spinlock g_lock = SPINLOCK_INIT("pmm");
static uint64_t g_total_bytes, g_ram_end;

/* is_ram: memory types that are RAM (and so count toward the total). */
static bool is_ram(uint32_t t)
{
	return t == BOOT_MEM_FREE || t == BOOT_MEM_LOADER || t == BOOT_MEM_ACPI_RECLAIM ||
	       t == BOOT_MEM_ACPI_NVS || t == BOOT_MEM_RUNTIME;
}

/* steal_pages: carve n pages for the order map out of the first free region that fits. */
static uint64_t steal_pages(struct boot_mem_region *r, uint32_t count, uint64_t n)
{
	for (uint32_t i = 0; i < count; i++) {
		if (r[i].type != BOOT_MEM_FREE || r[i].base < LOW_RESERVED || r[i].pages < n)
			continue;
		uint64_t pa = r[i].base;
		r[i].base += n * PAGE_SIZE;
		r[i].pages -= n;
		return pa;
	}
	panic("pmm: no region can hold the allocator's page map (%llu pages)",
	      (unsigned long long)n);
}

/* pmm_init: size the allocator to the top of RAM, then free every BOOT_MEM_FREE region. */
void pmm_init(const struct boot_info *bi)
{
	struct boot_mem_region *r = P2V(bi->mmap_phys);
	uint64_t top = 0;
	for (uint32_t i = 0; i < bi->mmap_count; i++) {
		if (!is_ram(r[i].type))
			continue;
		uint64_t end = r[i].base + r[i].pages * PAGE_SIZE;
		g_total_bytes += r[i].pages * PAGE_SIZE;
		if (end > top)
			top = end;
	}
	g_ram_end = top;
	uint64_t npages = top >> PAGE_SHIFT;
	uint64_t map_pages = (npages + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t map_pa = steal_pages(r, bi->mmap_count, map_pages);
	buddy_init(&g_buddy, 0, npages, P2V(map_pa), PHYSMAP_BASE);
	for (uint32_t i = 0; i < bi->mmap_count; i++) {
		if (r[i].type != BOOT_MEM_FREE || r[i].pages == 0)
			continue;
		uint64_t start = r[i].base >> PAGE_SHIFT;
		uint64_t end = start + r[i].pages;
		if (start < (LOW_RESERVED >> PAGE_SHIFT))
			start = LOW_RESERVED >> PAGE_SHIFT;
		if (start < end)
			buddy_add_range(&g_buddy, start, end - start);
	}
	klog("pmm: %llu MiB RAM, %llu MiB free, map %llu KiB",
	     (unsigned long long)(g_total_bytes >> 20),
	     (unsigned long long)((g_buddy.free_pages * PAGE_SIZE) >> 20),
	     (unsigned long long)(map_pages * 4));
}

/* pmm_alloc: a block of 2^order pages. */
uint64_t pmm_alloc(unsigned order)
{
	uint64_t pfn;
	spin_lock(&g_lock);
	bool ok = buddy_alloc(&g_buddy, order, 0, &pfn);
	spin_unlock(&g_lock);
	return ok ? pfn << PAGE_SHIFT : 0;
}

/* pmm_alloc_zeroed: a cleared block. */
uint64_t pmm_alloc_zeroed(unsigned order)
{
	uint64_t pa = pmm_alloc(order);
	if (pa)
		memset(P2V(pa), 0, PAGE_SIZE << order);
	return pa;
}

/* pmm_alloc_below: a cleared block entirely below limit (e.g. for 32-bit CR3 values). */
uint64_t pmm_alloc_below(unsigned order, uint64_t limit)
{
	uint64_t pfn;
	spin_lock(&g_lock);
	bool ok = buddy_alloc(&g_buddy, order, limit >> PAGE_SHIFT, &pfn);
	spin_unlock(&g_lock);
	if (!ok)
		return 0;
	memset(P2V(pfn << PAGE_SHIFT), 0, PAGE_SIZE << order);
	return pfn << PAGE_SHIFT;
}

/* pmm_free: give a block back. */
void pmm_free(uint64_t pa, unsigned order)
{
	spin_lock(&g_lock);
	buddy_free(&g_buddy, pa >> PAGE_SHIFT, order);
	spin_unlock(&g_lock);
}

/* pmm_order_for: blocks are powers of two pages. */
unsigned pmm_order_for(size_t size)
{
	unsigned order = 0;
	while ((PAGE_SIZE << order) < size)
		order++;
	return order;
}

/* pmm_alloc_kva: zeroed memory for kernel structures, as a direct-map pointer. */
void *pmm_alloc_kva(size_t size)
{
	uint64_t pa = pmm_alloc_zeroed(pmm_order_for(size));
	return pa ? P2V(pa) : NULL;
}

/* pmm_free_kva: release memory from pmm_alloc_kva. */
void pmm_free_kva(void *p, size_t size)
{
	if (p)
		pmm_free(V2P(p), pmm_order_for(size));
}

/* pmm_get_stats: totals for the `mem` command. */
void pmm_get_stats(struct pmm_stats *s)
{
	spin_lock(&g_lock);
	s->free = g_buddy.free_pages * PAGE_SIZE;
	spin_unlock(&g_lock);
	s->total = g_total_bytes;
	s->managed_end = g_ram_end;
}
