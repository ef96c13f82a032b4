/* Kernel page tables; see vm.h and the layout in mmu.h. */
#include "kernel/vm.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/x86.h"

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[],
    __kernel_end[];

static uint64_t g_pml4; /* physical */
static uint64_t g_ioremap_next = IOREMAP_BASE;
static struct spinlock g_lock = SPINLOCK_INIT("vm");
static bool g_nx;

/* table_alloc: a zeroed page-table page (below 4 GiB so 32-bit trampolines can use the root). */
static uint64_t table_alloc(void)
{
	uint64_t pa = pmm_alloc_below(0, 1ULL << 32);
	if (!pa)
		pa = pmm_alloc_zeroed(0);
	if (!pa)
		panic("vm: out of memory for page tables");
	return pa;
}

/* walk: the entry for va at the given level, creating intermediate tables on the way. */
static uint64_t *walk(uint64_t va, int level)
{
	uint64_t *table = P2V(g_pml4);
	for (int l = 3; l > level; l--) {
		uint64_t *e = &table[PT_INDEX(va, l)];
		if (!(*e & PTE_P))
			*e = table_alloc() | PTE_P | PTE_W;
		ASSERT(!(*e & PTE_PS));
		table = P2V(*e & PTE_ADDR_MASK);
	}
	return &table[PT_INDEX(va, level)];
}

/* map_range: map [va, va+size) to pa with leaf pages of the given level (0 = 4K, 1 = 2M, 2 = 1G).
 */
static void map_range(uint64_t va, uint64_t pa, uint64_t size, int level, uint64_t flags)
{
	uint64_t step = PAGE_SIZE << (9 * level);
	if (!g_nx)
		flags &= ~PTE_NX;
	for (uint64_t off = 0; off < size; off += step)
		*walk(va + off, level) = (pa + off) | flags | PTE_P | (level ? PTE_PS : 0);
}

/* has_1g_pages: CPUID 8000_0001h EDX[26]. */
static bool has_1g_pages(void)
{
	uint32_t r[4];
	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000001)
		return false;
	cpuid(0x80000001, 0, r);
	return (r[3] >> 26) & 1;
}

/* map_kernel_image: text RX, rodata R, data+bss RW, each NX where it is not code. */
static void map_kernel_image(void)
{
	uint64_t kbase = KERNEL_VBASE;
	uint64_t t0 = (uint64_t)__text_start, t1 = ALIGN_UP((uint64_t)__text_end, PAGE_SIZE);
	uint64_t r0 = (uint64_t)__rodata_start, r1 = ALIGN_UP((uint64_t)__rodata_end, PAGE_SIZE);
	uint64_t d0 = (uint64_t)__data_start, d1 = ALIGN_UP((uint64_t)__kernel_end, PAGE_SIZE);
	ASSERT(t0 == kbase && r0 >= t1 && d0 >= r1);
	map_range(t0, kernel_phys_base + (t0 - kbase), t1 - t0, 0, PTE_G);
	map_range(r0, kernel_phys_base + (r0 - kbase), r1 - r0, 0, PTE_G | PTE_NX);
	map_range(d0, kernel_phys_base + (d0 - kbase), d1 - d0, 0, PTE_G | PTE_W | PTE_NX);
}

/* vm_load: enable NX, global pages and write protection, then switch to the kernel tables. */
void vm_load(void)
{
	if (g_nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	write_cr3(g_pml4);
	write_cr4(read_cr4() | CR4_PGE);
}

/* vm_init: direct map of [0, max(4 GiB, top of RAM)), the kernel image, the ioremap root. */
void vm_init(const struct boot_info *bi)
{
	(void)bi;
	uint32_t r[4];
	cpuid(0x80000001, 0, r);
	g_nx = (r[3] >> 20) & 1;
	g_pml4 = table_alloc();
	struct pmm_stats st;
	pmm_get_stats(&st);
	uint64_t top = MAX(st.managed_end, 4ULL << 30);
	if (has_1g_pages())
		map_range(PHYSMAP_BASE, 0, ALIGN_UP(top, HUGE_PAGE_SIZE), 2,
		          PTE_W | PTE_G | PTE_NX);
	else
		map_range(PHYSMAP_BASE, 0, ALIGN_UP(top, LARGE_PAGE_SIZE), 1,
		          PTE_W | PTE_G | PTE_NX);
	map_kernel_image();
	walk(IOREMAP_BASE, 2); /* create the window's PDPT now: later maps stay shared */
	vm_load();
	klog("vm: direct map %llu GiB, kernel %llu KiB, NX %s",
	     (unsigned long long)(ALIGN_UP(top, HUGE_PAGE_SIZE) >> 30),
	     (unsigned long long)(((uint64_t)__kernel_end - KERNEL_VBASE) >> 10),
	     g_nx ? "on" : "off");
}

uint64_t vm_kernel_cr3(void)
{
	return g_pml4;
}

/* ioremap: fresh virtual pages in the window, mapped PCD|PWT (uncached). */
void *ioremap(uint64_t pa, uint64_t size)
{
	uint64_t off = pa & (PAGE_SIZE - 1);
	uint64_t len = ALIGN_UP(size + off, PAGE_SIZE);
	/* big, 2 MiB-aligned ranges (ECAM) take 2 MiB pages */
	int level =
	    IS_ALIGNED(pa - off, LARGE_PAGE_SIZE) && IS_ALIGNED(len, LARGE_PAGE_SIZE) ? 1 : 0;
	spin_lock(&g_lock);
	uint64_t va = level ? ALIGN_UP(g_ioremap_next, LARGE_PAGE_SIZE) : g_ioremap_next;
	if (va + len > IOREMAP_BASE + IOREMAP_SIZE)
		panic("ioremap: window exhausted");
	g_ioremap_next = va + len + PAGE_SIZE; /* leave a guard page */
	map_range(va, pa - off, len, level, PTE_W | PTE_PCD | PTE_PWT | PTE_NX | PTE_G);
	spin_unlock(&g_lock);
	return (void *)(va + off);
}

/* vm_identity_map_page: the AP trampoline runs at its physical address with paging on. */
void vm_identity_map_page(uint64_t pa)
{
	spin_lock(&g_lock);
	map_range(pa, pa, PAGE_SIZE, 0, PTE_W);
	spin_unlock(&g_lock);
	invlpg(pa);
}
