/*
 * Unit tests for kernel/buddy.c: splitting, coalescing, limits, odd ranges, exhaustion, a
 * seeded random workload checked against a reference model, and the panics on bad frees.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "kernel/buddy.h"

/* panic: when a test armed g_panic_jmp, panics jump back to it; otherwise they abort. */
static jmp_buf g_panic_jmp;
static bool g_panic_armed;
static char g_panic_msg[256];

void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g_panic_msg, sizeof(g_panic_msg), fmt, ap);
	va_end(ap);
	if (g_panic_armed) {
		g_panic_armed = false;
		longjmp(g_panic_jmp, 1);
	}
	fprintf(stderr, "unexpected PANIC: %s\n", g_panic_msg);
	abort();
}

/* EXPECT_PANIC: stmt must panic with a message containing substr. */
#define EXPECT_PANIC(stmt, substr)                                                                 \
	do {                                                                                       \
		g_panic_msg[0] = 0;                                                                \
		if (setjmp(g_panic_jmp) == 0) {                                                    \
			g_panic_armed = true;                                                      \
			stmt;                                                                      \
			g_panic_armed = false;                                                     \
			fail_msg("no panic from %s", #stmt);                                       \
		}                                                                                  \
		assert_non_null(strstr(g_panic_msg, substr));                                      \
	} while (0)

/* An allocator over real memory, with a reference model: which pages were given to it and
 * which the test holds. */
struct arena {
	struct buddy b;
	uint8_t *mem;   /* page (base + i) lives at mem + i * 4096 */
	uint8_t *map;   /* the allocator's order map */
	uint8_t *added; /* model: page i was handed over with buddy_add_range */
	uint8_t *held;  /* model: page i is allocated to the test */
	uint8_t *seen;  /* scratch for model_check */
	uint64_t base, n;
	size_t bytes;
};

static struct arena *arena_new(uint64_t base, uint64_t n)
{
	struct arena *a = calloc(1, sizeof(*a));
	a->base = base;
	a->n = n;
	a->bytes = (size_t)n * 4096;
	/* lazily backed: only pages holding free-list nodes get touched */
	a->mem = mmap(NULL, a->bytes, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(a->mem != MAP_FAILED);
	a->map = malloc(n);
	a->added = calloc(1, n);
	a->held = calloc(1, n);
	a->seen = calloc(1, n);
	memset(a->map, 0x5a, n);
	buddy_init(&a->b, base, n, a->map, (uint64_t)(uintptr_t)a->mem - (base << 12));
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(a->map[i], BUDDY_NOT_FREE);
	assert_int_equal(a->b.free_pages, 0);
	return a;
}

static void arena_free(struct arena *a)
{
	munmap(a->mem, a->bytes);
	free(a->map);
	free(a->added);
	free(a->held);
	free(a->seen);
	free(a);
}

static void add(struct arena *a, uint64_t pfn, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		assert_false(a->added[pfn - a->base + i]);
		a->added[pfn - a->base + i] = 1;
	}
	buddy_add_range(&a->b, pfn, count);
}

/* take: buddy_alloc and check the block against the model. */
static bool take(struct arena *a, unsigned order, uint64_t limit, uint64_t *pfn)
{
	uint64_t before = a->b.free_pages;
	if (!buddy_alloc(&a->b, order, limit, pfn)) {
		assert_int_equal(a->b.free_pages, before);
		return false;
	}
	uint64_t size = 1ULL << order;
	assert_int_equal(*pfn & (size - 1), 0);
	assert_true(*pfn >= a->base && *pfn + size <= a->base + a->n);
	if (limit)
		assert_true(*pfn + size <= limit);
	for (uint64_t i = 0; i < size; i++) {
		uint64_t k = *pfn - a->base + i;
		assert_true(a->added[k]);
		assert_false(a->held[k]);
		a->held[k] = 1;
	}
	assert_int_equal(a->b.free_pages, before - size);
	/* the block is the caller's: scribble over it (free-list nodes must not live there);
	 * for big blocks only the first and last pages, to keep the memory untouched */
	uint8_t *m = a->mem + (*pfn - a->base) * 4096;
	if (size <= 64) {
		memset(m, 0xcc, size * 4096);
	} else {
		memset(m, 0xcc, 4096);
		memset(m + (size - 1) * 4096, 0xcc, 4096);
	}
	return true;
}

static void give(struct arena *a, uint64_t pfn, unsigned order)
{
	uint64_t before = a->b.free_pages;
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		assert_true(a->held[pfn - a->base + i]);
		a->held[pfn - a->base + i] = 0;
	}
	buddy_free(&a->b, pfn, order);
	assert_int_equal(a->b.free_pages, before + (1ULL << order));
}

/* model_check: buddy_check, then every free block is aligned, disjoint, made of added pages
 * the test does not hold, no two free buddies of the same order are left unmerged, and every
 * added page is either free or held. */
static void model_check(struct arena *a)
{
	assert_true(buddy_check(&a->b));
	memset(a->seen, 0, a->n);
	uint64_t free_pages = 0, heads = 0;
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		for (struct buddy_node *x = a->b.free[o]; x; x = x->next) {
			uint64_t p = a->base + (uint64_t)((uint8_t *)x - a->mem) / 4096;
			assert_int_equal(((uint8_t *)x - a->mem) % 4096, 0);
			assert_int_equal(p & ((1ULL << o) - 1), 0);
			assert_int_equal(a->map[p - a->base], o);
			for (uint64_t i = 0; i < (1ULL << o); i++) {
				uint64_t k = p - a->base + i;
				assert_true(k < a->n);
				assert_true(a->added[k]);
				assert_false(a->held[k]);
				assert_false(a->seen[k]);
				a->seen[k] = 1;
				if (i)
					assert_int_equal(a->map[k], BUDDY_NOT_FREE);
			}
			free_pages += 1ULL << o;
			heads++;
			/* fully coalesced: the buddy is not a free block of the same order */
			uint64_t bud = p ^ (1ULL << o);
			if (o < BUDDY_MAX_ORDER && bud >= a->base &&
			    bud + (1ULL << o) <= a->base + a->n)
				assert_int_not_equal(a->map[bud - a->base], o);
		}
	}
	assert_int_equal(free_pages, a->b.free_pages);
	/* the order map marks exactly the heads of listed blocks */
	uint64_t marked = 0;
	for (uint64_t k = 0; k < a->n; k++) {
		assert_int_equal(a->added[k], a->seen[k] | a->held[k]);
		marked += a->map[k] != BUDDY_NOT_FREE;
	}
	assert_int_equal(marked, heads);
}

static void test_split_and_merge(void **state)
{
	struct arena *a = arena_new(0, 16);
	add(a, 0, 16);
	model_check(a);
	assert_int_equal(a->b.nfree[4], 1);
	assert_int_equal(a->b.free_pages, 16);

	uint64_t p;
	assert_true(take(a, 0, 0, &p));
	assert_int_equal(p, 0);
	/* the order-4 block split into 8 + 4 + 2 + 1 free pages */
	for (int o = 0; o < 4; o++)
		assert_int_equal(a->b.nfree[o], 1);
	assert_int_equal(a->b.nfree[4], 0);
	assert_int_equal(a->map[1], 0);
	assert_int_equal(a->map[2], 1);
	assert_int_equal(a->map[4], 2);
	assert_int_equal(a->map[8], 3);
	model_check(a);

	uint64_t q;
	assert_true(take(a, 0, 0, &q)); /* the smallest block fitting: page 1 */
	assert_int_equal(q, 1);
	assert_true(take(a, 2, 0, &q));
	assert_int_equal(q, 4);
	model_check(a);
	give(a, 0, 0); /* buddy 1 is held: no merge */
	assert_int_equal(a->map[0], 0);
	model_check(a);
	give(a, 1, 0); /* 0+1 -> 0..1, + 2..3 -> 0..3; 4..7 held */
	assert_int_equal(a->map[0], 2);
	assert_int_equal(a->b.nfree[2], 1);
	model_check(a);
	give(a, 4, 2); /* everything merges back */
	assert_int_equal(a->b.nfree[4], 1);
	assert_int_equal(a->map[0], 4);
	for (int o = 0; o < 4; o++)
		assert_int_equal(a->b.nfree[o], 0);
	model_check(a);
	arena_free(a);
}

static void test_all_pages_then_exhausted(void **state)
{
	struct arena *a = arena_new(0, 64);
	add(a, 0, 64);
	uint64_t pages[64], p;
	for (int i = 0; i < 64; i++)
		assert_true(take(a, 0, 0, &pages[i]));
	assert_int_equal(a->b.free_pages, 0);
	assert_false(take(a, 0, 0, &p));
	model_check(a);
	/* give them back in a scrambled order: all merges back to one block */
	for (int i = 0; i < 64; i++) {
		int j = (i * 37) % 64;
		give(a, pages[j], 0);
		model_check(a);
	}
	assert_int_equal(a->b.nfree[6], 1);
	/* one order-6 block, then nothing; orders above what exists fail */
	assert_false(take(a, 7, 0, &p));
	assert_false(take(a, BUDDY_MAX_ORDER, 0, &p));
	assert_false(take(a, BUDDY_MAX_ORDER + 1, 0, &p));
	assert_false(take(a, 200, 0, &p));
	assert_true(take(a, 6, 0, &p));
	assert_false(take(a, 0, 0, &p));
	give(a, p, 6);
	/* exhaustion by mixed orders */
	uint64_t got = 0, q[64];
	unsigned qo[64];
	int nq = 0;
	for (unsigned o = 5;; o = o ? o - 1 : 5) {
		if (!take(a, o, 0, &q[nq])) {
			if (o == 0)
				break;
			continue;
		}
		qo[nq++] = o;
		got += 1ULL << o;
	}
	assert_int_equal(got, 64);
	assert_int_equal(a->b.free_pages, 0);
	while (nq--)
		give(a, q[nq], qo[nq]);
	assert_int_equal(a->b.nfree[6], 1);
	model_check(a);
	arena_free(a);
}

static void test_empty_allocator(void **state)
{
	struct arena *a = arena_new(100, 10);
	uint64_t p = 77;
	assert_false(take(a, 0, 0, &p));
	assert_int_equal(p, 77);
	assert_true(buddy_check(&a->b));
	add(a, 105, 0); /* an empty range adds nothing */
	assert_int_equal(a->b.free_pages, 0);
	model_check(a);
	arena_free(a);
}

static void test_unaligned_base(void **state)
{
	/* pages 3..15: blocks 3 (order 0), 4..7 (order 2), 8..15 (order 3), never merged with
	 * buddies outside the range */
	struct arena *a = arena_new(3, 13);
	add(a, 3, 13);
	model_check(a);
	assert_int_equal(a->b.nfree[0], 1);
	assert_int_equal(a->b.nfree[1], 0);
	assert_int_equal(a->b.nfree[2], 1);
	assert_int_equal(a->b.nfree[3], 1);
	assert_int_equal(a->map[3 - 3], 0);
	assert_int_equal(a->map[4 - 3], 2);
	assert_int_equal(a->map[8 - 3], 3);
	uint64_t p;
	assert_false(take(a, 4, 0, &p));
	assert_true(take(a, 3, 0, &p));
	assert_int_equal(p, 8);
	give(a, p, 3);
	model_check(a);
	arena_free(a);
}

static void test_add_range_odd(void **state)
{
	struct arena *a = arena_new(1000, 3000);
	/* odd starts and lengths, single pages, touching ranges added separately */
	add(a, 1001, 1);
	add(a, 1003, 7);
	add(a, 1010, 1);
	add(a, 1011, 517);
	add(a, 1528, 1000); /* touches the previous range: merges across the seam */
	add(a, 2600, 399);
	add(a, 3999, 1); /* the last page */
	add(a, 1000, 1); /* the first page, next to 1001 */
	model_check(a);
	uint64_t total = 1 + 7 + 1 + 517 + 1000 + 399 + 1 + 1;
	assert_int_equal(a->b.free_pages, total);
	/* the seam between 1527 and 1528 is gone: 1024..2047 is one order-10 block */
	assert_int_equal(a->map[1024 - 1000], 10);
	/* every page can be allocated exactly once */
	uint64_t p, n = 0;
	while (take(a, 0, 0, &p))
		n++;
	assert_int_equal(n, total);
	model_check(a);
	for (uint64_t k = 0; k < a->n; k++)
		if (a->held[k])
			give(a, a->base + k, 0);
	model_check(a);
	assert_int_equal(a->b.free_pages, total);
	arena_free(a);
}

static void test_add_range_matches_frees(void **state)
{
	/* add_range gives the same free lists as freeing page by page */
	for (uint64_t start = 0; start < 40; start += 3) {
		for (uint64_t len = 0; len < 90; len += 7) {
			struct arena *a = arena_new(0, 160), *b = arena_new(0, 160);
			add(a, start, len);
			for (uint64_t i = 0; i < len; i++)
				b->added[start + i] = 1;
			for (uint64_t i = len; i-- > 0;)
				buddy_free(&b->b, start + i, 0);
			model_check(a);
			model_check(b);
			assert_memory_equal(a->map, b->map, 160);
			assert_memory_equal(a->b.nfree, b->b.nfree, sizeof(a->b.nfree));
			arena_free(a);
			arena_free(b);
		}
	}
}

static void test_limit(void **state)
{
	struct arena *a = arena_new(0, 64);
	add(a, 0, 64);
	uint64_t p;
	assert_true(take(a, 0, 1, &p)); /* ends at or below pfn 1: page 0 */
	assert_int_equal(p, 0);
	assert_true(take(a, 0, 2, &p)); /* exactly at the limit */
	assert_int_equal(p, 1);
	assert_false(take(a, 1, 3, &p)); /* 2..3 ends at 4 > 3 */
	assert_true(take(a, 1, 4, &p));
	assert_int_equal(p, 2);
	/* free: 4(o2), 8(o3), 16(o4), 32(o5). A low limit skips blocks that are too high even
	 * if they are the smallest fitting */
	assert_false(take(a, 0, 4, &p));
	assert_true(take(a, 0, 60, &p));
	assert_int_equal(p, 4);
	/* now free: 5(o0), 6(o1), 8(o3), 16(o4), 32(o5) */
	assert_true(take(a, 4, 40, &p));
	assert_int_equal(p, 16);
	assert_true(take(a, 3, 0, &p));
	assert_int_equal(p, 8);
	/* only 5, 6..7 and 32..63 left: a limit below 32 finds only the small blocks */
	assert_false(take(a, 2, 32, &p));
	assert_true(take(a, 2, 36, &p)); /* the low part of the order-5 block */
	assert_int_equal(p, 32);
	/* limit 0 means none */
	assert_true(take(a, 3, 0, &p));
	model_check(a);
	/* a limit above the region is no limit */
	assert_true(take(a, 0, 1ULL << 40, &p));
	model_check(a);
	arena_free(a);
}

static void test_limit_prefers_low_block_of_bigger_order(void **state)
{
	/* order-0 blocks exist only high up; a limited allocation splits a big low block */
	struct arena *a = arena_new(0, 128);
	add(a, 0, 64);
	add(a, 127, 1);
	uint64_t p;
	assert_true(take(a, 0, 64, &p));
	assert_int_equal(p, 0);
	assert_int_equal(a->map[127], 0); /* untouched */
	assert_true(take(a, 0, 0, &p));
	model_check(a);
	arena_free(a);
}

static void test_max_order(void **state)
{
	/* 2^19 + 5 pages (2 GiB of address space, touched only where nodes live): two
	 * BUDDY_MAX_ORDER blocks that must not merge into an order above the maximum */
	uint64_t top = 1ULL << BUDDY_MAX_ORDER;
	struct arena *a = arena_new(0, 2 * top + 5);
	add(a, 0, 2 * top + 5);
	assert_int_equal(a->b.nfree[BUDDY_MAX_ORDER], 2);
	assert_int_equal(a->b.free_pages, 2 * top + 5);
	assert_true(buddy_check(&a->b));
	uint64_t p, q;
	assert_true(take(a, BUDDY_MAX_ORDER, 0, &p));
	assert_true(take(a, BUDDY_MAX_ORDER, 0, &q));
	assert_false(take(a, BUDDY_MAX_ORDER, 0, &p));
	give(a, q, BUDDY_MAX_ORDER);
	assert_true(take(a, 0, 0, &p)); /* splits 18 levels down */
	assert_int_equal(a->b.free_pages, top + 5 - 1);
	assert_true(buddy_check(&a->b));
	give(a, p, 0);
	assert_int_equal(a->b.nfree[BUDDY_MAX_ORDER], 1);
	arena_free(a);
}

/* xorshift64: a small seeded PRNG so failures reproduce. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void test_random_against_model(void **state)
{
	static const uint64_t seeds[] = {1, 0x9e3779b97f4a7c15ULL, 42, 0xdeadbeef};
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		rng_state = seeds[s];
		uint64_t base = 7 + rnd() % 50, n = 1500 + rnd() % 600;
		struct arena *a = arena_new(base, n);
		/* a few random holes stay unavailable */
		for (uint64_t i = 0; i < n;) {
			uint64_t len = 1 + rnd() % 300;
			if (len > n - i)
				len = n - i;
			if (rnd() % 5)
				add(a, base + i, len);
			i += len + rnd() % 4;
		}
		uint64_t initial = a->b.free_pages;
		uint64_t held_pfn[512];
		unsigned held_order[512];
		int nheld = 0;
		for (int step = 0; step < 3000; step++) {
			bool alloc = nheld == 0 || (nheld < 512 && rnd() % 100 < 55);
			if (alloc) {
				unsigned o = (unsigned)(rnd() % 6);
				uint64_t limit = rnd() % 4 ? 0 : base + rnd() % (n + 10);
				uint64_t p;
				if (take(a, o, limit, &p)) {
					held_pfn[nheld] = p;
					held_order[nheld++] = o;
				} else if (!limit) {
					/* nothing of that order is free anywhere */
					for (unsigned k = o; k <= BUDDY_MAX_ORDER; k++)
						assert_int_equal(a->b.nfree[k], 0);
				}
			} else {
				int i = (int)(rnd() % (uint64_t)nheld);
				give(a, held_pfn[i], held_order[i]);
				held_pfn[i] = held_pfn[--nheld];
				held_order[i] = held_order[nheld];
			}
			if (step % 16 == 0)
				model_check(a);
		}
		while (nheld--)
			give(a, held_pfn[nheld], held_order[nheld]);
		model_check(a);
		assert_int_equal(a->b.free_pages, initial);
		arena_free(a);
	}
}

static void test_check_detects_corruption(void **state)
{
	struct arena *a = arena_new(0, 32);
	add(a, 0, 32);
	uint64_t p;
	assert_true(take(a, 0, 0, &p)); /* free: 1(o0) 2(o1) 4(o2) 8(o3) 16(o4) */
	assert_true(buddy_check(&a->b));
	a->map[1] = 3; /* the order map disagrees with the lists */
	assert_false(buddy_check(&a->b));
	a->map[1] = 0;
	a->b.nfree[2]++; /* list length and count differ */
	assert_false(buddy_check(&a->b));
	a->b.nfree[2]--;
	a->b.free_pages++; /* page total differs */
	assert_false(buddy_check(&a->b));
	a->b.free_pages--;
	struct buddy_node *n1 = a->b.free[0];
	a->b.free[0] = NULL; /* a block lost from its list */
	assert_false(buddy_check(&a->b));
	a->b.free[0] = n1;
	assert_true(buddy_check(&a->b));
	arena_free(a);

	/* a broken back link in a list of two (pages 0 and 2 are not buddies) */
	a = arena_new(0, 4);
	add(a, 0, 1);
	add(a, 2, 1);
	assert_int_equal(a->b.nfree[0], 2);
	assert_true(buddy_check(&a->b));
	struct buddy_node *second = a->b.free[0]->next;
	second->prev = second;
	assert_false(buddy_check(&a->b));
	second->prev = a->b.free[0];
	model_check(a);
	arena_free(a);
}

static void test_bad_frees_panic(void **state)
{
	struct arena *a = arena_new(16, 32);
	add(a, 16, 32);
	uint64_t p, q;
	assert_true(take(a, 0, 0, &p));
	give(a, p, 0);
	/* freeing a page that is a free block's head */
	EXPECT_PANIC(buddy_free(&a->b, 16, 0), "double free");
	EXPECT_PANIC(buddy_free(&a->b, 16, 4), "double free");
	/* misaligned, out of range, bad order */
	assert_true(take(a, 1, 0, &p));
	EXPECT_PANIC(buddy_free(&a->b, p + 1, 1), "bad block");
	EXPECT_PANIC(buddy_free(&a->b, 15, 0), "bad block");
	EXPECT_PANIC(buddy_free(&a->b, 48, 0), "bad block");
	EXPECT_PANIC(buddy_free(&a->b, 32, 5), "bad block"); /* runs past the end */
	EXPECT_PANIC(buddy_free(&a->b, 0, BUDDY_MAX_ORDER + 1), "bad block");
	EXPECT_PANIC(buddy_free(&a->b, 0xfffffffffffffff0ULL, 4), "bad block"); /* wraps */
	EXPECT_PANIC(buddy_free(&a->b, 0xffffffffffffffffULL, 0), "bad block");
	give(a, p, 1);
	model_check(a);
	/* nothing changed through all that */
	assert_int_equal(a->b.free_pages, 32);
	assert_int_equal(a->b.nfree[4], 2);

	/* a double free of a page that has been merged into a bigger free block */
	assert_true(take(a, 0, 0, &p));
	assert_true(take(a, 0, 0, &q));
	assert_int_equal(q, p + 1);
	give(a, p, 0);
	give(a, q, 0); /* p..q merged back up */
	assert_int_not_equal(a->map[q - a->base], 0);
	EXPECT_PANIC(buddy_free(&a->b, q, 0), "double free");
	EXPECT_PANIC(buddy_free(&a->b, 20, 2), "double free");
	EXPECT_PANIC(buddy_free(&a->b, 31, 0), "double free");
	model_check(a);
	/* and a free of a block overlapping a free one of lower order */
	assert_true(take(a, 0, 0, &p)); /* p+1, p+2..p+3, ... are free */
	EXPECT_PANIC(buddy_free(&a->b, p, 1), "double free");
	give(a, p, 0);
	model_check(a);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_and_merge),
	    cmocka_unit_test(test_all_pages_then_exhausted),
	    cmocka_unit_test(test_empty_allocator),
	    cmocka_unit_test(test_unaligned_base),
	    cmocka_unit_test(test_add_range_odd),
	    cmocka_unit_test(test_add_range_matches_frees),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_limit_prefers_low_block_of_bigger_order),
	    cmocka_unit_test(test_max_order),
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_check_detects_corruption),
	    cmocka_unit_test(test_bad_frees_panic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
