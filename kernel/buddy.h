/*
 * Binary buddy allocator over a range of page frames (pure logic; host-tested).
 *
 * Free blocks of 2^order pages are kept on per-order doubly linked lists whose nodes live in the
 * free pages themselves, reached through `vofs` (virtual = physical + vofs). A byte per page
 * records the order of the free block that starts there (BUDDY_NOT_FREE otherwise), which is all
 * that coalescing needs: the buddy of block p at order k is p ^ 2^k.
 */
#ifndef TERN_BUDDY_H
#define TERN_BUDDY_H

#include "kernel/compiler.h"

#define BUDDY_MAX_ORDER 18 /* 1 GiB blocks */
#define BUDDY_NOT_FREE  0xff

struct buddy_node {
	struct buddy_node *next, *prev;
};

struct buddy {
	uint64_t base_pfn, npages;
	uint8_t *order_map; /* npages bytes */
	uint64_t vofs;      /* virtual address of physical page p = (p << 12) + vofs */
	struct buddy_node *free[BUDDY_MAX_ORDER + 1];
	uint64_t nfree[BUDDY_MAX_ORDER + 1];
	uint64_t free_pages;
};

/* buddy_init: manage [base_pfn, base_pfn+npages), all initially allocated. */
void buddy_init(struct buddy *b, uint64_t base_pfn, uint64_t npages, uint8_t *order_map,
                uint64_t vofs);
/* buddy_add_range: give pages [pfn, pfn+count) to the allocator (count may be any size). */
void buddy_add_range(struct buddy *b, uint64_t pfn, uint64_t count);
/* buddy_alloc: a free block of 2^order pages ending at or below limit_pfn (0: no limit). */
bool buddy_alloc(struct buddy *b, unsigned order, uint64_t limit_pfn, uint64_t *pfn);
/* buddy_free: return a block from buddy_alloc; panics on double free or bad alignment. */
void buddy_free(struct buddy *b, uint64_t pfn, unsigned order);
/* buddy_check: verify the free lists against the order map; returns false on corruption. */
bool buddy_check(const struct buddy *b);

#endif
