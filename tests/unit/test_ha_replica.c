/*
 * Unit tests for the pure parts of HA replication: checkpoint epochs and acknowledgements
 * (ha/ckpt.c), checks of incremental-checkpoint records a hostile or broken primary could send,
 * the standby choice, and the output-commit frame FIFO (ha/outbuf.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ha/ckpt.h"
#include "ha/outbuf.h"
#include "vmm/stream.h"

/* ---- epochs ---------------------------------------------------------------------------------- */

static void test_epochs(void **st)
{
	(void)st;
	struct ckpt_track t;
	ckpt_track_init(&t);
	assert_int_equal(t.epoch, 1);
	assert_false(ckpt_ack(&t, 1)); /* nothing in flight */
	uint64_t s = ckpt_close_epoch(&t);
	assert_int_equal(s, 1);
	assert_int_equal(t.epoch, 2); /* output from now on belongs to checkpoint 2 */
	assert_false(ckpt_ack(&t, 2));
	assert_false(ckpt_ack(&t, 0));
	assert_true(ckpt_ack(&t, 1));
	assert_int_equal(t.acked, 1);
	assert_false(ckpt_ack(&t, 1)); /* twice */
	s = ckpt_close_epoch(&t);
	ckpt_abandon(&t); /* session lost: checkpoint 2 never acknowledged */
	assert_int_equal(t.acked, 1);
	assert_false(ckpt_ack(&t, s));
	s = ckpt_close_epoch(&t); /* the next session's first checkpoint covers epoch 2 too */
	assert_int_equal(s, 3);
	assert_true(ckpt_ack(&t, 3));
	assert_int_equal(t.acked, 3);
}

static void test_seq_order(void **st)
{
	(void)st;
	assert_true(ckpt_next_seq_ok(0, 1));
	assert_true(ckpt_next_seq_ok(0, 57)); /* a session may start anywhere */
	assert_true(ckpt_next_seq_ok(5, 6));
	assert_false(ckpt_next_seq_ok(5, 5));
	assert_false(ckpt_next_seq_ok(5, 4));
	assert_false(ckpt_next_seq_ok(0, 0));
	assert_false(ckpt_next_seq_ok(0, ~0ULL));
}

/* ---- record checks ------------------------------------------------------------------------- */

static const struct ckpt_shape g_shape = {64ULL << 20, 16384, 2, 832};

/* ram: a RAM record payload of count pages from first, the pages in zero_mask zero. */
static size_t ram(uint8_t *buf, uint64_t first, uint32_t count, uint64_t zero_mask)
{
	memset(buf, 0, 16 + 64);
	memcpy(buf, &first, 8);
	memcpy(buf + 8, &count, 4);
	size_t hl = 16 + ((count + 63) / 64) * 8;
	memcpy(buf + 16, &zero_mask, 8);
	size_t data = 0;
	for (uint32_t i = 0; i < count; i++)
		if (!(i < 64 && (zero_mask >> i) & 1))
			data += 4096;
	memset(buf + hl, 0xab, data);
	return hl + data;
}

static void test_ram_records(void **st)
{
	(void)st;
	static uint8_t b[16 + 64 + 8 * 4096];
	size_t n = ram(b, 0, 4, 0);
	assert_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n));
	n = ram(b, 100, 8, 0xf0); /* 4 zero pages, 4 with data */
	assert_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n));
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n - 1));
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n + 1));
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 2, b, (uint32_t)n)); /* version */
	n = ram(b, 16383, 2, 3); /* runs past the end of guest RAM */
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n));
	n = ram(b, 16383, 1, 1);
	assert_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n));
	n = ram(b, ~0ULL, 1, 1); /* first + count wraps */
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n));
	n = ram(b, 0, 0, 0);
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, (uint32_t)n));
	uint32_t big = 513;
	memcpy(b + 8, &big, 4);
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, 16 + 72));
	assert_non_null(ckpt_check_record(&g_shape, REC_RAM, 1, b, 8)); /* too short */
}

/* Building field records with the stream writer. */
static uint8_t g_out[4096];
static size_t g_out_len;
static int out_write(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	memcpy(g_out + g_out_len, p, n);
	g_out_len += n;
	return 0;
}

/* record: payload of a record of fields {id, value} (the 8-byte record header stripped). */
static const uint8_t *record(const uint16_t *ids, const uint64_t *vals, int n, uint32_t *len)
{
	static uint8_t rec[4096];
	struct stream_out s;
	g_out_len = 0;
	stream_out_init(&s, out_write, NULL, rec, sizeof(rec), NULL);
	stream_begin(&s, REC_VCPU, 1);
	for (int i = 0; i < n; i++)
		stream_u64(&s, ids[i], vals[i]);
	stream_end_record(&s);
	*len = (uint32_t)(g_out_len - 8);
	return g_out + 8;
}

static void test_machine_records(void **st)
{
	(void)st;
	uint32_t len;
	const uint16_t vid[] = {100, 2};
	uint64_t v[] = {1, 0x1000};
	const uint8_t *r = record(vid, v, 2, &len);
	assert_null(ckpt_check_record(&g_shape, REC_VCPU, 1, r, len));
	assert_null(ckpt_check_record(&g_shape, REC_LAPIC, 1, r, len));
	v[0] = 2; /* vCPU 2 of a 2-vCPU VM */
	r = record(vid, v, 2, &len);
	assert_non_null(ckpt_check_record(&g_shape, REC_VCPU, 1, r, len));
	assert_non_null(ckpt_check_record(&g_shape, REC_LAPIC, 1, r, len));
	v[0] = 0;
	r = record(vid, v, 2, &len);
	assert_non_null(ckpt_check_record(&g_shape, REC_VCPU, 1, r, len - 1)); /* cut field */
	/* the VM record must name this replica's shape */
	const uint16_t mid[] = {1, 2};
	uint64_t mv[] = {64ULL << 20, 2};
	r = record(mid, mv, 2, &len);
	assert_null(ckpt_check_record(&g_shape, REC_VM, 1, r, len));
	mv[0] = 128ULL << 20;
	r = record(mid, mv, 2, &len);
	assert_non_null(ckpt_check_record(&g_shape, REC_VM, 1, r, len));
	/* devices: transports and disk deltas yes, whole-disk records never */
	const uint16_t did[] = {1, 2};
	uint64_t dv[] = {1, 0};
	r = record(did, dv, 2, &len);
	assert_null(ckpt_check_record(&g_shape, REC_DEVICE, 1, r, len));
	dv[0] = 4;
	r = record(did, dv, 2, &len);
	assert_null(ckpt_check_record(&g_shape, REC_DEVICE, 1, r, len));
	dv[0] = 2;
	r = record(did, dv, 2, &len);
	assert_non_null(ckpt_check_record(&g_shape, REC_DEVICE, 1, r, len));
	dv[0] = 3;
	r = record(did, dv, 2, &len);
	assert_non_null(ckpt_check_record(&g_shape, REC_DEVICE, 1, r, len));
	assert_null(ckpt_check_record(&g_shape, REC_PIT, 1, r, len));
	assert_non_null(ckpt_check_record(&g_shape, REC_END, 1, r, len));
	assert_non_null(ckpt_check_record(&g_shape, 77, 1, r, len));
}

static void test_fpu_records(void **st)
{
	(void)st;
	static uint8_t b[8 + 832];
	uint64_t id = 1;
	memcpy(b, &id, 8);
	assert_null(ckpt_check_record(&g_shape, REC_FPU, 1, b, sizeof(b)));
	assert_non_null(ckpt_check_record(&g_shape, REC_FPU, 1, b, sizeof(b) - 1));
	id = 5;
	memcpy(b, &id, 8);
	assert_non_null(ckpt_check_record(&g_shape, REC_FPU, 1, b, sizeof(b)));
}

/* ---- standby choice ------------------------------------------------------------------------ */

static struct ha_member_info member(const char *name, bool self, bool alive, bool maint)
{
	struct ha_member_info m;
	memset(&m, 0, sizeof(m));
	strcpy(m.name, name);
	m.self = self, m.alive = alive, m.maintenance = maint, m.votes = 1;
	return m;
}

static void test_pick_standby(void **st)
{
	(void)st;
	struct ha_member_info m[4] = {
	    member("a", true, true, false), member("c", false, true, false),
	    member("b", false, true, false), member("d", false, false, false)};
	int k = ha_pick_standby(m, 4, "g1", NULL, 0);
	assert_true(k == 1 || k == 2);                             /* never self, never dead */
	assert_int_equal(ha_pick_standby(m, 4, "g1", NULL, 0), k); /* stable */
	const char *avoid[] = {m[k].name};
	int k2 = ha_pick_standby(m, 4, "g1", avoid, 1);
	assert_true(k2 == 3 - k); /* the other one */
	m[3 - k].maintenance = true;
	assert_int_equal(ha_pick_standby(m, 4, "g1", avoid, 1), -1);
	assert_int_equal(ha_pick_standby(m, 4, "g1", NULL, 0), k);
	assert_int_equal(ha_pick_standby(m, 1, "g1", NULL, 0), -1); /* alone */
	assert_int_equal(ha_pick_standby(m, 0, "g1", NULL, 0), -1);
	/* spread: over many VM names both candidates are used */
	m[3 - k].maintenance = false;
	int seen[4] = {0};
	char name[16];
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "vm%d", i);
		seen[ha_pick_standby(m, 4, name, NULL, 0)]++;
	}
	assert_true(seen[1] > 0 && seen[2] > 0 && seen[0] == 0 && seen[3] == 0);
	/* duplicate names do not loop forever */
	struct ha_member_info d[3] = {member("a", true, true, false),
	                              member("x", false, true, false),
	                              member("x", false, true, false)};
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "vm%d", i);
		k = ha_pick_standby(d, 3, name, NULL, 0);
		assert_true(k == -1 || k == 1 || k == 2);
	}
}

/* ---- output commit buffer ------------------------------------------------------------------ */

static bool push(struct outbuf *b, uint64_t epoch, uint8_t fill, size_t len)
{
	static uint8_t f[2000];
	memset(f, fill, len);
	const void *p[2] = {f, f + len / 2};
	size_t l[2] = {len / 2, len - len / 2};
	return outbuf_push(b, epoch, 7, p, l, 2, len);
}

static void test_outbuf(void **st)
{
	(void)st;
	static struct outbuf_slot slots[4];
	struct outbuf b;
	struct outbuf_slot s;
	outbuf_init(&b, slots, 4);
	assert_false(outbuf_pop_ready(&b, ~0ULL, &s));
	assert_true(push(&b, 1, 0x11, 60));
	assert_true(push(&b, 1, 0x12, 1518));
	assert_true(push(&b, 2, 0x21, 100));
	assert_false(outbuf_pop_ready(&b, 0, &s)); /* checkpoint 1 not acknowledged yet */
	assert_true(outbuf_pop_ready(&b, 1, &s));
	assert_int_equal(s.len, 60);
	assert_int_equal(s.port, 7);
	assert_int_equal(s.data[0], 0x11);
	assert_int_equal(s.data[59], 0x11);
	assert_true(outbuf_pop_ready(&b, 1, &s));
	assert_int_equal(s.len, 1518);
	assert_false(outbuf_pop_ready(&b, 1, &s)); /* epoch 2 waits */
	assert_int_equal(outbuf_waiting(&b), 1);
	assert_true(push(&b, 3, 0x31, 64));
	assert_true(push(&b, 3, 0x32, 64));
	assert_true(push(&b, 3, 0x33, 64));
	assert_false(push(&b, 3, 0x34, 64)); /* full: dropped */
	assert_int_equal(b.dropped, 1);
	assert_false(push(&b, 3, 0, 0));    /* empty */
	assert_false(push(&b, 3, 0, 1519)); /* too large */
	assert_true(outbuf_pop_ready(&b, 3, &s));
	assert_int_equal(s.data[0], 0x21); /* in order */
	for (uint8_t want = 0x31; want <= 0x33; want++) {
		assert_true(outbuf_pop_ready(&b, ~0ULL, &s));
		assert_int_equal(s.data[0], want);
	}
	assert_int_equal(outbuf_waiting(&b), 0);
	assert_int_equal(b.held, 6);
	assert_int_equal(b.released, 6);
	/* pieces that do not add up to len are refused */
	uint8_t x[10] = {0};
	const void *p[1] = {x};
	size_t l[1] = {10};
	assert_false(outbuf_push(&b, 4, 1, p, l, 1, 9));
	assert_false(outbuf_push(&b, 4, 1, p, l, 1, 11));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_epochs),      cmocka_unit_test(test_seq_order),
	    cmocka_unit_test(test_ram_records), cmocka_unit_test(test_machine_records),
	    cmocka_unit_test(test_fpu_records), cmocka_unit_test(test_pick_standby),
	    cmocka_unit_test(test_outbuf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
