/*
 * Unit tests for vmm/npt.c (vendor-neutral nested page tables). Table pages come from a fake
 * "host physical memory" arena that checks every hva/free against what it handed out; the
 * entry formats are AMD NPT (copied from vmm/svm/svm.c, APM vol. 2 15.25) and Intel EPT (SDM
 * 3C 29.3.2: R/W/X in bits 2:0, memory type in 5:3, large page bit 7, accessed 8, dirty 9),
 * and every test runs with both. Covered: 2 MiB and 4 KiB mappings with mixed alignment,
 * lookups, unmapping, the 48-bit address limit, a 2 MiB page replacing 4 KiB ones, every
 * table page freed by npt_destroy, running out of memory at every allocation, and dirty
 * logging over a two-slot guest RAM layout: the split keeps each page's address and
 * permissions with clear dirty bits, and harvests report exactly the pages whose dirty bits
 * were set by hand (as the CPU would), in RAM page numbering, ignoring pages outside RAM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/bitmap.h"
#include "vmm/gmem.h"
#include "vmm/npt.h"

/* ---- entry formats -------------------------------------------------------------------------- */
/* AMD NPT: long-mode entries, every level user-accessible (as in vmm/svm/svm.c). */
#define AMD_P  (1ULL << 0)
#define AMD_RW (1ULL << 1)
#define AMD_US (1ULL << 2)
#define AMD_A  (1ULL << 5)
#define AMD_D  (1ULL << 6)
#define AMD_PS (1ULL << 7)
#define AMD_NX (1ULL << 63)

static uint64_t amd_leaf(uint64_t hpa, int level, unsigned perm)
{
	return hpa | AMD_P | AMD_US | ((perm & NPT_W) ? AMD_RW : 0) | (level ? AMD_PS : 0) |
	       ((perm & NPT_X) ? 0 : AMD_NX);
}
static uint64_t amd_table(uint64_t hpa)
{
	return hpa | AMD_P | AMD_RW | AMD_US;
}
static bool amd_present(uint64_t e)
{
	return e & AMD_P;
}
static unsigned amd_perm(uint64_t e)
{
	return NPT_R | ((e & AMD_RW) ? NPT_W : 0) | ((e & AMD_NX) ? 0 : NPT_X);
}
static const struct npt_format amd_fmt = {
    .name = "AMD NPT",
    .leaf = amd_leaf,
    .table = amd_table,
    .present = amd_present,
    .perm = amd_perm,
    .addr_mask = 0x000ffffffffff000ULL,
    .large_bit = AMD_PS,
    .dirty_bit = AMD_D,
};

/* Intel EPT: an entry is present if any of R/W/X is set; leaves are write-back. */
#define EPT_R     (1ULL << 0)
#define EPT_W     (1ULL << 1)
#define EPT_X     (1ULL << 2)
#define EPT_MT_WB (6ULL << 3)
#define EPT_LARGE (1ULL << 7)
#define EPT_A     (1ULL << 8)
#define EPT_D     (1ULL << 9)

static uint64_t ept_leaf(uint64_t hpa, int level, unsigned perm)
{
	return hpa | ((perm & NPT_R) ? EPT_R : 0) | ((perm & NPT_W) ? EPT_W : 0) |
	       ((perm & NPT_X) ? EPT_X : 0) | EPT_MT_WB | (level ? EPT_LARGE : 0);
}
static uint64_t ept_table(uint64_t hpa)
{
	return hpa | EPT_R | EPT_W | EPT_X;
}
static bool ept_present(uint64_t e)
{
	return e & (EPT_R | EPT_W | EPT_X);
}
static unsigned ept_perm(uint64_t e)
{
	return ((e & EPT_R) ? NPT_R : 0) | ((e & EPT_W) ? NPT_W : 0) | ((e & EPT_X) ? NPT_X : 0);
}
static const struct npt_format ept_fmt = {
    .name = "Intel EPT",
    .leaf = ept_leaf,
    .table = ept_table,
    .present = ept_present,
    .perm = ept_perm,
    .addr_mask = 0x000ffffffffff000ULL,
    .large_bit = EPT_LARGE,
    .dirty_bit = EPT_D,
};

/* What a test needs to know about a format beyond struct npt_format. */
struct fmt_case {
	const struct npt_format *fmt;
	uint64_t accessed_bit;
};
static const struct fmt_case amd_case = {&amd_fmt, AMD_A};
static const struct fmt_case ept_case = {&ept_fmt, EPT_A};

/* ---- fake host physical memory --------------------------------------------------------------- */
#define ARENA_PAGES 1024
#define ARENA_BASE  0x100000ULL /* hpa of the first page (never 0, as the pmm never gives 0) */

static struct {
	uint8_t *mem;
	bool used[ARENA_PAGES];
	int live, allocs, frees, attempts;
	int fail_at;    /* allocation attempt number (1-based) that fails; 0: none */
	bool fail_rest; /* and every one after it */
} arena;

static void arena_reset(int fail_at, bool fail_rest)
{
	if (!arena.mem)
		arena.mem = malloc((size_t)ARENA_PAGES * 4096);
	memset(arena.used, 0, sizeof(arena.used));
	arena.live = arena.allocs = arena.frees = arena.attempts = 0;
	arena.fail_at = fail_at;
	arena.fail_rest = fail_rest;
	memset(arena.mem, 0xdb, (size_t)ARENA_PAGES * 4096); /* not zero: alloc must zero */
}

/* page_of: the arena page of hpa, which must be one handed out and not yet freed. */
static size_t page_of(uint64_t hpa, const char *what)
{
	if (hpa < ARENA_BASE || hpa >= ARENA_BASE + ARENA_PAGES * 4096ULL || hpa % 4096)
		fail_msg("%s of 0x%llx: not a table page", what, (unsigned long long)hpa);
	size_t i = (size_t)((hpa - ARENA_BASE) / 4096);
	if (!arena.used[i])
		fail_msg("%s of 0x%llx: page is free", what, (unsigned long long)hpa);
	return i;
}

static void *fake_alloc(uint64_t *hpa)
{
	arena.attempts++;
	if (arena.fail_at && (arena.attempts == arena.fail_at ||
	                      (arena.fail_rest && arena.attempts > arena.fail_at)))
		return NULL;
	for (size_t i = 0; i < ARENA_PAGES; i++) {
		if (arena.used[i])
			continue;
		arena.used[i] = true;
		arena.live++;
		arena.allocs++;
		memset(arena.mem + i * 4096, 0, 4096);
		*hpa = ARENA_BASE + i * 4096;
		return arena.mem + i * 4096;
	}
	return NULL;
}

static void fake_free(uint64_t hpa)
{
	size_t i = page_of(hpa, "free");
	arena.used[i] = false;
	arena.live--;
	arena.frees++;
	memset(arena.mem + i * 4096, 0xdb, 4096); /* a stale pointer now reads garbage */
}

static void *fake_hva(uint64_t hpa)
{
	return arena.mem + page_of(hpa, "hva") * 4096;
}

static const struct npt_mem_ops fake_mem = {fake_alloc, fake_free, fake_hva};

/* ---- helpers ------------------------------------------------------------------------------ */
static const struct npt_format *F; /* the format of the running test */

static int setup(void **state)
{
	F = ((const struct fmt_case *)*state)->fmt;
	arena_reset(0, false);
	return 0;
}

static void init(struct npt *n)
{
	memset(n, 0xa5, sizeof(*n)); /* npt_init must set every field it relies on */
	assert_true(npt_init(n, F, &fake_mem));
	assert_int_equal(n->table_pages, 1);
	assert_int_equal(arena.live, 1);
	assert_false(spin_held(&n->lock));
}

/* destroy: npt_destroy frees exactly the pages it was given, each once. */
static void destroy(struct npt *n)
{
	npt_destroy(n);
	assert_int_equal(arena.live, 0);
	assert_int_equal(arena.allocs, arena.frees);
	assert_int_equal(n->root, 0);
	assert_int_equal(n->table_pages, 0);
	npt_destroy(n); /* a second destroy frees nothing */
	assert_int_equal(arena.frees, arena.allocs);
}

/* map / lookup wrappers that also check the lock is released. */
static bool map(struct npt *n, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned perm)
{
	bool ok = npt_map(n, gpa, hpa, size, perm);
	assert_false(spin_held(&n->lock));
	return ok;
}

/* expect_mapped: gpa translates to hpa with a leaf of the given level. */
static void expect_mapped(struct npt *n, uint64_t gpa, uint64_t hpa, unsigned level)
{
	uint64_t got = 0;
	unsigned l = 9;
	if (!npt_lookup(n, gpa, &got, &l))
		fail_msg("%s: gpa 0x%llx not mapped", F->name, (unsigned long long)gpa);
	assert_false(spin_held(&n->lock));
	assert_int_equal(got, hpa);
	assert_int_equal(l, level);
}

static void expect_unmapped(struct npt *n, uint64_t gpa)
{
	uint64_t got = 0x1234;
	unsigned l = 9;
	if (npt_lookup(n, gpa, &got, &l))
		fail_msg("%s: gpa 0x%llx mapped to 0x%llx", F->name, (unsigned long long)gpa,
		         (unsigned long long)got);
	assert_false(spin_held(&n->lock));
	assert_int_equal(got, 0x1234); /* untouched */
}

/* entry: the raw entry for gpa at level, walked here independently of npt.c; NULL if a
 * table on the way is missing. Fails if a large leaf sits above level. */
static uint64_t *entry(struct npt *n, uint64_t gpa, int level)
{
	uint64_t *t = fake_hva(n->root);
	for (int l = 3; l > level; l--) {
		uint64_t e = t[(gpa >> (12 + 9 * l)) & 511];
		if (!F->present(e))
			return NULL;
		if (l <= 2 && (e & F->large_bit))
			fail_msg("large leaf above level %d at gpa 0x%llx", level,
			         (unsigned long long)gpa);
		assert_int_equal(e, F->table(e & F->addr_mask)); /* table entries are exact */
		t = fake_hva(e & F->addr_mask);
	}
	return &t[(gpa >> (12 + 9 * level)) & 511];
}

#define MB(x) ((uint64_t)(x) << 20)
#define GB(x) ((uint64_t)(x) << 30)

/* ---- mapping ------------------------------------------------------------------------------ */
static void test_map_2m(void **state)
{
	struct npt n;
	init(&n);
	const uint64_t gpa = GB(1), hpa = GB(8);
	assert_true(map(&n, gpa, hpa, MB(8), NPT_RWX));
	assert_int_equal(n.table_pages, 3); /* PML4, PDPT, PD */
	assert_int_equal(arena.live, 3);
	for (uint64_t off = 0; off < MB(8); off += 0x1ff123)
		expect_mapped(&n, gpa + off, hpa + off, 1);
	expect_mapped(&n, gpa + MB(8) - 1, hpa + MB(8) - 1, 1);
	expect_unmapped(&n, gpa - 1);
	expect_unmapped(&n, gpa + MB(8));
	expect_unmapped(&n, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(*entry(&n, gpa + MB(2) * i, 1),
		                 F->leaf(hpa + MB(2) * i, 1, NPT_RWX));
	destroy(&n);
}

static void test_map_4k(void **state)
{
	struct npt n;
	init(&n);
	assert_true(map(&n, 0x1000, 0x7000, 0x3000, NPT_R | NPT_W));
	assert_int_equal(n.table_pages, 4); /* PML4, PDPT, PD, PT */
	for (int i = 0; i < 3; i++) {
		expect_mapped(&n, 0x1000 + 0x1000 * i + 0x123, 0x7000 + 0x1000 * i + 0x123, 0);
		assert_int_equal(*entry(&n, 0x1000 + 0x1000 * i, 0),
		                 F->leaf(0x7000 + 0x1000 * i, 0, NPT_R | NPT_W));
	}
	expect_unmapped(&n, 0);
	expect_unmapped(&n, 0x4000);
	/* a size that is not a page multiple maps the whole last page */
	assert_true(map(&n, 0x10000, 0x20000, 0x1801, NPT_RWX));
	expect_mapped(&n, 0x11fff, 0x21fff, 0);
	expect_unmapped(&n, 0x12000);
	/* size 0 maps nothing */
	assert_true(map(&n, 0x30000, 0x30000, 0, NPT_RWX));
	expect_unmapped(&n, 0x30000);
	assert_int_equal(n.table_pages, 4);
	destroy(&n);
}

static void test_mixed_alignment(void **state)
{
	struct npt n;
	init(&n);
	/* gpa and hpa misaligned alike: 4 KiB up to the boundary, 2 MiB, then 4 KiB again */
	assert_true(map(&n, 0x1ff000, 0x3001ff000, 0x202000, NPT_RWX));
	expect_mapped(&n, 0x1ff000, 0x3001ff000, 0);
	expect_mapped(&n, 0x200000, 0x300200000, 1);
	expect_mapped(&n, 0x3fffff, 0x3003fffff, 1);
	expect_mapped(&n, 0x400000, 0x300400000, 0);
	expect_unmapped(&n, 0x401000);
	expect_unmapped(&n, 0x1fe000);
	/* gpa aligned, hpa not: every page is 4 KiB */
	assert_true(map(&n, MB(6), GB(12) + 0x1000, MB(2), NPT_RWX));
	for (uint64_t off = 0; off < MB(2); off += 0x1000)
		expect_mapped(&n, MB(6) + off, GB(12) + 0x1000 + off, 0);
	/* hpa aligned, gpa not */
	assert_true(map(&n, MB(10) + 0x1000, GB(14), MB(2), NPT_RWX));
	expect_mapped(&n, MB(10) + 0x1000, GB(14), 0);
	expect_mapped(&n, MB(12), GB(14) + MB(2) - 0x1000, 0);
	/* both aligned but shorter than 2 MiB */
	assert_true(map(&n, MB(16), GB(16), MB(2) - 0x1000, NPT_RWX));
	expect_mapped(&n, MB(16), GB(16), 0);
	expect_unmapped(&n, MB(18) - 0x1000);
	/* 2 MiB + 4 KiB from an aligned start */
	assert_true(map(&n, MB(20), GB(18), MB(2) + 0x1000, NPT_RWX));
	expect_mapped(&n, MB(20), GB(18), 1);
	expect_mapped(&n, MB(22), GB(18) + MB(2), 0);
	destroy(&n);
}

/* test_perms: each permission set is encoded as the format says and decodes back. */
static void test_perms(void **state)
{
	struct npt n;
	init(&n);
	const unsigned perms[] = {NPT_R, NPT_R | NPT_W, NPT_R | NPT_X, NPT_RWX};
	for (int i = 0; i < 4; i++) {
		uint64_t gpa = MB(2) * i;
		assert_true(map(&n, gpa, GB(1) + gpa, MB(2), perms[i]));
		assert_true(map(&n, GB(1) + 0x1000 * i, 0x1000 * i, 0x1000, perms[i]));
		uint64_t big = *entry(&n, gpa, 1), small = *entry(&n, GB(1) + 0x1000 * i, 0);
		assert_int_equal(big, F->leaf(GB(1) + gpa, 1, perms[i]));
		assert_int_equal(small, F->leaf(0x1000 * i, 0, perms[i]));
		assert_int_equal(F->perm(big), perms[i]);
		assert_int_equal(F->perm(small), perms[i]);
		assert_true(big & F->large_bit);
		assert_false(small & F->large_bit);
	}
	destroy(&n);
}

static void test_unmap(void **state)
{
	struct npt n;
	init(&n);
	assert_true(map(&n, 0, GB(2), MB(6), NPT_RWX));       /* three 2 MiB pages */
	assert_true(map(&n, MB(8), GB(3), 0x10000, NPT_RWX)); /* sixteen 4 KiB pages */
	uint64_t tables = n.table_pages;
	npt_unmap(&n, 0, MB(2));
	assert_false(spin_held(&n.lock));
	expect_unmapped(&n, 0);
	expect_unmapped(&n, MB(2) - 1);
	expect_mapped(&n, MB(2), GB(2) + MB(2), 1);
	/* part of a 2 MiB page: the whole leaf goes */
	npt_unmap(&n, MB(2) + 0x5000, 0x1000);
	expect_unmapped(&n, MB(2));
	expect_unmapped(&n, MB(4) - 1);
	expect_mapped(&n, MB(4), GB(2) + MB(4), 1);
	/* 4 KiB pages: exactly those in the range */
	npt_unmap(&n, MB(8) + 0x3000, 0x2000);
	expect_mapped(&n, MB(8) + 0x2000, GB(3) + 0x2000, 0);
	expect_unmapped(&n, MB(8) + 0x3000);
	expect_unmapped(&n, MB(8) + 0x4fff);
	expect_mapped(&n, MB(8) + 0x5000, GB(3) + 0x5000, 0);
	/* an unaligned start and length cover every page they touch */
	npt_unmap(&n, MB(8) + 0x6fff, 2);
	expect_unmapped(&n, MB(8) + 0x6000);
	expect_unmapped(&n, MB(8) + 0x7000);
	expect_mapped(&n, MB(8) + 0x8000, GB(3) + 0x8000, 0);
	/* ranges with nothing mapped, or no tables at all */
	npt_unmap(&n, GB(64), GB(1));
	npt_unmap(&n, MB(8) + 0x100000, MB(1));
	npt_unmap(&n, 0, 0);
	/* unmapping frees no tables; mapping again reuses them */
	assert_int_equal(n.table_pages, tables);
	int allocs = arena.allocs;
	assert_true(map(&n, 0, GB(2), MB(4), NPT_RWX));
	assert_true(map(&n, MB(8) + 0x3000, GB(3) + 0x3000, 0x2000, NPT_RWX));
	assert_int_equal(arena.allocs, allocs);
	expect_mapped(&n, MB(8) + 0x3000, GB(3) + 0x3000, 0);
	destroy(&n);
}

/* test_limits: the tables index 48 bits; nothing above may map or alias a lower address. */
static void test_limits(void **state)
{
	struct npt n;
	init(&n);
	assert_true(map(&n, 0, GB(1), MB(2), NPT_RWX));
	expect_unmapped(&n, NPT_GPA_LIMIT); /* would index like gpa 0 */
	expect_unmapped(&n, NPT_GPA_LIMIT + 0x1000);
	expect_unmapped(&n, UINT64_MAX);
	int allocs = arena.allocs;
	assert_false(map(&n, NPT_GPA_LIMIT, GB(1), MB(2), NPT_RWX));
	assert_false(map(&n, NPT_GPA_LIMIT - MB(2), GB(1), MB(4), NPT_RWX));
	assert_false(map(&n, UINT64_MAX - 0xfff, 0, 0x1000, NPT_RWX));
	assert_false(map(&n, 0x1000, 0, UINT64_MAX, NPT_RWX)); /* gpa + size wraps */
	assert_int_equal(arena.allocs, allocs);
	expect_mapped(&n, 0, GB(1), 1);
	/* the very top of the space works */
	assert_true(map(&n, NPT_GPA_LIMIT - MB(2), GB(1), MB(2), NPT_RWX));
	expect_mapped(&n, NPT_GPA_LIMIT - 1, GB(1) + MB(2) - 1, 1);
	assert_true(map(&n, NPT_GPA_LIMIT - MB(4), GB(5) + 0x1000, 0x2000, NPT_RWX));
	expect_mapped(&n, NPT_GPA_LIMIT - MB(4) + 0x1000, GB(5) + 0x2000, 0);
	/* unmap clamps at the limit and leaves low addresses alone */
	npt_unmap(&n, NPT_GPA_LIMIT - MB(2), UINT64_MAX);
	expect_unmapped(&n, NPT_GPA_LIMIT - MB(2));
	npt_unmap(&n, NPT_GPA_LIMIT, MB(2));
	expect_mapped(&n, 0, GB(1), 1);
	destroy(&n);
}

/* test_remap_large: a 2 MiB page where 4 KiB ones were frees their table; a 4 KiB page
 * inside a 2 MiB one is refused. */
static void test_remap_large(void **state)
{
	struct npt n;
	init(&n);
	assert_true(map(&n, 0, GB(1) + 0x1000, MB(2), NPT_RWX)); /* hpa misaligned: 4 KiB */
	expect_mapped(&n, 0, GB(1) + 0x1000, 0);
	assert_int_equal(n.table_pages, 4);
	assert_int_equal(arena.live, 4);
	assert_true(map(&n, 0, GB(2), MB(2), NPT_RWX));
	expect_mapped(&n, 0x1234, GB(2) + 0x1234, 1);
	assert_int_equal(n.table_pages, 3);
	assert_int_equal(arena.live, 3);
	/* 4 KiB inside the 2 MiB page: refused, the large page stays */
	assert_false(map(&n, 0x5000, GB(3), 0x1000, NPT_RWX));
	expect_mapped(&n, 0x5000, GB(2) + 0x5000, 1);
	destroy(&n);
}

/* test_destroy_everywhere: tables spread over many PML4/PDPT/PD slots are all freed. */
static void test_destroy_everywhere(void **state)
{
	struct npt n;
	init(&n);
	const uint64_t gpas[] = {0,
	                         MB(2) * 511,
	                         GB(1),
	                         GB(511),
	                         GB(512),
	                         GB(512) * 3 + 0x7000,
	                         NPT_GPA_LIMIT - MB(8),
	                         NPT_GPA_LIMIT / 2 + 0x1000};
	for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++) {
		assert_true(map(&n, gpas[i], GB(1), MB(2), NPT_RWX));
		assert_true(map(&n, gpas[i] + MB(2) * 3 + 0x3000, 0x5000, 0x3000, NPT_RWX));
	}
	assert_int_equal(n.table_pages, (uint64_t)arena.live);
	assert_true(arena.live > 20);
	destroy(&n);
}

/* test_out_of_memory: fail each allocation in turn; whatever was built is freed. */
static void test_out_of_memory(void **state)
{
	for (int k = 1; k <= 12; k++) {
		for (int rest = 0; rest < 2; rest++) {
			arena_reset(k, rest);
			struct npt n;
			memset(&n, 0xa5, sizeof(n));
			if (!npt_init(&n, F, &fake_mem)) {
				assert_int_equal(k, 1);
				assert_int_equal(n.root, 0);
				npt_destroy(&n);
				assert_int_equal(arena.live, 0);
				continue;
			}
			bool a = map(&n, 0, GB(1), MB(4), NPT_RWX);
			bool b = map(&n, GB(600), 0x3000, 0x3000, NPT_RWX);
			bool c = map(&n, GB(1) + 0x1000, 0x3000, 0x2000, NPT_RWX);
			/* the k-th allocation failed: at least one map reported it */
			assert_true(!a || !b || !c || arena.attempts < k);
			if (a)
				expect_mapped(&n, MB(3), GB(1) + MB(3), 1);
			if (b)
				expect_mapped(&n, GB(600) + 0x2000, 0x5000, 0);
			assert_int_equal(n.table_pages, (uint64_t)arena.live);
			destroy(&n);
		}
	}
}

/* ---- dirty logging ------------------------------------------------------------------------ */
/* The guest: 8 MiB of RAM with the hole at 4 MiB, so two slots: [0, 4 MiB) holds RAM pages
 * 0..1023 and [4 GiB, 4 GiB + 4 MiB) pages 1024..2047. Each 2 MiB chunk has its own host
 * address and permissions; a device window and an APIC-like page lie outside RAM. */
#define RAM_SIZE MB(8)
#define HOLE     MB(4)
#define DEV_GPA  0xc0000000ULL /* a 2 MiB page outside RAM */
#define APIC_GPA 0xfee00000ULL /* 4 KiB pages outside RAM */
static const uint64_t chunk_gpa[4] = {0, MB(2), GB(4), GB(4) + MB(2)};
static const uint64_t chunk_hpa[4] = {GB(20) + MB(6), GB(20), GB(21) + MB(4), GB(20) + MB(2)};
static const unsigned chunk_perm[4] = {NPT_RWX, NPT_R | NPT_X, NPT_R | NPT_W, NPT_R};

static void layout(struct gmem *m)
{
	memset(m, 0, sizeof(*m));
	assert_true(gmem_layout(m, RAM_SIZE, HOLE));
	assert_int_equal(m->nslots, 2);
	assert_int_equal(m->npages, 2048);
}

/* map_guest: RAM as vm.c maps it (2 MiB chunks), plus the pages outside RAM. */
static void map_guest(struct npt *n)
{
	for (int c = 0; c < 4; c++)
		assert_true(map(n, chunk_gpa[c], chunk_hpa[c], MB(2), chunk_perm[c]));
	assert_true(map(n, DEV_GPA, GB(30), MB(2), NPT_R | NPT_W));
	assert_true(map(n, APIC_GPA, GB(31), 0x2000, NPT_R | NPT_W));
}

/* page_gpa: the guest-physical address of RAM page p (checked against gmem). */
static uint64_t page_gpa(const struct gmem *m, uint64_t p)
{
	uint64_t gpa, back;
	assert_true(gmem_index_to_gpa(m, p, &gpa));
	assert_true(gmem_page_index(m, gpa, &back));
	assert_int_equal(back, p);
	return gpa;
}

/* check_split: every RAM page is a 4 KiB leaf with its chunk's address and permissions and
 * nothing else set (no dirty or accessed bit). */
static void check_split(struct npt *n, const struct gmem *m)
{
	for (uint64_t p = 0; p < m->npages; p++) {
		uint64_t gpa = page_gpa(m, p);
		int c = (int)(p / 512);
		uint64_t *e = entry(n, gpa, 0);
		assert_non_null(e);
		uint64_t want = F->leaf(chunk_hpa[c] + (p % 512) * 4096, 0, chunk_perm[c]);
		if (*e != want)
			fail_msg("%s: page %llu: entry 0x%llx, want 0x%llx", F->name,
			         (unsigned long long)p, (unsigned long long)*e,
			         (unsigned long long)want);
		assert_int_equal(F->perm(*e), chunk_perm[c]);
	}
}

static void test_dirty_start(void **state)
{
	const uint64_t A = ((const struct fmt_case *)*state)->accessed_bit;
	struct npt n;
	struct gmem m;
	layout(&m);
	init(&n);
	map_guest(&n);
	/* the CPU has been at work: accessed/dirty bits on the large pages and outside RAM */
	for (int c = 0; c < 4; c++)
		*entry(&n, chunk_gpa[c], 1) |= F->dirty_bit | A;
	*entry(&n, DEV_GPA, 1) |= F->dirty_bit;
	*entry(&n, APIC_GPA, 0) |= F->dirty_bit;
	uint64_t dev = *entry(&n, DEV_GPA, 1), apic = *entry(&n, APIC_GPA, 0);
	uint64_t tables = n.table_pages;
	assert_true(npt_dirty_log_start(&n, &m));
	assert_false(spin_held(&n.lock));
	assert_true(n.logging);
	assert_int_equal(n.table_pages, tables + 4); /* one page table per RAM chunk */
	assert_int_equal(arena.live, (int)n.table_pages);
	for (int c = 0; c < 4; c++) {
		uint64_t pde = *entry(&n, chunk_gpa[c], 1);
		assert_true(F->present(pde));
		assert_false(pde & F->large_bit);
	}
	check_split(&n, &m);
	for (uint64_t p = 0; p < m.npages; p += 77)
		expect_mapped(&n, page_gpa(&m, p) + 0x321,
		              chunk_hpa[p / 512] + (p % 512) * 4096 + 0x321, 0);
	/* outside RAM nothing changed: not split, dirty bits left alone */
	assert_int_equal(*entry(&n, DEV_GPA, 1), dev);
	assert_int_equal(*entry(&n, APIC_GPA, 0), apic);
	/* while logging, new mappings are 4 KiB even where 2 MiB would fit */
	assert_true(map(&n, GB(8), GB(9), MB(2), NPT_RWX));
	expect_mapped(&n, GB(8), GB(9), 0);
	/* starting again splits nothing more and clears dirty bits set since */
	*entry(&n, chunk_gpa[2] + 0x5000, 0) |= F->dirty_bit;
	tables = n.table_pages;
	assert_true(npt_dirty_log_start(&n, &m));
	assert_int_equal(n.table_pages, tables);
	check_split(&n, &m);
	/* stopping: 4 KiB mappings stay, new ones may be 2 MiB again */
	npt_dirty_log_stop(&n, &m);
	assert_false(spin_held(&n.lock));
	assert_false(n.logging);
	check_split(&n, &m);
	assert_true(map(&n, GB(10), GB(11), MB(2), NPT_RWX));
	expect_mapped(&n, GB(10), GB(11), 1);
	destroy(&n);
}

/* set_dirty: the CPU writes RAM page p. */
static void set_dirty(struct npt *n, const struct gmem *m, uint64_t p)
{
	*entry(n, page_gpa(m, p), 0) |= F->dirty_bit;
}

/* logging_guest: RAM mapped as vm.c maps it, with dirty logging started. */
static void logging_guest(struct npt *n, struct gmem *m)
{
	layout(m);
	init(n);
	map_guest(n);
	assert_true(npt_dirty_log_start(n, m));
}

static void test_dirty_harvest(void **state)
{
	const uint64_t A = ((const struct fmt_case *)*state)->accessed_bit;
	struct npt n;
	struct gmem m;
	logging_guest(&n, &m);
	uint64_t *bm = calloc(BITMAP_WORDS(m.npages), 8);
	uint64_t *want = calloc(BITMAP_WORDS(m.npages), 8);
	/* nothing written yet */
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), 0);
	assert_false(spin_held(&n.lock));
	assert_int_equal(bitmap_count(bm, m.npages), 0);
	/* chunk and slot edges, both slots, and a few in between */
	const uint64_t pages[] = {0, 1, 511, 512, 777, 1023, 1024, 1025, 1535, 1536, 2000, 2047};
	const size_t np = sizeof(pages) / sizeof(pages[0]);
	for (size_t i = 0; i < np; i++) {
		set_dirty(&n, &m, pages[i]);
		bitmap_set(want, pages[i]);
	}
	*entry(&n, page_gpa(&m, 3), 0) |= A; /* read, not written: not dirty */
	/* writes outside RAM are not RAM pages: ignored and left alone */
	*entry(&n, APIC_GPA, 0) |= F->dirty_bit;
	*entry(&n, APIC_GPA + 0x1000, 0) |= F->dirty_bit;
	*entry(&n, DEV_GPA, 1) |= F->dirty_bit;
	/* the bitmap is ORed into, not overwritten */
	bitmap_set(bm, 300);
	bitmap_set(want, 300);
	uint64_t tables = n.table_pages;
	int allocs = arena.allocs;
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), np);
	assert_memory_equal(bm, want, BITMAP_WORDS(m.npages) * 8);
	/* the dirty bits are clear again; the accessed bit and the rest are untouched */
	assert_true(*entry(&n, page_gpa(&m, 3), 0) & A);
	*entry(&n, page_gpa(&m, 3), 0) &= ~A;
	check_split(&n, &m);
	assert_true(*entry(&n, APIC_GPA, 0) & F->dirty_bit);
	assert_true(*entry(&n, APIC_GPA + 0x1000, 0) & F->dirty_bit);
	assert_true(*entry(&n, DEV_GPA, 1) & F->dirty_bit);
	/* a second harvest finds nothing new */
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), 0);
	assert_memory_equal(bm, want, BITMAP_WORDS(m.npages) * 8);
	/* new writes, including to a page harvested before: only they are reported */
	memset(bm, 0, BITMAP_WORDS(m.npages) * 8);
	memset(want, 0, BITMAP_WORDS(m.npages) * 8);
	const uint64_t again[] = {511, 1024, 1999};
	for (size_t i = 0; i < 3; i++) {
		set_dirty(&n, &m, again[i]);
		bitmap_set(want, again[i]);
	}
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), 3);
	assert_memory_equal(bm, want, BITMAP_WORDS(m.npages) * 8);
	/* every page at once */
	memset(bm, 0, BITMAP_WORDS(m.npages) * 8);
	for (uint64_t p = 0; p < m.npages; p++)
		set_dirty(&n, &m, p);
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), m.npages);
	assert_int_equal(bitmap_count(bm, m.npages), m.npages);
	assert_int_equal(bm[BITMAP_WORDS(m.npages) - 1], UINT64_MAX); /* 2048: no spare bits */
	check_split(&n, &m);
	/* harvesting allocates nothing */
	assert_int_equal(n.table_pages, tables);
	assert_int_equal(arena.allocs, allocs);
	free(bm);
	free(want);
	destroy(&n);
}

/* test_dirty_not_logging: with RAM in 2 MiB pages there is nothing to harvest. */
static void test_dirty_not_logging(void **state)
{
	struct npt n;
	struct gmem m;
	layout(&m);
	init(&n);
	map_guest(&n);
	for (int c = 0; c < 4; c++)
		*entry(&n, chunk_gpa[c], 1) |= F->dirty_bit;
	uint64_t *bm = calloc(BITMAP_WORDS(m.npages), 8);
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), 0);
	assert_int_equal(bitmap_count(bm, m.npages), 0);
	free(bm);
	destroy(&n);
}

/* test_dirty_peek: a peek reports the written pages of a range (chunk and slot edges, the
 * range's own first and last page), relative to its first page, and clears nothing: the next
 * harvest still finds every one. Pages without a 4 KiB entry (unmapped RAM) are not dirty. */
static void test_dirty_peek(void **state)
{
	(void)state;
	struct npt n;
	struct gmem m;
	logging_guest(&n, &m);
	uint64_t out[BITMAP_WORDS(512)], bm[BITMAP_WORDS(2048)];
	memset(out, 0, sizeof(out));
	assert_int_equal(npt_dirty_peek(&n, &m, 0, 512, out), 0);
	const uint64_t pages[] = {1000, 1023, 1024, 1025, 1511};
	for (size_t i = 0; i < 5; i++)
		set_dirty(&n, &m, pages[i]);
	assert_int_equal(npt_dirty_peek(&n, &m, 1000, 512, out), 5);
	for (uint32_t i = 0; i < 512; i++) {
		bool want = false;
		for (size_t k = 0; k < 5; k++)
			want |= pages[k] == 1000 + i;
		assert_int_equal(bitmap_test(out, i), want);
	}
	assert_false(spin_held(&n.lock));
	/* a range that ends before the last dirty page does not see it */
	memset(out, 0, sizeof(out));
	assert_int_equal(npt_dirty_peek(&n, &m, 1001, 24, out), 2); /* 1023, 1024 */
	assert_true(bitmap_test(out, 22) && bitmap_test(out, 23));
	/* nothing was cleared */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), 5);
	memset(out, 0, sizeof(out));
	assert_int_equal(npt_dirty_peek(&n, &m, 1000, 512, out), 0);
	/* the range stops at the end of RAM */
	set_dirty(&n, &m, m.npages - 1);
	memset(out, 0, sizeof(out));
	assert_int_equal(npt_dirty_peek(&n, &m, m.npages - 1, 1, out), 1);
	destroy(&n);
}

/* test_dirty_unmapped_ram: RAM without mappings (slot 1 here, and a chunk unmapped in slot 0)
 * is skipped: no tables are created for it, by start or by harvest. */
static void test_dirty_unmapped_ram(void **state)
{
	struct npt n;
	struct gmem m;
	layout(&m);
	init(&n);
	assert_true(map(&n, chunk_gpa[0], chunk_hpa[0], MB(2), chunk_perm[0]));
	assert_true(map(&n, chunk_gpa[1], chunk_hpa[1], MB(2), chunk_perm[1]));
	npt_unmap(&n, chunk_gpa[1], MB(2));
	uint64_t tables = n.table_pages;
	int allocs = arena.allocs;
	assert_true(npt_dirty_log_start(&n, &m));
	assert_int_equal(n.table_pages, tables + 1); /* chunk 0's page table only */
	assert_int_equal(arena.allocs, allocs + 1);
	assert_null(entry(&n, GB(4), 1)); /* no tables for slot 1 */
	uint64_t *bm = calloc(BITMAP_WORDS(m.npages), 8);
	set_dirty(&n, &m, 5);
	assert_int_equal(npt_dirty_harvest(&n, &m, bm), 1);
	assert_true(bitmap_test(bm, 5));
	assert_int_equal(arena.allocs, allocs + 1);
	free(bm);
	destroy(&n);
}

/* test_dirty_out_of_memory: a split that cannot get a page fails the start cleanly; chunks
 * split before it are complete, the rest still 2 MiB, and everything is freed later. */
static void test_dirty_out_of_memory(void **state)
{
	for (int k = 0; k < 4; k++) {
		arena_reset(0, false);
		struct npt n;
		struct gmem m;
		layout(&m);
		init(&n);
		map_guest(&n);
		arena.fail_at = arena.attempts + k + 1; /* the (k+1)-th split fails */
		assert_false(npt_dirty_log_start(&n, &m));
		assert_false(spin_held(&n.lock));
		for (int c = 0; c < 4; c++) {
			uint64_t pde = *entry(&n, chunk_gpa[c], 1);
			assert_int_equal(!(pde & F->large_bit), c < k);
			if (c < k)
				expect_mapped(&n, chunk_gpa[c] + 0x3000, chunk_hpa[c] + 0x3000, 0);
			else
				expect_mapped(&n, chunk_gpa[c] + 0x3000, chunk_hpa[c] + 0x3000, 1);
		}
		assert_int_equal(n.table_pages, (uint64_t)arena.live);
		destroy(&n);
	}
}

#define BOTH(f)                                                                                    \
	cmocka_unit_test_prestate_setup_teardown(f, setup, NULL, (void *)&amd_case),               \
	    cmocka_unit_test_prestate_setup_teardown(f, setup, NULL, (void *)&ept_case)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_map_2m),
	    BOTH(test_map_4k),
	    BOTH(test_mixed_alignment),
	    BOTH(test_perms),
	    BOTH(test_unmap),
	    BOTH(test_limits),
	    BOTH(test_remap_large),
	    BOTH(test_destroy_everywhere),
	    BOTH(test_out_of_memory),
	    BOTH(test_dirty_start),
	    BOTH(test_dirty_harvest),
	    BOTH(test_dirty_not_logging),
	    BOTH(test_dirty_peek),
	    BOTH(test_dirty_unmapped_ram),
	    BOTH(test_dirty_out_of_memory),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(arena.mem);
	return rc;
}
