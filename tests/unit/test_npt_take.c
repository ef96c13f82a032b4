/*
 * Unit tests for npt_dirty_take (vmm/npt.c), the harvest used with hardware dirty logging
 * (Intel PML, vmm/vmx): the pages in the log move into the caller's bitmap (OR), the log is
 * emptied, and exactly those pages get their EPT dirty bit cleared (so the CPU logs the next
 * write to each again), on 4 KiB leaves after the dirty-logging split and on a 2 MiB leaf
 * that was never split. Pages whose dirty bit is set but that are not in the log keep it.
 * Also the write-protect mode (npt_dirty_write_fault) used where EPT has no A/D bits.
 * Entry format: Intel EPT (SDM 3C 29.3.2), as in vmm/vmx/ept.c.
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

#define EPT_R     (1ULL << 0)
#define EPT_W     (1ULL << 1)
#define EPT_X     (1ULL << 2)
#define EPT_MT_WB (6ULL << 3)
#define EPT_LARGE (1ULL << 7)
#define EPT_D     (1ULL << 9)
#define MB(x)     ((uint64_t)(x) << 20)
#define GB(x)     ((uint64_t)(x) << 30)

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
static const struct npt_format ept = {
    .name = "EPT",
    .leaf = ept_leaf,
    .table = ept_table,
    .present = ept_present,
    .perm = ept_perm,
    .addr_mask = 0x000ffffffffff000ULL,
    .large_bit = EPT_LARGE,
    .dirty_bit = EPT_D,
};

/* Table pages: a plain array; hpa = ARENA_BASE + index * 4 KiB. */
#define ARENA_PAGES 64
#define ARENA_BASE  0x100000ULL
static uint8_t *g_arena;
static int g_used;

static void *arena_alloc(uint64_t *hpa)
{
	if (g_used == ARENA_PAGES)
		return NULL;
	*hpa = ARENA_BASE + (uint64_t)g_used * 4096;
	return memset(g_arena + (size_t)g_used++ * 4096, 0, 4096);
}
static void arena_free(uint64_t hpa)
{
	(void)hpa;
}
static void *arena_hva(uint64_t hpa)
{
	return g_arena + (hpa - ARENA_BASE);
}
static const struct npt_mem_ops arena = {arena_alloc, arena_free, arena_hva};

/* The guest: 8 MiB of RAM, hole at 4 MiB: pages 0..1023 at 0, 1024..2047 at 4 GiB. */
static const uint64_t chunk_gpa[4] = {0, MB(2), GB(4), GB(4) + MB(2)};

static void guest(struct npt *n, struct gmem *m)
{
	memset(m, 0, sizeof(*m));
	assert_true(gmem_layout(m, MB(8), MB(4)));
	assert_int_equal(m->npages, 2048);
	g_used = 0;
	assert_true(npt_init(n, &ept, &arena));
	for (int c = 0; c < 4; c++)
		assert_true(npt_map(n, chunk_gpa[c], GB(20) + MB(2) * (uint64_t)c, MB(2), NPT_RWX));
}

/* leaf: the entry mapping RAM page p (4 KiB after a split, else the 2 MiB one). */
static uint64_t *leaf(struct npt *n, const struct gmem *m, uint64_t p)
{
	uint64_t gpa;
	assert_true(gmem_index_to_gpa(m, p, &gpa));
	uint64_t *t = arena_hva(n->root);
	for (int l = 3; l > 0; l--) {
		uint64_t e = t[(gpa >> (12 + 9 * l)) & 511];
		assert_true(ept_present(e));
		if (e & EPT_LARGE)
			return &t[(gpa >> (12 + 9 * l)) & 511];
		t = arena_hva(e & ept.addr_mask);
	}
	return &t[(gpa >> 12) & 511];
}

static void test_take_after_split(void **state)
{
	(void)state;
	struct npt n;
	struct gmem m;
	guest(&n, &m);
	assert_true(npt_dirty_log_start(&n, &m));
	static const uint64_t logged[] = {0, 5, 511, 1024, 2047};
	uint64_t log[BITMAP_WORDS(2048)] = {0}, out[BITMAP_WORDS(2048)] = {0};
	for (size_t i = 0; i < 5; i++) {
		*leaf(&n, &m, logged[i]) |= EPT_D; /* the CPU wrote it and logged it */
		bitmap_set(log, logged[i]);
	}
	*leaf(&n, &m, 7) |= EPT_D; /* written, its log entry not drained yet */
	bitmap_set(log, 100);      /* Tern wrote it (software log): no dirty bit */
	bitmap_set(out, 1500);     /* the caller's bitmap is ORed into */
	uint64_t before7 = *leaf(&n, &m, 7), before9 = *leaf(&n, &m, 9);

	assert_int_equal(npt_dirty_take(&n, &m, log, out), 6);
	assert_false(spin_held(&n.lock));
	assert_int_equal(bitmap_count(log, 2048), 0);
	assert_int_equal(bitmap_count(out, 2048), 7);
	for (size_t i = 0; i < 5; i++) {
		assert_true(bitmap_test(out, logged[i]));
		uint64_t e = *leaf(&n, &m, logged[i]);
		assert_false(e & EPT_D);
		assert_int_equal(ept_perm(e), NPT_RWX); /* nothing else changed */
		assert_false(e & EPT_LARGE);
	}
	assert_true(bitmap_test(out, 100) && bitmap_test(out, 1500));
	assert_int_equal(*leaf(&n, &m, 7), before7); /* still dirty: logged later */
	assert_int_equal(*leaf(&n, &m, 9), before9);

	/* an empty log moves nothing */
	assert_int_equal(npt_dirty_take(&n, &m, log, out), 0);
	assert_int_equal(bitmap_count(out, 2048), 7);
	npt_destroy(&n);
}

static void test_take_on_large_page(void **state)
{
	(void)state;
	struct npt n;
	struct gmem m;
	guest(&n, &m);
	uint64_t *big = leaf(&n, &m, 600); /* chunk 1, still a 2 MiB page */
	assert_true(*big & EPT_LARGE);
	*big |= EPT_D;
	uint64_t log[BITMAP_WORDS(2048)] = {0}, out[BITMAP_WORDS(2048)] = {0};
	bitmap_set(log, 600);
	assert_int_equal(npt_dirty_take(&n, &m, log, out), 1);
	assert_false(*big & EPT_D);
	assert_true(*big & EPT_LARGE);
	assert_true(bitmap_test(out, 600));
	npt_destroy(&n);
}

/* Write-protect logging (EPT without A/D bits): start write-protects every RAM page; a write
 * fault logs its page and makes it writable; take write-protects exactly the logged pages
 * again; stop makes all RAM writable. */
static void test_write_protect(void **state)
{
	(void)state;
	struct npt n;
	struct gmem m;
	guest(&n, &m);
	n.wp_log = true;
	assert_true(npt_dirty_log_start(&n, &m));
	for (uint64_t p = 0; p < 2048; p += 89) {
		assert_int_equal(ept_perm(*leaf(&n, &m, p)), NPT_R | NPT_X);
		assert_false(*leaf(&n, &m, p) & EPT_LARGE);
	}
	uint64_t log[BITMAP_WORDS(2048)] = {0}, out[BITMAP_WORDS(2048)] = {0};
	uint64_t gpa;
	assert_true(gmem_index_to_gpa(&m, 1030, &gpa));
	assert_true(npt_dirty_write_fault(&n, &m, gpa + 0x123, log));
	assert_false(spin_held(&n.lock));
	assert_true(bitmap_test(log, 1030));
	assert_int_equal(bitmap_count(log, 2048), 1);
	assert_int_equal(ept_perm(*leaf(&n, &m, 1030)), NPT_RWX);
	assert_int_equal(ept_perm(*leaf(&n, &m, 1031)), NPT_R | NPT_X);
	/* the same fault again (a stale translation): retried, nothing new logged */
	assert_true(npt_dirty_write_fault(&n, &m, gpa, log));
	assert_int_equal(bitmap_count(log, 2048), 1);
	/* nothing mapped there: the tables do not explain it */
	assert_false(npt_dirty_write_fault(&n, &m, MB(5), log));
	assert_false(npt_dirty_write_fault(&n, &m, 1ULL << 48, log));

	assert_int_equal(npt_dirty_take(&n, &m, log, out), 1);
	assert_true(bitmap_test(out, 1030));
	assert_int_equal(bitmap_count(log, 2048), 0);
	uint64_t e = *leaf(&n, &m, 1030);
	assert_int_equal(ept_perm(e), NPT_R | NPT_X); /* the next write faults again */
	assert_int_equal(e & ept.addr_mask, GB(20) + MB(4) + 6 * 4096);
	assert_int_equal(e & (7ULL << 3), EPT_MT_WB);

	npt_dirty_log_stop(&n, &m);
	assert_false(n.wp_log);
	for (uint64_t p = 0; p < 2048; p += 89)
		assert_int_equal(ept_perm(*leaf(&n, &m, p)), NPT_RWX);
	assert_true(npt_dirty_write_fault(&n, &m, gpa, log)); /* stale: retried */
	assert_int_equal(bitmap_count(log, 2048), 0);
	npt_destroy(&n);
}

/* Without wp_log a read-only page is not dirty logging's: the fault is not explained. */
static void test_write_fault_without_logging(void **state)
{
	(void)state;
	struct npt n;
	struct gmem m;
	guest(&n, &m);
	assert_true(npt_dirty_log_start(&n, &m)); /* dirty-bit logging: pages stay writable */
	uint64_t log[BITMAP_WORDS(2048)] = {0};
	*leaf(&n, &m, 3) &= ~EPT_W;
	assert_false(npt_dirty_write_fault(&n, &m, 3 * 4096, log));
	assert_int_equal(bitmap_count(log, 2048), 0);
	npt_destroy(&n);
}

int main(void)
{
	g_arena = malloc((size_t)ARENA_PAGES * 4096);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_take_after_split),
	    cmocka_unit_test(test_take_on_large_page),
	    cmocka_unit_test(test_write_protect),
	    cmocka_unit_test(test_write_fault_without_logging),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(g_arena);
	return rc;
}
