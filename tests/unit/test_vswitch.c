/*
 * Unit tests for vmm/vswitch.c (the virtual L2 switch): MAC learning and moves, unicast to
 * the learned port only, flooding of broadcast/multicast/unknown unicast, no reflection to the
 * ingress port, ageing, MAC-locked ports (spoofing), bad frames, port removal, a full table,
 * per-port counters and headers split across gather pieces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/vswitch.h"

#define NS 1000000000ULL

struct sink {
	int frames;
	size_t last_len;
	uint8_t last[VSW_MAX_FRAME];
	bool refuse;
};

static bool sink_rx(void *priv, const struct vsw_iov *iov, unsigned n, size_t len)
{
	struct sink *s = priv;
	if (s->refuse)
		return false;
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(s->last + off, iov[i].base, iov[i].len);
		off += iov[i].len;
	}
	assert_int_equal(off, len);
	s->frames++;
	s->last_len = len;
	return true;
}

static const struct vsw_port_ops g_ops = {sink_rx};
static struct vswitch g_sw;
static struct sink g_s[4];
static const uint8_t MAC[4][6] = {
    {0x52, 0x54, 0, 0, 0, 1},
    {0x52, 0x54, 0, 0, 0, 2},
    {0x52, 0x54, 0, 0, 0, 3},
    {0x52, 0x54, 0, 0, 0, 4},
};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* four ports; port 3 is an unlocked uplink */
static void setup_switch(void)
{
	vswitch_init(&g_sw, 300 * NS);
	memset(g_s, 0, sizeof(g_s));
	for (int i = 0; i < 4; i++)
		assert_int_equal(vswitch_port_add(&g_sw, "p", &g_ops, &g_s[i],
		                                  i == 3 ? VSW_PORT_UPLINK : VSW_PORT_LOCK_MAC,
		                                  MAC[i]),
		                 i);
}

/* send: a 60-byte frame dst <- src from port p at time t. */
static void send(int p, const uint8_t *dst, const uint8_t *src, uint64_t t)
{
	uint8_t f[60];
	memset(f, 0, sizeof(f));
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[20] = (uint8_t)p;
	struct vsw_iov iov = {f, sizeof(f)};
	vswitch_input(&g_sw, p, &iov, 1, sizeof(f), t);
}

static int count(void)
{
	return g_s[0].frames + g_s[1].frames + g_s[2].frames + g_s[3].frames;
}

static void test_learn_and_forward(void **state)
{
	(void)state;
	setup_switch();
	send(0, MAC[1], MAC[0], 1); /* unknown: flooded to 1, 2, 3 */
	assert_int_equal(g_s[0].frames, 0);
	assert_int_equal(count(), 3);
	assert_int_equal(vswitch_lookup(&g_sw, MAC[0], 1), 0);
	send(1, MAC[0], MAC[1], 2); /* known: only to port 0 */
	assert_int_equal(g_s[0].frames, 1);
	assert_int_equal(count(), 4);
	send(0, MAC[1], MAC[0], 3);
	assert_int_equal(g_s[1].frames, 2);
	assert_int_equal(count(), 5);
	assert_int_equal(g_s[1].last_len, 60);
	assert_int_equal(g_sw.port[0].st.in_packets, 2);
	assert_int_equal(g_sw.port[0].st.flooded, 1);
	assert_int_equal(g_sw.port[1].st.out_packets, 2);
	assert_int_equal(g_sw.port[1].st.out_bytes, 120);
}

static void test_broadcast_multicast(void **state)
{
	(void)state;
	setup_switch();
	send(2, BCAST, MAC[2], 1);
	assert_int_equal(count(), 3);
	assert_int_equal(g_s[2].frames, 0);
	uint8_t mc[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
	send(0, mc, MAC[0], 2);
	assert_int_equal(g_s[0].frames, 1); /* the broadcast only, not its own multicast */
	assert_int_equal(count(), 6);
}

static void test_no_reflection_and_moves(void **state)
{
	(void)state;
	setup_switch();
	uint8_t far[6] = {0x02, 0, 0, 0, 0, 0x99};
	send(3, BCAST, far, 1); /* a host behind the uplink */
	int before = count();
	send(3, far, MAC[3], 2); /* to a MAC learned on the same port: dropped */
	assert_int_equal(count(), before);
	/* the host moves behind another unlocked port */
	static struct sink extra;
	memset(&extra, 0, sizeof(extra));
	assert_int_equal(vswitch_port_add(&g_sw, "p4", &g_ops, &extra, 0, NULL), 4);
	send(4, BCAST, far, 3);
	assert_int_equal(g_sw.moved, 1);
	assert_int_equal(vswitch_lookup(&g_sw, far, 3), 4);
	send(0, far, MAC[0], 4);
	assert_int_equal(extra.frames, 1);
}

static void test_spoofing_and_bad_frames(void **state)
{
	(void)state;
	setup_switch();
	send(0, BCAST, MAC[1], 1); /* port 0 claims port 1's MAC */
	assert_int_equal(count(), 0);
	assert_int_equal(g_sw.port[0].st.in_dropped, 1);
	assert_int_equal(vswitch_lookup(&g_sw, MAC[1], 1), -1);
	uint8_t mcsrc[6] = {0x01, 0, 0, 0, 0, 1};
	send(3, BCAST, mcsrc, 1); /* multicast source */
	assert_int_equal(count(), 0);
	uint8_t f[VSW_MAX_FRAME + 1];
	memset(f, 0, sizeof(f));
	memcpy(f, BCAST, 6);
	memcpy(f + 6, MAC[0], 6);
	struct vsw_iov iov = {f, 13};
	vswitch_input(&g_sw, 0, &iov, 1, 13, 1); /* runt */
	iov.len = VSW_MAX_FRAME + 1;
	vswitch_input(&g_sw, 0, &iov, 1, VSW_MAX_FRAME + 1, 1); /* too long */
	iov.len = 60;
	vswitch_input(&g_sw, 0, &iov, 1, 61, 1); /* length does not match the pieces */
	vswitch_input(&g_sw, 7, &iov, 1, 60, 1); /* a port that does not exist */
	vswitch_input(&g_sw, -1, &iov, 1, 60, 1);
	assert_int_equal(count(), 0);
	assert_int_equal(g_sw.port[0].st.in_dropped, 4);
	iov.len = VSW_MAX_FRAME;
	vswitch_input(&g_sw, 0, &iov, 1, VSW_MAX_FRAME, 1); /* the largest legal frame */
	assert_int_equal(count(), 3);
	/* the uplink (unlocked) claims port 0's MAC: dropped, the table keeps port 0 */
	send(3, BCAST, MAC[0], 2);
	assert_int_equal(count(), 3);
	assert_int_equal(g_sw.port[3].st.in_dropped, 2);
	assert_int_equal(vswitch_lookup(&g_sw, MAC[0], 2), 0);
}

static void test_split_header(void **state)
{
	(void)state;
	setup_switch();
	send(1, BCAST, MAC[1], 1);
	uint8_t f[64];
	memset(f, 0x11, sizeof(f));
	memcpy(f, MAC[1], 6);
	memcpy(f + 6, MAC[0], 6);
	struct vsw_iov iov[4] = {{f, 3}, {f + 3, 5}, {f + 8, 1}, {f + 9, 55}};
	int before = g_s[1].frames;
	vswitch_input(&g_sw, 0, iov, 4, 64, 2);
	assert_int_equal(g_s[1].frames, before + 1);
	assert_int_equal(count(), 4);
	assert_memory_equal(g_s[1].last, f, 64);
}

static void test_ageing(void **state)
{
	(void)state;
	setup_switch();
	send(1, BCAST, MAC[1], 1 * NS);
	assert_int_equal(vswitch_lookup(&g_sw, MAC[1], 100 * NS), 1);
	assert_int_equal(vswitch_lookup(&g_sw, MAC[1], 302 * NS), -1);
	int before = count();
	send(0, MAC[1], MAC[0], 302 * NS); /* aged out: flooded again */
	assert_int_equal(count(), before + 3);
}

static void test_port_del_and_refusal(void **state)
{
	(void)state;
	setup_switch();
	send(1, BCAST, MAC[1], 1);
	vswitch_port_del(&g_sw, 1);
	assert_int_equal(vswitch_lookup(&g_sw, MAC[1], 1), -1);
	int before = g_s[1].frames;
	send(0, MAC[1], MAC[0], 2);
	assert_int_equal(g_s[1].frames, before); /* never called after removal */
	g_s[2].refuse = true;
	send(0, MAC[2], MAC[0], 3);
	assert_int_equal(g_sw.port[2].st.out_dropped, 1);
	/* the freed port number is reused */
	assert_int_equal(vswitch_port_add(&g_sw, "again", &g_ops, &g_s[1], 0, NULL), 1);
	vswitch_port_del(&g_sw, 99);
	vswitch_port_del(&g_sw, -1);
}

static void test_full(void **state)
{
	(void)state;
	setup_switch();
	/* ports: all the rest */
	for (int i = 4; i < VSW_MAX_PORTS; i++)
		assert_int_equal(vswitch_port_add(&g_sw, "x", &g_ops, &g_s[3], 0, NULL), i);
	assert_int_equal(vswitch_port_add(&g_sw, "x", &g_ops, &g_s[3], 0, NULL), -1);
	/* table: many more MACs than entries behind the uplink; the newest stay findable */
	for (int i = 0; i < 4 * VSW_TABLE; i++) {
		uint8_t m[6] = {0x02, 0, 0, (uint8_t)(i >> 8), (uint8_t)i, 7};
		send(3, BCAST, m, (uint64_t)i + 1);
		assert_int_equal(vswitch_lookup(&g_sw, m, (uint64_t)i + 1), 3);
	}
	assert_true(g_sw.evicted > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_learn_and_forward),
	    cmocka_unit_test(test_broadcast_multicast),
	    cmocka_unit_test(test_no_reflection_and_moves),
	    cmocka_unit_test(test_spoofing_and_bad_frames),
	    cmocka_unit_test(test_split_header),
	    cmocka_unit_test(test_ageing),
	    cmocka_unit_test(test_port_del_and_refusal),
	    cmocka_unit_test(test_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
