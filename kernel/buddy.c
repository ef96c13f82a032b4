/* Binary buddy page allocator; see buddy.h. */
#include "kernel/buddy.h"
#include "kernel/panic.h"

/* node: the free-list node stored in page pfn. */
static struct buddy_node *node(const struct buddy *b, uint64_t pfn)
{
	return (struct buddy_node *)((pfn << 12) + b->vofs);
}

/* node_pfn: the page that holds node n. */
static uint64_t node_pfn(const struct buddy *b, const struct buddy_node *n)
{
	return ((uint64_t)n - b->vofs) >> 12;
}

/* push: put block pfn of the given order on its free list. */
static void push(struct buddy *b, uint64_t pfn, unsigned order)
{
	struct buddy_node *n = node(b, pfn);
	n->prev = NULL;
	n->next = b->free[order];
	if (n->next)
		n->next->prev = n;
	b->free[order] = n;
	b->order_map[pfn - b->base_pfn] = (uint8_t)order;
	b->nfree[order]++;
	b->free_pages += 1ULL << order;
}

/* unlink: take block pfn of the given order off its free list. */
static void unlink(struct buddy *b, uint64_t pfn, unsigned order)
{
	struct buddy_node *n = node(b, pfn);
	if (n->prev)
		n->prev->next = n->next;
	else
		b->free[order] = n->next;
	if (n->next)
		n->next->prev = n->prev;
	b->order_map[pfn - b->base_pfn] = BUDDY_NOT_FREE;
	b->nfree[order]--;
	b->free_pages -= 1ULL << order;
}

/* buddy_init: empty allocator over the range; every page starts out allocated. */
void buddy_init(struct buddy *b, uint64_t base_pfn, uint64_t npages, uint8_t *order_map,
                uint64_t vofs)
{
	b->base_pfn = base_pfn;
	b->npages = npages;
	b->order_map = order_map;
	b->vofs = vofs;
	b->free_pages = 0;
	for (int i = 0; i <= BUDDY_MAX_ORDER; i++) {
		b->free[i] = NULL;
		b->nfree[i] = 0;
	}
	for (uint64_t i = 0; i < npages; i++)
		order_map[i] = BUDDY_NOT_FREE;
}

/* in_range: block [pfn, pfn + 2^order) lies inside the managed range (without wrapping). */
static bool in_range(const struct buddy *b, uint64_t pfn, unsigned order)
{
	return pfn >= b->base_pfn && pfn - b->base_pfn <= b->npages &&
	       (1ULL << order) <= b->npages - (pfn - b->base_pfn);
}

/* inside_free_block: pfn lies in a free block of order above `order` (free blocks are
 * aligned to their size, so the only candidate head at order k is pfn rounded down). */
static bool inside_free_block(const struct buddy *b, uint64_t pfn, unsigned order)
{
	for (unsigned k = order + 1; k <= BUDDY_MAX_ORDER; k++) {
		uint64_t head = pfn & ~((1ULL << k) - 1);
		if (head >= b->base_pfn && b->order_map[head - b->base_pfn] == k)
			return true;
	}
	return false;
}

/* buddy_free: return a block, merging with its buddy while the buddy is free and whole. */
void buddy_free(struct buddy *b, uint64_t pfn, unsigned order)
{
	if (order > BUDDY_MAX_ORDER || !in_range(b, pfn, order) || (pfn & ((1ULL << order) - 1)))
		panic("buddy_free: bad block pfn %#llx order %u", (unsigned long long)pfn, order);
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		/* a page that is the head of a free block inside ours means a double free */
		if (b->order_map[pfn + i - b->base_pfn] != BUDDY_NOT_FREE)
			panic("buddy_free: double free of pfn %#llx",
			      (unsigned long long)(pfn + i));
	}
	if (inside_free_block(b, pfn, order))
		panic("buddy_free: double free of pfn %#llx", (unsigned long long)pfn);
	while (order < BUDDY_MAX_ORDER) {
		uint64_t buddy = pfn ^ (1ULL << order);
		if (!in_range(b, buddy, order) || b->order_map[buddy - b->base_pfn] != order)
			break;
		unlink(b, buddy, order);
		pfn &= ~(1ULL << order);
		order++;
	}
	push(b, pfn, order);
}

/* buddy_add_range: free the range as the largest aligned blocks that fit. */
void buddy_add_range(struct buddy *b, uint64_t pfn, uint64_t count)
{
	uint64_t end = pfn + count;
	while (pfn < end) {
		unsigned order = 0;
		while (order < BUDDY_MAX_ORDER && !(pfn & (1ULL << order)) &&
		       pfn + (2ULL << order) <= end)
			order++;
		buddy_free(b, pfn, order);
		pfn += 1ULL << order;
	}
}

/* find_block: a free block of order >= want whose low sub-block ends at or below limit. */
static bool find_block(struct buddy *b, unsigned want, uint64_t limit, uint64_t *pfn,
                       unsigned *order)
{
	for (unsigned o = want; o <= BUDDY_MAX_ORDER; o++) {
		for (struct buddy_node *n = b->free[o]; n; n = n->next) {
			uint64_t p = node_pfn(b, n);
			if (limit && p + (1ULL << want) > limit)
				continue;
			*pfn = p;
			*order = o;
			return true;
		}
	}
	return false;
}

/* buddy_alloc: take the smallest suitable block and split it down to the wanted order. */
bool buddy_alloc(struct buddy *b, unsigned order, uint64_t limit_pfn, uint64_t *pfn)
{
	uint64_t p;
	unsigned o;
	if (order > BUDDY_MAX_ORDER || !find_block(b, order, limit_pfn, &p, &o))
		return false;
	unlink(b, p, o);
	while (o > order) {
		o--;
		push(b, p + (1ULL << o), o); /* the upper half goes back */
	}
	*pfn = p;
	return true;
}

/* buddy_check: every listed block is marked in the order map, counts add up. */
bool buddy_check(const struct buddy *b)
{
	uint64_t pages = 0;
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		uint64_t n = 0;
		for (struct buddy_node *x = b->free[o]; x; x = x->next, n++) {
			uint64_t p = node_pfn(b, x);
			if (!in_range(b, p, o) || b->order_map[p - b->base_pfn] != o)
				return false;
			if (x->next && x->next->prev != x)
				return false;
		}
		if (n != b->nfree[o])
			return false;
		pages += n << o;
	}
	return pages == b->free_pages;
}
