/* Unit tests for kernel/bitmap.c and vmm/gmem.c (layout, bounds, chunk splitting, dirty log). */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitmap_basic),
		cmocka_unit_test(test_gmem_layout),
		cmocka_unit_test(test_gmem_access),
		cmocka_unit_test(test_gmem_dirty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
