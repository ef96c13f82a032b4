/* Unit tests for kernel/bitmap.c and vmm/gmem.c (layout, bounds, chunk splitting, dirty log,
 * page index round trips, zero-length and wrapping ranges). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/bitmap.h"
#include "vmm/gmem.h"

static void test_bitmap_basic(void **state)
{
	uint64_t map[4] = {0}, out[4] = {0};
	bitmap_set_range(map, 3, 130);
	assert_int_equal(bitmap_count(map, 256), 130);
	assert_false(bitmap_test(map, 2));
	assert_true(bitmap_test(map, 3));
	assert_true(bitmap_test(map, 132));
	assert_false(bitmap_test(map, 133));
	assert_int_equal(bitmap_next_set(map, 256, 0), 3);
	assert_int_equal(bitmap_next_set(map, 256, 133), 256);
	assert_int_equal(bitmap_fetch_clear(map, out, 256), 130);
	assert_int_equal(bitmap_count(map, 256), 0);
	assert_int_equal(bitmap_count(out, 256), 130);
	assert_int_equal(bitmap_count(out, 100), 97);
}

/* make_gmem: ram bytes with hole at hole, chunks from malloc. */
static struct gmem *make_gmem(uint64_t ram, uint64_t hole)
{
	struct gmem *m = calloc(1, sizeof(*m));
	assert_true(gmem_layout(m, ram, hole));
	m->chunk_hva = calloc(m->nchunks, sizeof(uint8_t *));
	for (uint64_t i = 0; i < m->nchunks; i++)
		m->chunk_hva[i] = calloc(1, GMEM_CHUNK_SIZE);
	return m;
}

static void free_gmem(struct gmem *m)
{
	for (uint64_t i = 0; i < m->nchunks; i++)
		free(m->chunk_hva[i]);
	free(m->chunk_hva);
	free(m->dirty);
	free(m);
}

static void test_gmem_layout(void **state)
{
	struct gmem m;
	assert_false(gmem_layout(&m, 0, 1ULL << 30));
	assert_false(gmem_layout(&m, 3 << 20, 1ULL << 30)); /* not chunk aligned */
	assert_true(gmem_layout(&m, 8 << 20, 4 << 20));
	assert_int_equal(m.nslots, 2);
	assert_int_equal(m.slot[1].gpa, 4ULL << 30);
	assert_int_equal(m.slot[1].size, 4 << 20);
	uint64_t idx, gpa;
	assert_true(gmem_page_index(&m, (4ULL << 30) + 4096, &idx));
	assert_int_equal(idx, 1025);
	assert_true(gmem_index_to_gpa(&m, 1025, &gpa));
	assert_int_equal(gpa, (4ULL << 30) + 4096);
	assert_false(gmem_page_index(&m, 5 << 20, &idx)); /* in the hole */
	assert_false(gmem_index_to_gpa(&m, 2048, &gpa));
}

static void test_gmem_access(void **state)
{
	struct gmem *m = make_gmem(8 << 20, 4 << 20);
	uint8_t buf[64], back[64];
	for (int i = 0; i < 64; i++)
		buf[i] = (uint8_t)i;
	/* across the first chunk edge */
	assert_true(gmem_write(m, (2 << 20) - 32, buf, 64));
	assert_true(gmem_read(m, (2 << 20) - 32, back, 64));
	assert_memory_equal(buf, back, 64);
	assert_null(gmem_hva(m, (2 << 20) - 32, 64));
	assert_non_null(gmem_hva(m, (2 << 20) - 64, 64));
	/* into the hole, past the end, wrapping */
	assert_false(gmem_write(m, (4 << 20) - 16, buf, 32));
	assert_false(gmem_read(m, (4ULL << 30) + (4 << 20) - 8, back, 16));
	assert_false(gmem_read(m, UINT64_MAX - 8, back, 16));
	assert_false(gmem_is_ram(m, 4 << 20, 1));
	free_gmem(m);
}

static void test_gmem_dirty(void **state)
{
	struct gmem *m = make_gmem(8 << 20, 4 << 20);
	uint8_t b = 1;
	assert_true(gmem_write(m, 0, &b, 1)); /* not logging: no bitmap, no crash */
	m->dirty = calloc(BITMAP_WORDS(m->npages), 8);
	assert_true(gmem_write(m, 4096 * 5 + 4000, &b, 1));
	assert_true(gmem_fill(m, (4ULL << 30) + 4090, 0, 10)); /* spans two pages */
	assert_int_equal(bitmap_count(m->dirty, m->npages), 3);
	assert_true(bitmap_test(m->dirty, 5));
	assert_true(bitmap_test(m->dirty, 1024));
	assert_true(bitmap_test(m->dirty, 1025));
	free_gmem(m);
}

/* test_gmem_index_roundtrip: every page of a two-slot layout maps to a gpa and back, the
 * numbering is contiguous across the slots, and nothing outside RAM has an index. */
static void test_gmem_index_roundtrip(void **state)
{
	struct gmem m;
	assert_true(gmem_layout(&m, 10 << 20, 4 << 20)); /* 4 MiB low, 6 MiB from 4 GiB */
	assert_int_equal(m.npages, 2560);
	assert_int_equal(m.slot[1].first_page, 1024);
	assert_int_equal(m.slot[1].first_chunk, 2);
	for (uint64_t i = 0; i < m.npages; i++) {
		uint64_t gpa, back;
		assert_true(gmem_index_to_gpa(&m, i, &gpa));
		assert_int_equal(gpa, i < 1024 ? i << 12 : (4ULL << 30) + ((i - 1024) << 12));
		assert_true(gmem_page_index(&m, gpa, &back));
		assert_int_equal(back, i);
		assert_true(gmem_page_index(&m, gpa + 4095, &back)); /* last byte of the page */
		assert_int_equal(back, i);
	}
	uint64_t idx, gpa;
	assert_false(gmem_index_to_gpa(&m, m.npages, &gpa));
	assert_false(gmem_index_to_gpa(&m, UINT64_MAX, &gpa));
	assert_false(gmem_page_index(&m, 4 << 20, &idx));          /* first byte of the hole */
	assert_false(gmem_page_index(&m, (4ULL << 30) - 1, &idx)); /* last byte of the hole */
	assert_false(gmem_page_index(&m, (4ULL << 30) + (6 << 20), &idx)); /* past the end */
	assert_false(gmem_page_index(&m, UINT64_MAX, &idx));
}

/* test_gmem_layout_edges: RAM that fits below the hole (one slot), a hole at 0 (an empty
 * low slot), and the limits gmem_layout enforces. */
static void test_gmem_layout_edges(void **state)
{
	struct gmem m;
	uint64_t idx, gpa;
	assert_true(gmem_layout(&m, 4 << 20, 4 << 20)); /* exactly up to the hole */
	assert_int_equal(m.nslots, 1);
	assert_true(gmem_layout(&m, 2 << 20, 4 << 20));
	assert_int_equal(m.nslots, 1);
	assert_int_equal(m.slot[0].size, 2 << 20);
	assert_true(gmem_layout(&m, 4 << 20, 0)); /* all RAM above 4 GiB */
	assert_int_equal(m.nslots, 2);
	assert_int_equal(m.slot[0].size, 0);
	assert_false(gmem_is_ram(&m, 0, 1));
	assert_false(gmem_page_index(&m, 0, &idx));
	assert_true(gmem_page_index(&m, 4ULL << 30, &idx));
	assert_int_equal(idx, 0);
	assert_true(gmem_index_to_gpa(&m, 0, &gpa));
	assert_int_equal(gpa, 4ULL << 30);
	assert_false(gmem_layout(&m, 2 << 20, (4ULL << 30) + (2 << 20))); /* hole above 4 GiB */
	assert_false(gmem_layout(&m, 2 << 20, 1 << 20));                  /* hole not aligned */
	assert_true(gmem_layout(&m, 1ULL << 46, 4ULL << 30));
	assert_false(gmem_layout(&m, (1ULL << 46) + (2 << 20), 4ULL << 30));
	assert_false(gmem_layout(&m, UINT64_MAX & ~((2ULL << 20) - 1), 4ULL << 30));
}

/* test_gmem_zero_length: zero-length accesses succeed anywhere without touching memory or
 * the dirty log; a zero-length range is RAM where its first byte would be. */
static void test_gmem_zero_length(void **state)
{
	struct gmem *m = make_gmem(8 << 20, 4 << 20);
	m->dirty = calloc(BITMAP_WORDS(m->npages), 8);
	uint8_t b = 0x5a;
	const uint64_t gpas[] = {0, 4 << 20, (4ULL << 30) - 1, UINT64_MAX};
	for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++) {
		assert_true(gmem_read(m, gpas[i], &b, 0));
		assert_true(gmem_write(m, gpas[i], &b, 0));
		assert_true(gmem_fill(m, gpas[i], 0xff, 0));
		gmem_mark_dirty(m, gpas[i], 0);
	}
	assert_int_equal(b, 0x5a);
	assert_int_equal(bitmap_count(m->dirty, m->npages), 0);
	assert_true(gmem_is_ram(m, 0, 0));
	assert_true(gmem_is_ram(m, (4 << 20) - 1, 0));
	assert_false(gmem_is_ram(m, 4 << 20, 0));
	assert_non_null(gmem_hva(m, (2 << 20) - 1, 0));
	assert_ptr_equal(gmem_hva(m, 2 << 20, 0), m->chunk_hva[1]);
	assert_null(gmem_hva(m, 4 << 20, 0));
	assert_null(gmem_hva(m, UINT64_MAX, 0));
	free_gmem(m);
}

/* test_gmem_wrap: ranges whose end wraps past UINT64_MAX or leaves RAM are refused whole
 * (nothing copied, nothing logged), whatever the start. */
static void test_gmem_wrap(void **state)
{
	struct gmem *m = make_gmem(8 << 20, 4 << 20);
	m->dirty = calloc(BITMAP_WORDS(m->npages), 8);
	uint8_t buf[16];
	memset(buf, 0x77, sizeof(buf));
	const struct {
		uint64_t gpa, len;
	} bad[] = {
	    {UINT64_MAX, 1},
	    {UINT64_MAX, 2},
	    {UINT64_MAX - 4095, 4096},
	    {4096, UINT64_MAX},                       /* wraps back into slot 0 */
	    {(4ULL << 30) + 4096, UINT64_MAX - 4095}, /* wraps back to gpa 0 */
	    {0, UINT64_MAX},
	    {0, (4 << 20) + 1}, /* runs into the hole */
	    {(4 << 20) - 1, 2},
	    {(4ULL << 30) - 1, 2},             /* from the hole into slot 1 */
	    {(4ULL << 30) + (4 << 20) - 1, 2}, /* past the end of RAM */
	    {0, (4ULL << 30) + 4096},          /* across the hole, both ends in RAM */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t g = bad[i].gpa, l = bad[i].len;
		assert_false(gmem_is_ram(m, g, l));
		assert_null(gmem_hva(m, g, l));
		assert_false(gmem_read(m, g, buf, l));
		assert_false(gmem_fill(m, g, 0x11, l));
		if (l <= sizeof(buf))
			assert_false(gmem_write(m, g, buf, l));
	}
	assert_int_equal(buf[0], 0x77);
	assert_int_equal(bitmap_count(m->dirty, m->npages), 0);
	for (uint64_t c = 0; c < m->nchunks; c++)
		for (size_t i = 0; i < GMEM_CHUNK_SIZE; i += 4096)
			assert_int_equal(m->chunk_hva[c][i], 0);
	/* marking a range whose end wraps logs nothing (its "last page" lies before the first) */
	gmem_mark_dirty(m, 4096, UINT64_MAX);
	gmem_mark_dirty(m, (4ULL << 30) + 8192, UINT64_MAX - 4095);
	assert_int_equal(bitmap_count(m->dirty, m->npages), 0);
	/* the last byte of RAM and of each slot is reachable, one byte further is not */
	uint8_t x = 1;
	assert_true(gmem_write(m, (4 << 20) - 1, &x, 1));
	assert_true(gmem_write(m, (4ULL << 30) + (4 << 20) - 1, &x, 1));
	assert_true(bitmap_test(m->dirty, 1023));
	assert_true(bitmap_test(m->dirty, 2047));
	assert_int_equal(bitmap_count(m->dirty, m->npages), 2);
	free_gmem(m);
}

/* test_gmem_slot_edges: copies that cross chunk edges inside slot 1 land in the right host
 * chunks, and dirty marks cover exactly the pages touched. */
static void test_gmem_slot_edges(void **state)
{
	struct gmem *m = make_gmem(8 << 20, 4 << 20);
	m->dirty = calloc(BITMAP_WORDS(m->npages), 8);
	uint8_t buf[8192], back[8192];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + 5);
	uint64_t gpa = (4ULL << 30) + (2 << 20) - 4096; /* last page of chunk 2, first of 3 */
	assert_true(gmem_write(m, gpa, buf, sizeof(buf)));
	assert_memory_equal(m->chunk_hva[2] + GMEM_CHUNK_SIZE - 4096, buf, 4096);
	assert_memory_equal(m->chunk_hva[3], buf + 4096, 4096);
	assert_true(gmem_read(m, gpa, back, sizeof(back)));
	assert_memory_equal(back, buf, sizeof(buf));
	assert_int_equal(bitmap_count(m->dirty, m->npages), 2);
	assert_true(bitmap_test(m->dirty, 1024 + 511));
	assert_true(bitmap_test(m->dirty, 1024 + 512));
	/* an unaligned one-page write touches two pages */
	memset(m->dirty, 0, BITMAP_WORDS(m->npages) * 8);
	assert_true(gmem_write(m, 4096 * 7 + 1, buf, 4096));
	assert_int_equal(bitmap_count(m->dirty, m->npages), 2);
	assert_true(bitmap_test(m->dirty, 7) && bitmap_test(m->dirty, 8));
	free_gmem(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bitmap_basic),         cmocka_unit_test(test_gmem_layout),
	    cmocka_unit_test(test_gmem_access),          cmocka_unit_test(test_gmem_dirty),
	    cmocka_unit_test(test_gmem_index_roundtrip), cmocka_unit_test(test_gmem_layout_edges),
	    cmocka_unit_test(test_gmem_zero_length),     cmocka_unit_test(test_gmem_wrap),
	    cmocka_unit_test(test_gmem_slot_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
