/*
 * TCP data transfer against a raw peer: RFC 6298 retransmission and backoff, fast retransmit
 * and NewReno partial ACKs (RFC 6582), zero window and probes, keepalive, delayed ACKs,
 * Nagle, out-of-order reassembly, receive-window reopening, zero-copy completions (exactly
 * once), and the built-in services over the simulated link.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "tests/unit/net_sim.h"

static struct rawpeer rp;
static struct test_app app;
static uint8_t blob[256 * 1024];

static int setup(void **state)
{
	rp_init(&rp, NULL);
	test_app_init(&app, 1 << 20);
	sim_pattern_fill(99, 0, blob, sizeof(blob));
	return 0;
}

static int teardown(void **state)
{
	rp_free(&rp);
	test_app_free(&app);
	return 0;
}

static struct net_stats stats(void)
{
	struct net_stats st;
	net_get_stats(rp.s, &st);
	return st;
}

static struct tcp_conn_info info(void)
{
	struct tcp_conn_info ci;
	tcp_get_info(app.c, &ci);
	return ci;
}

/* collect: read every captured data segment; returns how many. */
static int collect(struct rp_conn *pc, struct seg_view *out, int max)
{
	int n = 0;
	struct seg_view v;
	while (n < max && rp_next_tcp(&rp, &v)) {
		if (v.has_ts)
			pc->ts_recent = v.tsval;
		out[n++] = v;
	}
	return n;
}

/* RFC 6298: first RTO 1 s, doubling; SYN gives up after tcp_syn_retries; data after
 * tcp_max_retries with ETIMEDOUT and a RST. */
static void test_retransmit_backoff(void **state)
{
	struct seg_view v;
	int err;
	app.c = tcp_connect(rp.s, SIM_IP_B, 80, NULL, &test_app_cb, &app, rp.now, &err);
	assert_true(rp_next_tcp(&rp, &v));
	uint64_t expect = 1000000, t0 = rp.now;
	for (int i = 0; i < 6; i++) {
		rp_advance(&rp, expect - 1);
		assert_int_equal(rp_count_tcp(&rp), 0);
		rp_advance(&rp, 1);
		assert_true(rp_next_tcp(&rp, &v));
		assert_int_equal(v.flags, F_SYN);
		t0 += expect;
		expect *= 2;
	}
	rp_advance(&rp, expect);
	assert_int_equal(app.errs, 1);
	assert_int_equal(app.last_err, NET_ETIMEDOUT);

	/* data: RTO from the measured RTT (floor 200 ms), doubling per retry */
	struct rp_conn pc;
	test_app_free(&app);
	test_app_init(&app, 0);
	rp_advance(&rp, 50000);
	rp_establish_active(&rp, &app, &pc, 81, true, 0);
	assert_int_equal(info().rto_us, 200000);
	assert_int_equal(tcp_write(app.c, "data", 4, rp.now), 4);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.dlen, 4);
	uint64_t rto = 200000;
	for (int i = 0; i < 12; i++) {
		rp_advance(&rp, rto - 1);
		assert_int_equal(rp_count_tcp(&rp), 0);
		rp_advance(&rp, 1);
		rp_expect(&rp, &pc, &v);
		assert_int_equal(v.dlen, 4);
		assert_int_equal(v.seq, pc.rcv_nxt);
		rto = rto * 2 > 60000000 ? 60000000 : rto * 2;
	}
	assert_int_equal(stats().tcpx.rto_timeouts, 6 + 12);
	rp_advance(&rp, rto);
	assert_int_equal(app.errs, 1);
	assert_int_equal(app.last_err, NET_ETIMEDOUT);
	rp_expect(&rp, &pc, &v);
	assert_true(v.flags & F_RST);
}

/* RTO resets to the estimate after a fresh sample; RTT estimate in microseconds. */
static void test_rtt_estimate(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	rp_establish_active(&rp, &app, &pc, 82, true, 0);
	for (int i = 0; i < 40; i++) {
		tcp_write(app.c, "x", 1, rp.now);
		rp_expect(&rp, &pc, &v);
		pc.rcv_nxt += 1;
		rp_advance(&rp, 3000); /* 3 ms RTT */
		rp_seg(&rp, &pc, F_ACK, NULL, 0);
	}
	struct tcp_conn_info ci = info();
	assert_true(ci.srtt_us >= 2900 && ci.srtt_us <= 3100);
	assert_int_equal(ci.rto_us, 200000); /* clamped to rto_min */
}

/* setup_bulk: established conn with ws 0 peer window 64 KiB and n segments in flight. */
static void setup_bulk(struct rp_conn *pc, struct seg_view *segs, int n)
{
	rp_establish_active(&rp, &app, pc, 83, true, 4);
	pc->wnd = 65535; /* << 4 */
	tcp_set_nodelay(app.c, true);
	assert_int_equal(tcp_write(app.c, blob, (size_t)n * 1448, rp.now), n * 1448);
	/* slow start: IW 10 segments; ack them one by one to open cwnd */
	int got = collect(pc, segs, 64);
	assert_int_equal(got, 10);
}

/* Fast retransmit on the third duplicate ACK and NewReno partial ACKs (RFC 6582 3.2). */
static void test_fast_retransmit_newreno(void **state)
{
	struct rp_conn pc;
	struct seg_view segs[64], v;
	setup_bulk(&pc, segs, 40);
	uint32_t base = pc.rcv_nxt;
	/* ack the first 2 segments, then grow: cwnd 10 -> 14 */
	pc.rcv_nxt = base + 2 * 1448;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	int n = collect(&pc, segs, 64);
	assert_int_equal(n, 4); /* 2 acked + slow start growth 2 per ack (L = 2 SMSS) */
	/* segments 2 and 5 were lost: dupacks for 2 */
	for (int i = 0; i < 2; i++)
		rp_seg(&rp, &pc, F_ACK, NULL, 0);
	n = collect(&pc, segs, 64); /* limited transmit: one new segment per dupack */
	assert_int_equal(n, 2);
	assert_true(segs[0].seq >= base + 14 * 1448);
	rp_seg(&rp, &pc, F_ACK, NULL, 0); /* third dupack */
	n = collect(&pc, segs, 64);
	assert_true(n >= 1);
	assert_int_equal(segs[0].seq, base + 2 * 1448); /* fast retransmit of segment 2 */
	struct tcp_conn_info ci = info();
	assert_true(ci.in_recovery);
	assert_int_equal(stats().tcpx.fast_retransmits, 1);
	/* the retransmission arrives: partial ACK up to the second hole at segment 5 */
	pc.rcv_nxt = base + 5 * 1448;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	n = collect(&pc, segs, 64);
	assert_true(n >= 1);
	assert_int_equal(segs[0].seq, base + 5 * 1448); /* immediate retransmit of the hole */
	assert_int_equal(stats().tcpx.partial_acks, 1);
	assert_true(info().in_recovery);
	/* full ACK of everything sent before recovery started */
	pc.rcv_nxt = base + 16 * 1448;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	ci = info();
	assert_false(ci.in_recovery);
	assert_true(ci.cwnd <= ci.ssthresh);
	(void)v;
}

/* Zero window: nothing sent, probes with backoff, data resumes when the window opens even
 * if the window update is lost. */
static void test_zero_window_probe(void **state)
{
	struct rp_conn pc;
	struct seg_view segs[64];
	rp_establish_active(&rp, &app, &pc, 84, true, 0);
	pc.wnd = 2896;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	tcp_set_nodelay(app.c, true);
	assert_int_equal(tcp_write(app.c, blob, 5000, rp.now), 5000);
	int n = collect(&pc, segs, 64);
	assert_int_equal(n, 2);
	assert_int_equal(segs[0].dlen + segs[1].dlen, 2896);
	pc.rcv_nxt += 2896;
	pc.wnd = 0;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(collect(&pc, segs, 64), 0);
	uint64_t ivl = 200000;
	for (int i = 0; i < 4; i++) {
		rp_advance(&rp, ivl - 1);
		assert_int_equal(rp_count_tcp(&rp), 0);
		rp_advance(&rp, 1);
		n = collect(&pc, segs, 64);
		assert_int_equal(n, 1);
		assert_int_equal(segs[0].dlen, 0);
		assert_int_equal(segs[0].seq, pc.rcv_nxt - 1); /* SND.UNA - 1 */
		rp_seg(&rp, &pc, F_ACK, NULL, 0);              /* still zero */
		ivl *= 2;
	}
	assert_int_equal(stats().tcpx.zwin_probes, 4);
	assert_int_equal(app.errs, 0);
	/* the window opens; the update is lost; the next probe's answer restarts the flow */
	pc.wnd = 65535;
	rp_advance(&rp, ivl);
	n = collect(&pc, segs, 64);
	assert_int_equal(n, 1);
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	n = collect(&pc, segs, 64);
	assert_int_equal(n, 2); /* 2104 bytes: 1448 + 656 */
	assert_int_equal(segs[0].seq, pc.rcv_nxt);
}

/* Our receive window closes when the app does not consume; tcp_recved reopens it. */
static void test_receive_window(void **state)
{
	rp_free(&rp);
	struct net_config cfg;
	net_config_default(&cfg);
	cfg.tcp_rcvbuf = 8192;
	rp_init(&rp, &cfg);
	struct rp_conn pc;
	struct seg_view v;
	app.auto_recved = false;
	rp_establish_active(&rp, &app, &pc, 85, false, 0);
	assert_int_equal(info().rcv_wnd, 8192);
	for (int i = 0; i < 8; i++)
		rp_seg(&rp, &pc, F_ACK, blob + i * 1024, 1024);
	assert_int_equal(app.rcvd, 8192);
	v.wnd = 1;
	while (rp_next_tcp(&rp, &v))
		;
	assert_int_equal(v.wnd, 0);
	assert_int_equal(v.ack, pc.snd_nxt);
	rp_seg(&rp, &pc, F_ACK, blob, 100); /* beyond the window: dropped, ACKed */
	assert_int_equal(app.rcvd, 8192);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt - 100);
	assert_int_equal(v.wnd, 0);
	pc.snd_nxt -= 100;
	tcp_recved(app.c, 100, rp.now); /* too small to announce (SWS avoidance) */
	assert_int_equal(rp_count_tcp(&rp), 0);
	tcp_recved(app.c, 8092, rp.now);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.wnd, 8192);
	assert_memory_equal(app.buf, blob, 8192);
}

/* Delayed ACKs: one segment waits for the timer, two are acked at once, out-of-order
 * data is acked at once (RFC 5681 4.2). */
static void test_delayed_ack(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	rp_establish_active(&rp, &app, &pc, 86, true, 5);
	/* quick-ACK mode: the first 16 segments are acked at once (helps slow start) */
	for (int i = 0; i < 16; i++) {
		rp_seg(&rp, &pc, F_ACK, blob, 100);
		rp_expect(&rp, &pc, &v);
		assert_int_equal(v.ack, pc.snd_nxt);
	}
	rp_drain(&rp);
	rp_seg(&rp, &pc, F_ACK, blob + 1448, 1000);
	assert_int_equal(rp_count_tcp(&rp), 0);
	rp_advance(&rp, 39999);
	assert_int_equal(rp_count_tcp(&rp), 0);
	rp_advance(&rp, 1);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt);
	assert_int_equal(stats().tcpx.delayed_acks, 1);
	rp_seg(&rp, &pc, F_ACK, blob, 1448);
	rp_seg(&rp, &pc, F_ACK, blob, 1448);
	rp_expect(&rp, &pc, &v); /* every second full segment */
	assert_int_equal(v.ack, pc.snd_nxt);
	pc.snd_nxt += 500; /* a hole */
	rp_seg(&rp, &pc, F_ACK, blob, 300);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt - 800); /* immediate duplicate ACK */
	pc.snd_nxt -= 800;
	rp_seg(&rp, &pc, F_ACK, blob, 500); /* fills the gap: immediate ACK */
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt + 300);
	pc.snd_nxt += 300;
	rp_seg(&rp, &pc, F_ACK, blob, 100); /* after reordering: quick-ACK mode again */
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt);
}

/* Out-of-order segments (overlapping, duplicated) are reassembled in order. */
static void test_reassembly(void **state)
{
	struct rp_conn pc;
	rp_establish_active(&rp, &app, &pc, 87, false, 0);
	uint32_t base = pc.snd_nxt;
	static const struct {
		uint32_t off, len;
	} pieces[] = {{3000, 1000}, {5000, 500}, {3500, 2000}, {1000, 500}, {0, 700},
	              {6000, 100},  {600, 900},  {1400, 1700}, {5400, 700}, {3000, 1000}};
	for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		pc.snd_nxt = base + pieces[i].off;
		rp_seg(&rp, &pc, F_ACK, blob + pieces[i].off, pieces[i].len);
	}
	assert_int_equal(app.rcvd, 6100);
	assert_memory_equal(app.buf, blob, 6100);
	assert_int_equal(info().rcv_queue, 0);
	/* FIN out of order, then the gap */
	pc.snd_nxt = base + 6200;
	rp_seg(&rp, &pc, F_FIN | F_ACK, blob + 6200, 100);
	assert_int_equal(app.eofs, 0);
	pc.snd_nxt = base + 6100;
	rp_seg(&rp, &pc, F_ACK, blob + 6100, 100);
	assert_int_equal(app.eofs, 1);
	assert_int_equal(app.rcvd, 6300);
	assert_memory_equal(app.buf, blob, 6300);
	assert_int_equal(tcp_get_state(app.c), TCP_CLOSE_WAIT);
}

/* Nagle: small writes coalesce while data is unacknowledged. */
static void test_nagle(void **state)
{
	struct rp_conn pc;
	struct seg_view segs[16];
	rp_establish_active(&rp, &app, &pc, 88, false, 0);
	tcp_write(app.c, "a", 1, rp.now);
	assert_int_equal(collect(&pc, segs, 16), 1);
	for (int i = 0; i < 10; i++)
		tcp_write(app.c, "b", 1, rp.now);
	assert_int_equal(collect(&pc, segs, 16), 0);
	pc.rcv_nxt += 1;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(collect(&pc, segs, 16), 1);
	assert_int_equal(segs[0].dlen, 10);
	tcp_set_nodelay(app.c, true);
	tcp_write(app.c, "c", 1, rp.now);
	assert_int_equal(collect(&pc, segs, 16), 1);
}

static int done_calls[64], done_errs[64];

static void zc_done(void *arg, int err)
{
	int i = (int)(intptr_t)arg;
	done_calls[i]++;
	done_errs[i] = err;
}

/* Zero-copy: each completion fires exactly once, when its last byte is acked, or with an
 * error if the connection dies; after tcp_close they still fire. */
static void test_zero_copy_completions(void **state)
{
	struct rp_conn pc;
	struct seg_view segs[64];
	memset(done_calls, 0, sizeof(done_calls));
	rp_establish_active(&rp, &app, &pc, 89, true, 0);
	tcp_set_nodelay(app.c, true);
	for (int i = 0; i < 8; i++)
		assert_int_equal(tcp_write_ref(app.c, blob + i * 4096, 4096, zc_done,
		                               (void *)(intptr_t)i, rp.now),
		                 0);
	assert_int_equal(tcp_write_ref(app.c, blob, 0, zc_done, NULL, rp.now), NET_EINVAL);
	int n = collect(&pc, segs, 64);
	assert_int_equal(n, 10); /* IW10 */
	for (int k = 0; k < n; k++)
		assert_memory_equal(segs[k].data, blob + (segs[k].seq - pc.rcv_nxt), segs[k].dlen);
	pc.rcv_nxt += 4095; /* one byte short of the first page */
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(done_calls[0], 0);
	pc.rcv_nxt += 1 + 4096;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(done_calls[0], 1);
	assert_int_equal(done_calls[1], 1);
	assert_int_equal(done_errs[0], 0);
	assert_int_equal(done_calls[2], 0);
	assert_int_equal(app.acked, 8192);
	/* close: completions continue for acked data */
	tcp_close(app.c, rp.now);
	collect(&pc, segs, 64);
	pc.rcv_nxt += 4096;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(done_calls[2], 1);
	/* the peer resets: the rest complete with an error, once */
	rp_tcp(&rp, pc.port, pc.sport, pc.snd_nxt, 0, F_RST, 0, NULL, 0, NULL, 0);
	for (int i = 3; i < 8; i++) {
		assert_int_equal(done_calls[i], 1);
		assert_int_equal(done_errs[i], NET_ECONNRESET);
	}
	assert_int_equal(app.errs, 0); /* detached: no err callback */
	rp_advance(&rp, 100000000);
	for (int i = 0; i < 8; i++)
		assert_int_equal(done_calls[i], 1);

	/* abort: completions with NET_ECONNABORTED; destroy: likewise */
	memset(done_calls, 0, sizeof(done_calls));
	test_app_free(&app);
	test_app_init(&app, 0);
	rp_establish_active(&rp, &app, &pc, 90, true, 0);
	tcp_write_ref(app.c, blob, 100, zc_done, (void *)(intptr_t)10, rp.now);
	tcp_abort(app.c, rp.now);
	assert_int_equal(done_calls[10], 1);
	assert_int_equal(done_errs[10], NET_ECONNABORTED);
	test_app_free(&app);
	test_app_init(&app, 0);
	rp_establish_active(&rp, &app, &pc, 91, true, 0);
	tcp_write_ref(app.c, blob, 100, zc_done, (void *)(intptr_t)11, rp.now);
	rp_free(&rp);
	assert_int_equal(done_calls[11], 1);
	assert_int_equal(app.errs, 1);
	rp_init(&rp, NULL);
}

/* Keepalive: probes after idle, an answer resets, silence aborts (RFC 9293 3.8.4). */
static void test_keepalive(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	rp_establish_active(&rp, &app, &pc, 92, true, 0);
	tcp_set_keepalive(app.c, 10000000, 1000000, 3);
	rp_advance(&rp, 9999999);
	assert_int_equal(rp_count_tcp(&rp), 0);
	rp_advance(&rp, 1);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.seq, pc.rcv_nxt - 1);
	rp_advance(&rp, 100);
	rp_seg(&rp, &pc, F_ACK, NULL, 0); /* the peer answers */
	rp_advance(&rp, 9999000);
	assert_int_equal(rp_count_tcp(&rp), 0);
	rp_advance(&rp, 1000);
	assert_int_equal(rp_count_tcp(&rp), 1);
	rp_advance(&rp, 1000000);
	rp_advance(&rp, 1000000);
	assert_int_equal(rp_count_tcp(&rp), 3);
	assert_int_equal(app.errs, 0);
	rp_advance(&rp, 1000000);
	assert_int_equal(app.errs, 1);
	assert_int_equal(app.last_err, NET_ETIMEDOUT);
	assert_int_equal(stats().tcpx.keepalive_probes, 4);
	assert_int_equal(stats().tcpx.keepalive_drops, 1);
}

/* Copying send respects sndbuf; the sent callback reports freed space. */
static void test_copy_send_buffer(void **state)
{
	rp_free(&rp);
	struct net_config cfg;
	net_config_default(&cfg);
	cfg.tcp_sndbuf = 10000;
	rp_init(&rp, &cfg);
	struct rp_conn pc;
	struct seg_view segs[64];
	rp_establish_active(&rp, &app, &pc, 93, false, 0);
	assert_int_equal(tcp_sndbuf_space(app.c), 10000);
	assert_int_equal(tcp_write(app.c, blob, 30000, rp.now), 10000);
	assert_int_equal(tcp_write(app.c, blob, 10, rp.now), 0);
	int n = collect(&pc, segs, 64);
	assert_int_equal(n, 6); /* 6 x 1460; Nagle holds the 1240-byte tail */
	pc.rcv_nxt += 4000;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(app.acked, 4000);
	assert_int_equal(tcp_sndbuf_space(app.c), 4000);
	tcp_shutdown(app.c, rp.now);
	assert_int_equal(tcp_write(app.c, blob, 10, rp.now), NET_EPIPE);
	assert_int_equal(tcp_write_ref(app.c, blob, 10, NULL, NULL, rp.now), NET_EPIPE);
}

/* establish_sack: active open where the peer offers SACK, timestamps and window scale. */
static void establish_sack(struct rp_conn *pc, uint16_t port)
{
	struct seg_view v;
	int err;
	rp_drain(&rp);
	app.c = tcp_connect(rp.s, SIM_IP_B, port, NULL, &test_app_cb, &app, rp.now, &err);
	rp_expect(&rp, pc, &v);
	assert_true(v.has_sackok);
	memset(pc, 0, sizeof(*pc));
	pc->port = port;
	pc->sport = v.sport;
	pc->snd_nxt = 0x30000000;
	pc->rcv_nxt = v.seq + 1;
	pc->wnd = 65535;
	pc->tsval = 100;
	uint8_t o[40];
	size_t olen = rp_syn_opts(o, 1460, 4, true, pc->tsval, v.tsval);
	o[olen++] = 1;
	o[olen++] = 1;
	o[olen++] = 4; /* SACK permitted */
	o[olen++] = 2;
	rp_tcp(&rp, port, pc->sport, pc->snd_nxt, pc->rcv_nxt, F_SYN | F_ACK, pc->wnd, o, olen,
	       NULL, 0);
	pc->snd_nxt++;
	pc->ts = true;
	rp_expect(&rp, pc, &v);
	assert_true(info().sack);
}

/* rp_sack_ack: ACK ack with SACK blocks (pairs of offsets from base) and a timestamp. */
static void rp_sack_ack(struct rp_conn *pc, uint32_t base, const uint32_t (*blk)[2], int n)
{
	uint8_t o[40] = {1, 1, 8, 10};
	uint32_t v = ++pc->tsval;
	for (int i = 0; i < 4; i++) {
		o[4 + i] = (uint8_t)(v >> (24 - 8 * i));
		o[8 + i] = (uint8_t)(pc->ts_recent >> (24 - 8 * i));
	}
	size_t olen = 12;
	if (n) {
		o[olen++] = 1;
		o[olen++] = 1;
		o[olen++] = 5;
		o[olen++] = (uint8_t)(2 + 8 * n);
		for (int b = 0; b < n; b++)
			for (int k = 0; k < 2; k++) {
				uint32_t x = base + blk[b][k];
				for (int i = 0; i < 4; i++)
					o[olen++] = (uint8_t)(x >> (24 - 8 * i));
			}
	}
	rp_tcp(&rp, pc->port, pc->sport, pc->snd_nxt, pc->rcv_nxt, F_ACK, pc->wnd, o, olen, NULL,
	       0);
}

/* SACK receiver: blocks in our ACKs, newest first, merged (RFC 2018 4). */
static void test_sack_receiver(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	establish_sack(&pc, 94);
	uint32_t base = pc.snd_nxt;
	pc.snd_nxt = base + 1000;
	rp_seg(&rp, &pc, F_ACK, blob + 1000, 1000);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, base);
	assert_int_equal(v.nsack, 1);
	assert_int_equal(v.sack[0][0], base + 1000);
	assert_int_equal(v.sack[0][1], base + 2000);
	pc.snd_nxt = base + 3000;
	rp_seg(&rp, &pc, F_ACK, blob + 3000, 1000);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.nsack, 2);
	assert_int_equal(v.sack[0][0], base + 3000); /* the newest first */
	assert_int_equal(v.sack[1][0], base + 1000);
	pc.snd_nxt = base + 2000;
	rp_seg(&rp, &pc, F_ACK, blob + 2000, 1000);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.nsack, 1);
	assert_int_equal(v.sack[0][0], base + 1000);
	assert_int_equal(v.sack[0][1], base + 4000);
	pc.snd_nxt = base;
	rp_seg(&rp, &pc, F_ACK, blob, 1000);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, base + 4000);
	assert_int_equal(v.nsack, 0);
	assert_int_equal(app.rcvd, 4000);
	assert_memory_equal(app.buf, blob, 4000);
}

/* SACK sender: two holes are both retransmitted within one round trip (RFC 6675), and a
 * tail loss is repaired by a probe, not an RTO (RFC 8985). */
static void test_sack_sender(void **state)
{
	struct rp_conn pc;
	struct seg_view segs[64];
	establish_sack(&pc, 95);
	tcp_set_nodelay(app.c, true);
	uint32_t base = pc.rcv_nxt, m = info().mss;
	assert_int_equal(m, 1448);
	tcp_write(app.c, blob, 20 * m, rp.now);
	assert_int_equal(collect(&pc, segs, 64), 10);
	/* segments 1 and 5 lost: ACK 1, SACK 2-4 and 6-9 */
	pc.rcv_nxt = base + m;
	static const uint32_t blk[2][2] = {{6 * 1448, 10 * 1448}, {2 * 1448, 5 * 1448}};
	rp_sack_ack(&pc, base, blk, 2);
	int n = collect(&pc, segs, 64);
	assert_true(n >= 2);
	assert_int_equal(segs[0].seq, base + m);     /* first hole */
	assert_int_equal(segs[1].seq, base + 5 * m); /* second hole, same round trip */
	struct tcp_conn_info ci = info();
	assert_true(ci.in_recovery);
	struct net_stats st = stats();
	assert_int_equal(st.tcpx.sack_recoveries, 1);
	assert_int_equal(st.tcpx.rto_timeouts, 0);
	/* both arrive: everything up to segment 10 acked: recovery ends */
	pc.rcv_nxt = base + 10 * m;
	rp_sack_ack(&pc, base, NULL, 0);
	ci = info();
	assert_false(ci.in_recovery);
	assert_int_equal(ci.cwnd, ci.ssthresh);
	collect(&pc, segs, 64);
	/* tail loss: of the last two segments in flight the last is lost */
	pc.rcv_nxt = ci.snd_nxt - m;
	rp_advance(&rp, 300);
	rp_sack_ack(&pc, base, NULL, 0);
	collect(&pc, segs, 64);
	ci = info();
	uint32_t last = ci.snd_nxt - (ci.snd_nxt - pc.rcv_nxt);
	rp_advance(&rp, 45000); /* PTO: 2 SRTT (+ 40 ms delayed-ACK allowance for 1 segment) */
	n = collect(&pc, segs, 64);
	assert_true(n >= 1);
	assert_int_equal(stats().tcpx.tlp_probes, 1);
	assert_true(segs[n - 1].seq >= last);
	assert_int_equal(stats().tcpx.rto_timeouts, 0);
}

/* ---- services over the simulated link -------------------------------------------------- */

struct svc_client {
	struct sim *sm;
	size_t rcvd, sent;
	bool eof, err, mismatch;
	uint8_t *buf;
	size_t cap;
	struct tcp_conn *c;
};

static void sc_recv(void *arg, struct tcp_conn *c, const void *d, size_t len)
{
	struct svc_client *k = arg;
	if (!d) {
		k->eof = true;
		tcp_close(c, k->sm->now);
		k->c = NULL;
		return;
	}
	if (k->buf && k->rcvd + len <= k->cap)
		memcpy(k->buf + k->rcvd, d, len);
	k->rcvd += len;
	tcp_recved(c, len, k->sm->now);
}

static void sc_err(void *arg, struct tcp_conn *c, int err)
{
	struct svc_client *k = arg;
	k->err = true;
	k->c = NULL;
}

static const struct tcp_callbacks sc_cb = {.recv = sc_recv, .err = sc_err};

static bool got_bytes(void *arg)
{
	struct svc_client *k = arg;
	return k->rcvd >= k->cap || k->err;
}

static bool got_eof(void *arg)
{
	struct svc_client *k = arg;
	return k->eof || k->err;
}

static void test_services(void **state)
{
	struct sim sm;
	sim_init(&sm, 5, NULL);
	assert_int_equal(
	    net_services_set(sm.node[1].s, NET_SVC_ECHO | NET_SVC_DISCARD | NET_SVC_CHARGEN), 0);
	assert_int_equal(net_services_get(sm.node[1].s), 7);
	int err;
	/* echo: 200 KB round trip, compared */
	struct svc_client k = {.sm = &sm, .cap = 200000};
	k.buf = malloc(k.cap);
	k.c = tcp_connect(sm.node[0].s, SIM_IP_B, 7, NULL, &sc_cb, &k, sm.now, &err);
	sim_run_for(&sm, 10000);
	size_t off = 0;
	while (off < k.cap) {
		long w = tcp_write(k.c, blob + off % 100000,
		                   k.cap - off > 100000 ? 100000 : k.cap - off, sm.now);
		assert_true(w >= 0);
		off += (size_t)w;
		sim_run_for(&sm, 1000);
	}
	assert_true(sim_run(&sm, sm.now + 10000000, got_bytes, &k));
	for (size_t i = 0; i < k.cap; i += 100000)
		assert_memory_equal(k.buf + i, blob, k.cap - i < 100000 ? k.cap - i : 100000);
	tcp_shutdown(k.c, sm.now);
	assert_true(sim_run(&sm, sm.now + 10000000, got_eof, &k));
	free(k.buf);

	/* chargen: RFC 864 lines, a megabyte streamed */
	struct svc_client g = {.sm = &sm, .cap = 1 << 20};
	g.buf = malloc(g.cap);
	g.c = tcp_connect(sm.node[0].s, SIM_IP_B, 19, NULL, &sc_cb, &g, sm.now, &err);
	assert_true(sim_run(&sm, sm.now + 10000000, got_bytes, &g));
	assert_memory_equal(g.buf, " !\"#$%&'()*+,-./0123456789", 26);
	assert_int_equal(g.buf[72], '\r');
	assert_int_equal(g.buf[73], '\n');
	assert_int_equal(g.buf[74], '!');
	assert_int_equal(g.buf[7030], ' '); /* the pattern repeats */
	tcp_abort(g.c, sm.now);
	free(g.buf);

	/* discard: data vanishes, the window keeps opening */
	struct svc_client d = {.sm = &sm};
	d.c = tcp_connect(sm.node[0].s, SIM_IP_B, 9, NULL, &sc_cb, &d, sm.now, &err);
	sim_run_for(&sm, 10000);
	for (int i = 0; i < 40; i++) {
		assert_true(tcp_write(d.c, blob, sizeof(blob), sm.now) >= 0);
		sim_run_for(&sm, 5000);
	}
	tcp_shutdown(d.c, sm.now);
	assert_true(sim_run(&sm, sm.now + 10000000, got_eof, &d));
	assert_int_equal(d.rcvd, 0);
	struct tcp_conn_info ci[8];
	sim_run_for(&sm, 100000000);
	size_t n = tcp_snapshot(sm.node[1].s, ci, 8);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(ci[i].state, TCP_ESTABLISHED);
	assert_int_equal(net_services_set(sm.node[1].s, 0), 0);
	assert_int_equal(net_services_get(sm.node[1].s), 0);
	sim_free(&sm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_retransmit_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rtt_estimate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fast_retransmit_newreno, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_window_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delayed_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reassembly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nagle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_copy_completions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_send_buffer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sack_receiver, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sack_sender, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_services, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
