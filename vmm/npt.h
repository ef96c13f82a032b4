/*
 * Nested page tables (AMD NPT, APM vol. 2 15.25; Intel EPT, SDM 3C 29.3), vendor-neutral.
 *
 * Guest-physical -> host-physical, 4 levels. RAM is mapped with 2 MiB pages; anything not
 * mapped (device MMIO, holes) faults to the VMM. The entry encoding differs by vendor and
 * comes from struct npt_format. Dirty logging splits 2 MiB pages into 4 KiB ones and then
 * harvests and clears the hardware dirty bits, or, where the CPU sets none (Intel EPT without
 * A/D bits), write-protects RAM and logs the first write to each page; see npt_dirty_*.
 */
#ifndef TERN_NPT_H
#define TERN_NPT_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

struct gmem;

#define NPT_R   1u
#define NPT_W   2u
#define NPT_X   4u
#define NPT_RWX (NPT_R | NPT_W | NPT_X)

/* Guest-physical addresses the 4-level tables can map (each level indexes 9 bits). */
#define NPT_GPA_LIMIT (1ULL << 48)

struct npt_format {
	const char *name;
	/* leaf entry at level (0 = 4 KiB, 1 = 2 MiB) for hpa with NPT_* permissions */
	uint64_t (*leaf)(uint64_t hpa, int level, unsigned perm);
	/* entry pointing at a lower-level table */
	uint64_t (*table)(uint64_t hpa);
	bool (*present)(uint64_t e);
	/* the NPT_* permissions of a leaf entry (kept when a 2 MiB page is split) */
	unsigned (*perm)(uint64_t e);
	uint64_t addr_mask; /* physical address bits of an entry */
	uint64_t large_bit; /* page-size bit in a level-1/2 entry */
	uint64_t dirty_bit; /* set by the CPU on write (leaf) */
};

/* Page-table pages come from here (kernel: pmm + direct map; host tests: malloc). */
struct npt_mem_ops {
	void *(*alloc)(uint64_t *hpa); /* a zeroed 4 KiB page */
	void (*free)(uint64_t hpa);
	void *(*hva)(uint64_t hpa);
};

struct npt {
	const struct npt_format *fmt;
	const struct npt_mem_ops *mem;
	uint64_t root; /* physical address of the top-level table */
	struct spinlock lock;
	uint64_t table_pages;
	bool logging;
	bool hw_log; /* the backend logs written pages itself (Intel PML, vmm/dirty.c) */
	bool wp_log; /* no hardware dirty bits: RAM is write-protected while logging, and the
	              * first write to a page faults into npt_dirty_write_fault */
};

/* npt_init: an empty table tree. */
bool npt_init(struct npt *n, const struct npt_format *fmt, const struct npt_mem_ops *mem);
/* npt_map: map [gpa, gpa+size) to [hpa, ...) with 2 MiB pages where both are aligned (4 KiB
 * pages while dirty logging); false if out of memory, if the range is beyond NPT_GPA_LIMIT,
 * or if a 4 KiB page would go inside an existing 2 MiB one. */
bool npt_map(struct npt *n, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm);
/* npt_unmap: remove mappings in [gpa, gpa+size) (whole leaves only). */
void npt_unmap(struct npt *n, uint64_t gpa, uint64_t size);
/* npt_lookup: host address for gpa, or false if unmapped. */
bool npt_lookup(struct npt *n, uint64_t gpa, uint64_t *hpa, unsigned *level);
/* npt_destroy: free every table page. */
void npt_destroy(struct npt *n);
/* npt_dirty_log_start: split RAM mappings into 4 KiB pages and clear their dirty bits (with
 * wp_log: their write permission). The caller then flushes every vCPU's guest TLB before
 * relying on the log. */
bool npt_dirty_log_start(struct npt *n, const struct gmem *m);
/* npt_dirty_harvest: OR the pages whose dirty bit is set into bitmap (RAM page numbering
 * of gmem) and clear the bits; returns pages found. Flush guest TLBs before copying pages. */
uint64_t npt_dirty_harvest(struct npt *n, const struct gmem *m, uint64_t *bitmap);
/* npt_dirty_log_stop: end logging; with wp_log, RAM is writable again (wp_log cleared). */
void npt_dirty_log_stop(struct npt *n, const struct gmem *m);
/* npt_dirty_take: with hardware logging (PML), which logs a page when its dirty bit goes from
 * 0 to 1, or with wp_log, which logs it at its first write fault: move the pages set in log
 * into out and clear their dirty bits (wp_log: write-protect them again), so the next write
 * to each is logged again; returns the pages moved. Flush guest TLBs before copying pages. */
uint64_t npt_dirty_take(struct npt *n, const struct gmem *m, uint64_t *log, uint64_t *out);
/* npt_dirty_peek: set bit i of out for each page first+i (of count) whose 4 KiB entry has its
 * dirty bit set, i.e. was written since its bit was last cleared; clears nothing. Returns the
 * pages found. */
uint64_t npt_dirty_peek(struct npt *n, const struct gmem *m, uint64_t first, uint32_t count,
                        uint64_t *out);
/* npt_dirty_write_fault: a guest write faulted on RAM at gpa. With wp_log and a
 * write-protected 4 KiB page: set its bit in log and make it writable. true if the write can
 * simply be retried (also when the page is writable already: a stale translation), false if
 * the tables do not explain the fault. */
bool npt_dirty_write_fault(struct npt *n, const struct gmem *m, uint64_t gpa, uint64_t *log);

/* Kernel page-table memory for NPT (pmm pages through the direct map). */
extern const struct npt_mem_ops npt_kernel_mem;

#endif
