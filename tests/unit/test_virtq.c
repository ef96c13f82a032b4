/*
 * Unit tests for vmm/virtq.c (split virtqueues, device side): the happy paths (direct and
 * indirect chains, used ring, iterators, EVENT_IDX and NO_INTERRUPT), and every driver error
 * the device must catch: loops, indices out of range, buffers outside RAM or wrapping,
 * indirect misuse, readable-after-writable, avail index jumps, bad rings and sizes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/bitmap.h"
#include "kernel/endian.h"
#include "vmm/virtq.h"

#define RAM   (8ULL << 20)
#define HOLE  (4ULL << 20) /* RAM 0-4 MiB and 4 GiB-4 GiB+4 MiB */
#define QSZ   8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define DATA  0x10000
#define F_IND (1ULL << VIRTIO_F_INDIRECT_DESC)
#define F_EVT (1ULL << VIRTIO_F_EVENT_IDX)

static struct gmem *g_m;
static struct virtq g_q;
static struct virtq_chain g_c;
static uint16_t g_avail;

static struct gmem *make_gmem(void)
{
	struct gmem *m = calloc(1, sizeof(*m));
	assert_true(gmem_layout(m, RAM, HOLE));
	m->chunk_hva = calloc(m->nchunks, sizeof(uint8_t *));
	for (uint64_t i = 0; i < m->nchunks; i++)
		m->chunk_hva[i] = calloc(1, GMEM_CHUNK_SIZE);
	return m;
}

static int setup(void **state)
{
	(void)state;
	g_m = make_gmem();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < g_m->nchunks; i++)
		free(g_m->chunk_hva[i]);
	free(g_m->chunk_hva);
	free(g_m);
	return 0;
}

/* start: a fresh queue of QSZ at DESC/AVAIL/USED with zeroed rings. */
static void start(uint64_t features)
{
	for (uint64_t i = 0; i < g_m->nchunks; i++)
		memset(g_m->chunk_hva[i], 0, GMEM_CHUNK_SIZE);
	memset(&g_q, 0, sizeof(g_q));
	virtq_reset(&g_q, QSZ);
	g_q.desc = DESC;
	g_q.avail = AVAIL;
	g_q.used = USED;
	assert_int_equal(virtq_start(&g_q, g_m, features), 0);
	g_avail = 0;
}

static void put_desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                        uint16_t next)
{
	uint8_t b[16];
	le64_store(b, addr);
	le32_store(b + 8, len);
	le16_store(b + 12, flags);
	le16_store(b + 14, next);
	assert_true(gmem_write(g_m, table + 16ULL * i, b, 16));
}

static void put_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put_desc_at(DESC, i, addr, len, flags, next);
}

static void wr16(uint64_t gpa, uint16_t v)
{
	uint8_t b[2];
	le16_store(b, v);
	assert_true(gmem_write(g_m, gpa, b, 2));
}

static uint16_t rd16(uint64_t gpa)
{
	uint8_t b[2];
	assert_true(gmem_read(g_m, gpa, b, 2));
	return le16_load(b);
}

/* post: make head available. */
static void post(uint16_t head)
{
	wr16(AVAIL + 4 + 2 * (g_avail % QSZ), head);
	wr16(AVAIL + 2, ++g_avail);
}

static void test_simple_chain(void **state)
{
	(void)state;
	start(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 0);
	put_desc(0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, DATA + 0x100, 100, VIRTQ_DESC_F_NEXT, 2);
	put_desc(2, DATA + 0x1000, 512, VIRTQ_DESC_F_WRITE, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	assert_int_equal(g_c.head, 0);
	assert_int_equal(g_c.nread, 2);
	assert_int_equal(g_c.nwrite, 1);
	assert_int_equal(g_c.rlen, 116);
	assert_int_equal(g_c.wlen, 512);
	assert_int_equal(g_c.seg[2].addr, DATA + 0x1000);
	assert_int_equal(virtq_pop(&g_q, &g_c), 0);
	virtq_push(&g_q, 0, 513);
	assert_int_equal(rd16(USED + 2), 0); /* not published before flush */
	assert_true(virtq_flush(&g_q));
	assert_int_equal(rd16(USED + 2), 1);
	uint8_t e[8];
	assert_true(gmem_read(g_m, USED + 4, e, 8));
	assert_int_equal(le32_load(e), 0);
	assert_int_equal(le32_load(e + 4), 513);
	assert_false(virtq_flush(&g_q)); /* nothing new */
}

static void test_zero_length_and_full_chain(void **state)
{
	(void)state;
	start(0);
	for (uint16_t i = 0; i < QSZ; i++) /* a chain of exactly QSZ descriptors is legal */
		put_desc(i, DATA + 64ULL * i, i == 3 ? 0 : 64, i < QSZ - 1 ? VIRTQ_DESC_F_NEXT : 0,
		         (uint16_t)(i + 1));
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	assert_int_equal(g_c.nread, QSZ - 1); /* the empty one is skipped */
	assert_int_equal(g_c.rlen, 64 * (QSZ - 1));
}

static void test_loop(void **state)
{
	(void)state;
	start(0);
	put_desc(0, DATA, 64, VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, DATA, 64, VIRTQ_DESC_F_NEXT, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_LOOP);
	start(0);
	put_desc(5, DATA, 64, VIRTQ_DESC_F_NEXT, 5); /* self loop */
	post(5);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_LOOP);
}

static void test_indices(void **state)
{
	(void)state;
	start(0);
	post(QSZ); /* head out of range */
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_HEAD);
	start(0);
	put_desc(0, DATA, 64, VIRTQ_DESC_F_NEXT, QSZ);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_NEXT);
	start(0);
	put_desc(0, DATA, 64, 0, 0);
	wr16(AVAIL + 2, QSZ + 1); /* more outstanding than the queue holds */
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_AVAIL_IDX);
	start(0);
	wr16(AVAIL + 2, 0xfff0); /* "behind": the same as far ahead */
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_AVAIL_IDX);
	assert_int_equal(virtq_pending(&g_q), -1);
	start(0);
	for (int i = 0; i < QSZ; i++) { /* exactly QSZ outstanding is fine */
		put_desc((uint16_t)i, DATA, 64, 0, 0);
		post((uint16_t)i);
	}
	assert_int_equal(virtq_pending(&g_q), QSZ);
	for (int i = 0; i < QSZ; i++)
		assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	/* popped but not used: the driver may not post more */
	put_desc(0, DATA, 64, 0, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_AVAIL_IDX);
}

static void test_ranges(void **state)
{
	(void)state;
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
	    {HOLE, 16},                    /* in the hole */
	    {HOLE - 8, 16},                /* straddles the end of low RAM */
	    {(4ULL << 30) + HOLE - 8, 16}, /* past the end of high RAM */
	    {0xfffffffffffffff0ULL, 0x20}, /* wraps */
	    {DATA, 0xffffffffu},           /* huge */
	    {0xfee00000ULL, 4},            /* the LAPIC */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(0);
		put_desc(0, bad[i].addr, bad[i].len, 0, 0);
		post(0);
		assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_RANGE);
	}
	/* a buffer crossing a 2 MiB chunk edge inside RAM is fine */
	start(0);
	put_desc(0, (2ULL << 20) - 100, 200, 0, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	/* high RAM works */
	start(0);
	put_desc(0, (4ULL << 30) + 4096, 4096, VIRTQ_DESC_F_WRITE, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
}

static void test_order(void **state)
{
	(void)state;
	start(0);
	put_desc(0, DATA, 64, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	put_desc(1, DATA, 64, 0, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_ORDER);
}

static void test_indirect(void **state)
{
	(void)state;
	uint64_t tab = DATA + 0x8000;
	/* without the feature */
	start(0);
	put_desc(0, tab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_INDIRECT);
	/* a good one: 3 entries, header / data / status */
	start(F_IND);
	put_desc_at(tab, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc_at(tab, 2, DATA + 64, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	put_desc_at(tab, 1, DATA + 8192, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(4, tab, 48, VIRTQ_DESC_F_INDIRECT, 0);
	post(4);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	assert_int_equal(g_c.head, 4);
	assert_int_equal(g_c.nread, 1);
	assert_int_equal(g_c.nwrite, 2);
	assert_int_equal(g_c.wlen, 4097);
	/* direct descriptors before an indirect one */
	start(F_IND);
	put_desc(0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, tab, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc_at(tab, 0, DATA + 64, 8, VIRTQ_DESC_F_WRITE, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	assert_int_equal(g_c.nread + g_c.nwrite, 2);
	/* bad lengths */
	static const uint32_t badlen[] = {0, 24, 16 * (QSZ + 1), 0xfffffff0u};
	for (size_t i = 0; i < sizeof(badlen) / sizeof(badlen[0]); i++) {
		start(F_IND);
		put_desc(0, tab, badlen[i], VIRTQ_DESC_F_INDIRECT, 0);
		post(0);
		assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_INDIRECT_LEN);
	}
	/* with F_NEXT */
	start(F_IND);
	put_desc(0, tab, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_INDIRECT);
	/* nested */
	start(F_IND);
	put_desc_at(tab, 0, tab + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(0, tab, 16, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_NESTED);
	/* table outside RAM */
	start(F_IND);
	put_desc(0, HOLE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_RANGE);
	/* next beyond the table (but inside the queue size) */
	start(F_IND);
	put_desc_at(tab, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc(0, tab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_NEXT);
	/* a loop inside the table */
	start(F_IND);
	put_desc_at(tab, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc_at(tab, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
	put_desc(0, tab, 32, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), VQ_E_LOOP);
}

static void test_indirect_copied_once(void **state)
{
	(void)state;
	uint64_t tab = DATA + 0x8000;
	start(F_IND);
	put_desc_at(tab, 0, DATA, 16, 0, 0);
	put_desc(0, tab, 16, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	/* the driver changes the table afterwards: the popped chain does not change */
	put_desc_at(tab, 0, 0xfffffffff000ULL, 16, 0, 0);
	assert_int_equal(g_c.seg[0].addr, DATA);
	assert_int_equal(g_c.rlen, 16);
}

static void test_rings(void **state)
{
	(void)state;
	start(0);
	struct virtq q = g_q;
	q.desc = DESC + 8; /* misaligned */
	assert_int_equal(virtq_check(&q, g_m), VQ_E_RING);
	q = g_q;
	q.avail = AVAIL + 1;
	assert_int_equal(virtq_check(&q, g_m), VQ_E_RING);
	q = g_q;
	q.used = USED + 2;
	assert_int_equal(virtq_check(&q, g_m), VQ_E_RING);
	q = g_q;
	q.used = HOLE - 8; /* runs out of RAM */
	assert_int_equal(virtq_check(&q, g_m), VQ_E_RING);
	q = g_q;
	q.desc = 0xfffffffffffffff0ULL;
	assert_int_equal(virtq_check(&q, g_m), VQ_E_RING);
	q = g_q;
	q.size = 6;
	assert_int_equal(virtq_check(&q, g_m), VQ_E_SIZE);
	q.size = 0;
	assert_int_equal(virtq_check(&q, g_m), VQ_E_SIZE);
	q.size = VIRTQ_MAX_SIZE * 2;
	assert_int_equal(virtq_check(&q, g_m), VQ_E_SIZE);
	/* rings across a chunk edge work (accessed through gmem) */
	memset(&q, 0, sizeof(q));
	virtq_reset(&q, QSZ);
	q.desc = (2ULL << 20) - 64;
	q.avail = (2ULL << 20) - 4;
	q.used = (2ULL << 20) + 4096;
	assert_int_equal(virtq_start(&q, g_m, 0), 0);
	put_desc_at(q.desc, 7, DATA, 16, 0, 0);
	wr16(q.avail + 4, 7);
	wr16(q.avail + 2, 1);
	assert_int_equal(virtq_pop(&q, &g_c), 1);
	assert_int_equal(g_c.head, 7);
}

static void test_event_idx(void **state)
{
	(void)state;
	assert_true(virtq_need_event(0, 1, 0));
	assert_false(virtq_need_event(1, 1, 0));
	assert_true(virtq_need_event(5, 7, 3));
	assert_false(virtq_need_event(8, 7, 3));
	assert_true(virtq_need_event(0xffff, 1, 0xfffe)); /* across the wrap */
	start(F_EVT);
	for (uint16_t i = 0; i < 4; i++) {
		put_desc(i, DATA, 16, 0, 0);
		post(i);
	}
	/* used_event = 2: interrupt when the used index passes 2 */
	wr16(AVAIL + 4 + 2 * QSZ, 2);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	virtq_push(&g_q, g_c.head, 0);
	assert_true(virtq_flush(&g_q)); /* first decision always interrupts */
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	virtq_push(&g_q, g_c.head, 0);
	assert_false(virtq_flush(&g_q)); /* used 1 -> 2: 2 not passed yet */
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	virtq_push(&g_q, g_c.head, 0);
	assert_true(virtq_flush(&g_q)); /* 2 -> 3 passes 2 */
	/* arm: avail_event = last_avail; nothing new -> false; a new buffer -> true */
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	assert_false(virtq_arm(&g_q));
	assert_int_equal(rd16(USED + 4 + 8 * QSZ), 4);
	put_desc(4, DATA, 16, 0, 0);
	virtq_push(&g_q, g_c.head, 0);
	virtq_flush(&g_q);
	post(4);
	assert_true(virtq_arm(&g_q));
}

static void test_no_interrupt_flag(void **state)
{
	(void)state;
	start(0);
	put_desc(0, DATA, 16, 0, 0);
	post(0);
	wr16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	virtq_push(&g_q, 0, 0);
	assert_false(virtq_flush(&g_q));
	assert_int_equal(rd16(USED + 2), 1);
	assert_false(virtq_arm(&g_q));
	assert_int_equal(rd16(USED), 0); /* notifications stay on */
}

static void test_data_access(void **state)
{
	(void)state;
	start(0);
	put_desc(0, DATA, 3, VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, (2ULL << 20) - 2, 5, VIRTQ_DESC_F_NEXT, 2); /* crosses a chunk edge */
	put_desc(2, DATA + 0x100, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	put_desc(3, DATA + 0x200, 4, VIRTQ_DESC_F_WRITE, 0);
	assert_true(gmem_write(g_m, DATA, "abc", 3));
	assert_true(gmem_write(g_m, (2ULL << 20) - 2, "defgh", 5));
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	char buf[16] = {0};
	assert_int_equal(virtq_read(g_m, &g_c, 0, buf, 8), 8);
	assert_memory_equal(buf, "abcdefgh", 8);
	assert_int_equal(virtq_read(g_m, &g_c, 2, buf, 16), 6); /* short at the end */
	assert_memory_equal(buf, "cdefgh", 6);
	assert_int_equal(virtq_read(g_m, &g_c, 100, buf, 4), 0);
	assert_int_equal(virtq_write(g_m, &g_c, 2, "WXYZ", 4), 4);
	assert_true(gmem_read(g_m, DATA + 0x102, buf, 2));
	assert_memory_equal(buf, "WX", 2);
	assert_true(gmem_read(g_m, DATA + 0x200, buf, 2));
	assert_memory_equal(buf, "YZ", 2);
	assert_int_equal(virtq_write(g_m, &g_c, 6, "12345", 5), 2);
	struct virtq_iter it;
	uint64_t gpa, n, total = 0;
	virtq_iter_init(&it, &g_c, false, 1);
	while (virtq_iter_next(&it, 2, &gpa, &n))
		total += n;
	assert_int_equal(total, 7);
}

static void test_dirty_log(void **state)
{
	(void)state;
	start(0);
	g_m->dirty = calloc(BITMAP_WORDS(g_m->npages), 8);
	put_desc(0, DATA, 16, 0, 0);
	post(0);
	assert_int_equal(virtq_pop(&g_q, &g_c), 1);
	virtq_push(&g_q, 0, 0);
	virtq_flush(&g_q);
	assert_true((g_m->dirty[USED >> 12 >> 6] >> ((USED >> 12) & 63)) & 1);
	free(g_m->dirty);
	g_m->dirty = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_chain),
	    cmocka_unit_test(test_zero_length_and_full_chain),
	    cmocka_unit_test(test_loop),
	    cmocka_unit_test(test_indices),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_indirect),
	    cmocka_unit_test(test_indirect_copied_once),
	    cmocka_unit_test(test_rings),
	    cmocka_unit_test(test_event_idx),
	    cmocka_unit_test(test_no_interrupt_flag),
	    cmocka_unit_test(test_data_access),
	    cmocka_unit_test(test_dirty_log),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
