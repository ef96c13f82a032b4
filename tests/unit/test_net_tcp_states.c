/*
 * TCP state machine (RFC 9293 3.3.2 figure 5) against a raw peer: every transition including
 * simultaneous open and close, TIME_WAIT, RST in each state (RFC 5961), option negotiation
 * (MSS, window scale, timestamps), SYN backlog and SYN cookies, TIME_WAIT reuse.
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

static int setup(void **state)
{
	rp_init(&rp, NULL);
	test_app_init(&app, 1 << 20);
	return 0;
}

static int teardown(void **state)
{
	rp_free(&rp);
	test_app_free(&app);
	return 0;
}

/* app_reset: a fresh recording app (frees the previous buffer). */
static void app_reset(size_t cap)
{
	test_app_free(&app);
	test_app_init(&app, cap);
}

static struct net_stats stats(void)
{
	struct net_stats st;
	net_get_stats(rp.s, &st);
	return st;
}

static size_t nconns(void)
{
	struct tcp_conn_info info[8];
	return tcp_snapshot(rp.s, info, 8);
}

/* Active open, our close first: SYN_SENT -> ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 ->
 * TIME_WAIT -> CLOSED, with option negotiation checked. */
static void test_active_open_close(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	int err;
	app.c = tcp_connect(rp.s, SIM_IP_B, 80, NULL, &test_app_cb, &app, rp.now, &err);
	assert_non_null(app.c);
	assert_int_equal(tcp_get_state(app.c), TCP_SYN_SENT);
	assert_true(rp_next_tcp(&rp, &v));
	assert_int_equal(v.flags, F_SYN);
	assert_true(v.has_mss && v.has_ws && v.has_ts);
	assert_int_equal(v.mss, 1460);
	assert_int_equal(v.ws, 5); /* 1 MiB default buffer */
	assert_int_equal(v.wnd, 65535);
	assert_true(v.sport >= 49152);
	rp_drain(&rp);
	tcp_abort(app.c, rp.now);

	rp_establish_active(&rp, &app, &pc, 80, true, 7);
	struct tcp_conn_info ci;
	tcp_get_info(app.c, &ci);
	assert_int_equal(ci.state, TCP_ESTABLISHED);
	assert_int_equal(ci.snd_wscale, 7);
	assert_int_equal(ci.rcv_wscale, 5);
	assert_true(ci.timestamps);
	assert_int_equal(ci.mss, 1460 - 12);

	assert_int_equal(tcp_close(app.c, rp.now), 0);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.flags, F_FIN | F_ACK);
	assert_int_equal(v.wnd, (1u << 20) >> 5); /* scaled window after the handshake */
	assert_true(v.has_ts);
	assert_int_equal(v.tsecr, pc.tsval); /* echoes the peer's latest TSval */
	assert_int_equal(rp_state(&rp), TCP_FIN_WAIT_1);
	pc.rcv_nxt++;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(rp_state(&rp), TCP_FIN_WAIT_2);
	rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0);
	assert_int_equal(rp_state(&rp), TCP_TIME_WAIT);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.flags, F_ACK);
	assert_int_equal(v.ack, pc.snd_nxt);
	/* a retransmitted FIN in TIME_WAIT is acked again */
	pc.snd_nxt--;
	rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt);
	rp_advance(&rp, 59000000);
	assert_int_equal(rp_state(&rp), TCP_TIME_WAIT);
	rp_advance(&rp, 2000000); /* 2 MSL = 60 s */
	assert_int_equal(nconns(), 0);
	assert_int_equal(app.errs, 0);
}

/* Passive open, peer closes first: LISTEN -> SYN_RCVD -> ESTABLISHED -> CLOSE_WAIT ->
 * LAST_ACK -> CLOSED. */
static void test_passive_open_close(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	struct tcp_listener *l = rp_establish_passive(&rp, &app, &pc, 80, true, 2);
	const char msg[] = "hello";
	struct tcp_conn_info ci;
	tcp_get_info(app.c, &ci);
	assert_int_equal(ci.snd_wscale, 2);
	assert_int_equal(ci.rcv_wscale, 5);
	assert_int_equal(ci.snd_wnd, 65535u << 2);
	rp_seg(&rp, &pc, F_ACK | F_PSH, msg, 5);
	assert_int_equal(app.rcvd, 5);
	assert_memory_equal(app.buf, msg, 5);
	rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0);
	assert_int_equal(app.eofs, 1);
	assert_int_equal(tcp_get_state(app.c), TCP_CLOSE_WAIT);
	do /* skip the window update the first tcp_recved sends (64 KiB -> 1 MiB) */
		rp_expect(&rp, &pc, &v);
	while (v.ack != pc.snd_nxt && rp_count_tcp(&rp));
	assert_int_equal(v.ack, pc.snd_nxt);                     /* data + FIN acked */
	assert_int_equal(tcp_write(app.c, "bye", 3, rp.now), 3); /* sending still allowed */
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.dlen, 3);
	pc.rcv_nxt += 3;
	tcp_close(app.c, rp.now);
	assert_int_equal(rp_state(&rp), TCP_LAST_ACK);
	rp_expect(&rp, &pc, &v);
	assert_true(v.flags & F_FIN);
	pc.rcv_nxt++;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(nconns(), 0);
	tcp_listen_close(l);
}

/* Simultaneous open (RFC 9293 figure 8): SYN_SENT -> SYN_RCVD -> ESTABLISHED. */
static void test_simultaneous_open(void **state)
{
	struct seg_view v;
	int err;
	app.c = tcp_connect(rp.s, SIM_IP_B, 6000, NULL, &test_app_cb, &app, rp.now, &err);
	assert_true(rp_next_tcp(&rp, &v));
	uint32_t iss = v.seq;
	uint16_t sport = v.sport;
	uint8_t o[40];
	size_t olen = rp_syn_opts(o, 1400, 3, true, 100, 0);
	rp_tcp(&rp, 6000, sport, 5000, 0, F_SYN, 65535, o, olen, NULL, 0);
	assert_int_equal(tcp_get_state(app.c), TCP_SYN_RCVD);
	assert_true(rp_next_tcp(&rp, &v));
	assert_int_equal(v.flags, F_SYN | F_ACK);
	assert_int_equal(v.seq, iss);
	assert_int_equal(v.ack, 5001);
	assert_true(v.has_ws && v.has_ts && v.has_mss);
	assert_int_equal(app.connected, 0);
	/* the peer's SYN-ACK completes the handshake */
	olen = rp_syn_opts(o, 1400, 3, true, 101, v.tsval);
	rp_tcp(&rp, 6000, sport, 5000, iss + 1, F_SYN | F_ACK, 65535, o, olen, NULL, 0);
	assert_int_equal(tcp_get_state(app.c), TCP_ESTABLISHED);
	assert_int_equal(app.connected, 1);
	struct tcp_conn_info ci;
	tcp_get_info(app.c, &ci);
	assert_int_equal(ci.snd_wscale, 3);
	assert_int_equal(ci.mss, 1400 - 12);
}

/* Simultaneous close: FIN_WAIT_1 -> CLOSING -> TIME_WAIT, and FIN+ACK straight from
 * FIN_WAIT_1 to TIME_WAIT. */
static void test_simultaneous_close(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	rp_establish_active(&rp, &app, &pc, 81, true, 0);
	tcp_shutdown(app.c, rp.now);
	rp_expect(&rp, &pc, &v);
	assert_true(v.flags & F_FIN);
	/* the peer's FIN crosses ours: it does not ack our FIN */
	rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0);
	assert_int_equal(tcp_get_state(app.c), TCP_CLOSING);
	assert_int_equal(app.eofs, 1);
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt);
	pc.rcv_nxt++;
	rp_seg(&rp, &pc, F_ACK, NULL, 0);
	assert_int_equal(tcp_get_state(app.c), TCP_TIME_WAIT);
	/* the handle stays valid (the app has not closed it) until tcp_close */
	rp_advance(&rp, 61000000);
	assert_int_equal(tcp_get_state(app.c), TCP_CLOSED);
	tcp_close(app.c, rp.now);
	rp_advance(&rp, 1);
	assert_int_equal(nconns(), 0);

	app_reset(0);
	rp_establish_active(&rp, &app, &pc, 82, false, -1);
	tcp_close(app.c, rp.now);
	rp_expect(&rp, &pc, &v);
	pc.rcv_nxt++;
	rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0); /* acks our FIN and carries its own */
	assert_int_equal(rp_state(&rp), TCP_TIME_WAIT);
}

/* RST in SYN_SENT: only an acceptable RST+ACK resets (RFC 9293 3.10.7.3). */
static void test_rst_syn_sent(void **state)
{
	struct seg_view v;
	int err;
	app.c = tcp_connect(rp.s, SIM_IP_B, 7000, NULL, &test_app_cb, &app, rp.now, &err);
	assert_true(rp_next_tcp(&rp, &v));
	rp_tcp(&rp, 7000, v.sport, 0, 0, F_RST, 0, NULL, 0, NULL, 0); /* no ACK: ignored */
	rp_tcp(&rp, 7000, v.sport, 0, v.seq + 5, F_RST | F_ACK, 0, NULL, 0, NULL, 0); /* bad */
	assert_int_equal(tcp_get_state(app.c), TCP_SYN_SENT);
	rp_tcp(&rp, 7000, v.sport, 0, v.seq + 1, F_RST | F_ACK, 0, NULL, 0, NULL, 0);
	assert_int_equal(app.errs, 1);
	assert_int_equal(app.last_err, NET_ECONNREFUSED);
	rp_advance(&rp, 1);
	assert_int_equal(nconns(), 0);
}

/* RST in SYN_RCVD: a passive child goes back to LISTEN quietly; a wrong sequence number
 * only draws a challenge ACK (RFC 5961 3.2). */
static void test_rst_syn_rcvd(void **state)
{
	struct seg_view v;
	int err;
	struct tcp_listener *l = tcp_listen(rp.s, 0, 90, 0, NULL, test_app_accept, &app, &err);
	rp_tcp(&rp, 1234, 90, 100, 0, F_SYN, 8192, NULL, 0, NULL, 0);
	assert_true(rp_next_tcp(&rp, &v));
	assert_int_equal(v.mss, 1460);
	assert_false(v.has_ws); /* the peer offered none */
	assert_false(v.has_ts);
	assert_int_equal(rp_state(&rp), TCP_SYN_RCVD);
	rp_tcp(&rp, 1234, 90, 105, 0, F_RST, 0, NULL, 0, NULL, 0); /* in window, not exact */
	assert_int_equal(rp_state(&rp), TCP_SYN_RCVD);
	assert_true(rp_next_tcp(&rp, &v));
	assert_int_equal(v.flags, F_SYN | F_ACK); /* our "ACK" in SYN_RCVD is the SYN-ACK */
	rp_tcp(&rp, 1234, 90, 101, 0, F_RST, 0, NULL, 0, NULL, 0);
	rp_advance(&rp, 1);
	assert_int_equal(nconns(), 0);
	assert_int_equal(app.accepted, 0);
	/* the listener still works */
	rp_tcp(&rp, 1235, 90, 100, 0, F_SYN, 8192, NULL, 0, NULL, 0);
	assert_int_equal(rp_state(&rp), TCP_SYN_RCVD);
	tcp_listen_close(l);
	rp_advance(&rp, 1);
	assert_int_equal(nconns(), 0);
}

/* RST handling in the synchronized states. */
static void test_rst_synchronized(void **state)
{
	static const enum tcp_state states[] = {TCP_ESTABLISHED, TCP_FIN_WAIT_1, TCP_FIN_WAIT_2,
	                                        TCP_CLOSE_WAIT,  TCP_CLOSING,    TCP_LAST_ACK,
	                                        TCP_TIME_WAIT};
	for (unsigned i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		struct rp_conn pc;
		struct seg_view v;
		app_reset(0);
		rp_establish_active(&rp, &app, &pc, (uint16_t)(100 + i), true, 0);
		enum tcp_state want = states[i];
		bool fin_out = want == TCP_FIN_WAIT_1 || want == TCP_CLOSING ||
		               want == TCP_LAST_ACK; /* our FIN unacknowledged */
		if (want == TCP_FIN_WAIT_1 || want == TCP_FIN_WAIT_2 || want == TCP_CLOSING ||
		    want == TCP_TIME_WAIT) {
			tcp_shutdown(app.c, rp.now);
			rp_expect(&rp, &pc, &v);
			if (want != TCP_FIN_WAIT_1 && want != TCP_CLOSING)
				pc.rcv_nxt++;
			if (want == TCP_CLOSING || want == TCP_TIME_WAIT)
				rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0);
			else if (want == TCP_FIN_WAIT_2)
				rp_seg(&rp, &pc, F_ACK, NULL, 0);
		} else if (want == TCP_CLOSE_WAIT || want == TCP_LAST_ACK) {
			rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0);
			if (want == TCP_LAST_ACK)
				tcp_shutdown(app.c, rp.now);
		}
		assert_int_equal(tcp_get_state(app.c), want);
		rp_drain(&rp);
		struct net_stats before = stats();
		/* out of window: dropped silently */
		rp_tcp(&rp, pc.port, pc.sport, pc.snd_nxt + 10000000, 0, F_RST, 0, NULL, 0, NULL,
		       0);
		assert_int_equal(rp_count_tcp(&rp), 0);
		/* in window but not exact: challenge ACK */
		rp_tcp(&rp, pc.port, pc.sport, pc.snd_nxt + 10, 0, F_RST, 0, NULL, 0, NULL, 0);
		assert_int_equal(tcp_get_state(app.c), want);
		if (want != TCP_TIME_WAIT) {
			assert_true(rp_next_tcp(&rp, &v));
			assert_int_equal(v.flags, F_ACK);
			assert_int_equal(v.seq, pc.rcv_nxt + fin_out);
			assert_int_equal(stats().tcpx.challenge_acks,
			                 before.tcpx.challenge_acks + 1);
		}
		/* exact: the connection is reset */
		rp_tcp(&rp, pc.port, pc.sport, pc.snd_nxt, 0, F_RST, 0, NULL, 0, NULL, 0);
		bool reset_err = want == TCP_ESTABLISHED || want == TCP_FIN_WAIT_1 ||
		                 want == TCP_FIN_WAIT_2 || want == TCP_CLOSE_WAIT ||
		                 want == TCP_CLOSING || want == TCP_LAST_ACK;
		if (reset_err) {
			assert_int_equal(app.errs, 1);
			assert_int_equal(app.last_err, NET_ECONNRESET);
		} else {
			assert_int_equal(app.errs, 0);
			assert_int_equal(tcp_get_state(app.c), TCP_CLOSED);
			tcp_close(app.c, rp.now);
		}
		rp_advance(&rp, 1);
		assert_int_equal(nconns(), 0);
		assert_int_equal(stats().tcpx.rst_rcvd, before.tcpx.rst_rcvd + 1);
	}
}

/* A RST to a listener is ignored; segments to closed ports get RSTs (RFC 9293 3.10.7.1). */
static void test_rst_listen_and_closed(void **state)
{
	struct seg_view v;
	int err;
	struct tcp_listener *l = tcp_listen(rp.s, 0, 91, 0, NULL, test_app_accept, &app, &err);
	rp_tcp(&rp, 1, 91, 5, 0, F_RST, 0, NULL, 0, NULL, 0);
	assert_int_equal(rp_count_tcp(&rp), 0);
	rp_tcp(&rp, 1, 91, 5, 77, F_ACK, 0, NULL, 0, NULL, 0); /* ACK to LISTEN: RST */
	assert_true(rp_next_tcp(&rp, &v));
	assert_int_equal(v.flags, F_RST);
	assert_int_equal(v.seq, 77);
	rp_tcp(&rp, 1, 92, 5, 0, F_SYN, 0, NULL, 0, "ab", 2); /* closed port */
	assert_true(rp_next_tcp(&rp, &v));
	assert_int_equal(v.flags, F_RST | F_ACK);
	assert_int_equal(v.seq, 0);
	assert_int_equal(v.ack, 5 + 1 + 2);
	rp_tcp(&rp, 1, 92, 5, 0, F_RST, 0, NULL, 0, NULL, 0); /* RST to closed: silence */
	assert_int_equal(rp_count_tcp(&rp), 0);
	assert_true(stats().drops[NET_DROP_NO_LISTENER] >= 2);
	tcp_listen_close(l);
}

/* SYN in a synchronized state: challenge ACK, connection intact (RFC 5961 4.2); ACK of
 * unsent data: ACK and drop; old TSval: PAWS drop (RFC 7323 5.3). */
static void test_syn_ack_paws_checks(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	rp_establish_active(&rp, &app, &pc, 83, true, 0);
	uint32_t save = pc.snd_nxt;
	pc.snd_nxt += 100;
	rp_seg(&rp, &pc, F_SYN, NULL, 0);
	pc.snd_nxt = save;
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.flags, F_ACK);
	assert_int_equal(v.ack, save);
	assert_int_equal(stats().tcpx.challenge_acks, 1);
	assert_int_equal(tcp_get_state(app.c), TCP_ESTABLISHED);
	pc.rcv_nxt += 1000; /* acks data never sent */
	rp_seg(&rp, &pc, F_ACK, "x", 1);
	pc.rcv_nxt -= 1000;
	rp_expect(&rp, &pc, &v);
	assert_int_equal(v.ack, pc.snd_nxt - 1); /* the segment was dropped */
	assert_int_equal(app.rcvd, 0);
	pc.snd_nxt--;
	uint32_t good = pc.tsval;
	pc.tsval = good - 1000; /* older than TS.Recent */
	rp_seg(&rp, &pc, F_ACK, "x", 1);
	assert_int_equal(app.rcvd, 0);
	assert_int_equal(stats().drops[NET_DROP_PAWS], 1);
	pc.snd_nxt--;
	pc.tsval = good + 1;
	rp_seg(&rp, &pc, F_ACK, "x", 1);
	assert_int_equal(app.rcvd, 1);
	/* no timestamp on a timestamp connection: dropped (RFC 7323 3.2) */
	pc.ts = false;
	rp_seg(&rp, &pc, F_ACK, "y", 1);
	assert_int_equal(app.rcvd, 1);
}

/* MSS: none offered means 536 (RFC 9293 3.7.1); a tiny MSS is clamped. */
static void test_mss(void **state)
{
	struct seg_view v;
	int err;
	struct tcp_listener *l = tcp_listen(rp.s, 0, 93, 0, NULL, test_app_accept, &app, &err);
	rp_tcp(&rp, 2000, 93, 100, 0, F_SYN, 65535, NULL, 0, NULL, 0);
	assert_true(rp_next_tcp(&rp, &v));
	rp_tcp(&rp, 2000, 93, 101, v.seq + 1, F_ACK, 65535, NULL, 0, NULL, 0);
	assert_non_null(app.c);
	static uint8_t big[4000];
	tcp_set_nodelay(app.c, true);
	assert_int_equal(tcp_write(app.c, big, sizeof(big), rp.now), (long)sizeof(big));
	while (rp_next_tcp(&rp, &v))
		assert_true(v.dlen <= 536);
	uint8_t o[8];
	size_t olen = rp_syn_opts(o, 1, -1, false, 0, 0);
	rp_tcp(&rp, 2001, 93, 100, 0, F_SYN, 65535, o, olen, NULL, 0);
	assert_true(rp_next_tcp(&rp, &v));
	struct tcp_conn_info info[4];
	size_t n = tcp_snapshot(rp.s, info, 4);
	assert_int_equal(n, 2);
	assert_int_equal(info[0].mss, 64);
	tcp_listen_close(l);
}

/* Half-open backlog bound without cookies; SYN cookies with them. */
static void test_syn_flood(void **state)
{
	rp_free(&rp);
	struct net_config cfg;
	net_config_default(&cfg);
	cfg.tcp_syncookies = false;
	rp_init(&rp, &cfg);
	int err;
	struct tcp_listener *l = tcp_listen(rp.s, 0, 94, 4, NULL, test_app_accept, &app, &err);
	for (int i = 0; i < 50; i++)
		rp_tcp(&rp, (uint16_t)(3000 + i), 94, (uint32_t)i * 1000, 0, F_SYN, 65535, NULL, 0,
		       NULL, 0);
	assert_int_equal(nconns(), 4);
	assert_int_equal(rp_count_tcp(&rp), 4);
	assert_int_equal(stats().drops[NET_DROP_SYN_BACKLOG], 46);
	/* half-open children time out after the SYN-ACK retries (1+2+4+8+16+32+64 s) */
	rp_advance(&rp, 130000000);
	assert_int_equal(nconns(), 0);
	tcp_listen_close(l);
	rp_free(&rp);

	rp_init(&rp, NULL);
	l = tcp_listen(rp.s, 0, 94, 4, NULL, test_app_accept, &app, &err);
	for (int i = 0; i < 50; i++) {
		uint8_t o[40];
		size_t olen = rp_syn_opts(o, 1460, 9, true, 500 + i, 0);
		rp_tcp(&rp, (uint16_t)(3000 + i), 94, (uint32_t)i * 1000, 0, F_SYN, 65535, o, olen,
		       NULL, 0);
	}
	assert_int_equal(nconns(), 4);
	assert_int_equal(stats().tcpx.syncookies_sent, 46);
	/* complete the handshake of a cookie connection (port 3040) */
	struct seg_view v;
	rp.rd = 0;
	bool found = false;
	while (rp_next_tcp(&rp, &v))
		if (v.dport == 3040) {
			found = true;
			break;
		}
	assert_true(found);
	assert_true(v.has_ws && v.has_ts);
	uint8_t o[12] = {1, 1, 8, 10};
	for (int i = 0; i < 4; i++) {
		o[4 + i] = (uint8_t)((600u) >> (24 - 8 * i));
		o[8 + i] = (uint8_t)(v.tsval >> (24 - 8 * i));
	}
	rp_tcp(&rp, 3040, 94, 40001, v.seq + 2, F_ACK, 100, o, 12, NULL, 0); /* wrong cookie */
	assert_int_equal(stats().drops[NET_DROP_BAD_COOKIE], 1);
	rp_tcp(&rp, 3040, 94, 40001, v.seq + 1, F_ACK | F_PSH, 100, o, 12, "cookie", 6);
	assert_int_equal(app.accepted, 1);
	assert_int_equal(stats().tcpx.syncookies_ok, 1);
	assert_int_equal(app.rcvd, 6);
	struct tcp_conn_info ci;
	tcp_get_info(app.c, &ci);
	assert_int_equal(ci.state, TCP_ESTABLISHED);
	assert_int_equal(ci.snd_wscale, 9);
	assert_int_equal(ci.snd_wnd, 100u << 9);
	assert_true(ci.timestamps);
	assert_int_equal(ci.mss, 1460 - 12);
	tcp_listen_close(l);
}

/* A new SYN with a higher sequence number reopens a TIME_WAIT pair (RFC 9293 3.6.1). */
static void test_time_wait_reuse(void **state)
{
	struct rp_conn pc;
	struct seg_view v;
	struct tcp_listener *l = rp_establish_passive(&rp, &app, &pc, 95, false, -1);
	tcp_close(app.c, rp.now);
	rp_expect(&rp, &pc, &v);
	pc.rcv_nxt++;
	rp_seg(&rp, &pc, F_FIN | F_ACK, NULL, 0);
	assert_int_equal(rp_state(&rp), TCP_TIME_WAIT);
	rp_drain(&rp);
	rp_tcp(&rp, pc.port, 95, pc.snd_nxt - 5, 0, F_SYN, 65535, NULL, 0, NULL, 0); /* old */
	assert_int_equal(rp_state(&rp), TCP_TIME_WAIT);
	rp_tcp(&rp, pc.port, 95, pc.snd_nxt + 100000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
	assert_int_equal(rp_state(&rp), TCP_SYN_RCVD);
	assert_int_equal(stats().tcpx.time_wait_reuse, 1);
	tcp_listen_close(l);
}

/* Refused accept sends RST; closing during the handshake queues the FIN. */
static void test_accept_reject_and_early_close(void **state)
{
	struct seg_view v;
	int err;
	app.reject = true;
	struct tcp_listener *l = tcp_listen(rp.s, 0, 96, 0, NULL, test_app_accept, &app, &err);
	rp_tcp(&rp, 5000, 96, 100, 0, F_SYN, 65535, NULL, 0, NULL, 0);
	assert_true(rp_next_tcp(&rp, &v));
	rp_tcp(&rp, 5000, 96, 101, v.seq + 1, F_ACK, 65535, NULL, 0, NULL, 0);
	assert_true(rp_next_tcp(&rp, &v));
	assert_true(v.flags & F_RST);
	rp_advance(&rp, 1);
	assert_int_equal(nconns(), 0);
	tcp_listen_close(l);
	/* connect then close in SYN_SENT: the TCB just goes away */
	app.c = tcp_connect(rp.s, SIM_IP_B, 97, NULL, &test_app_cb, &app, rp.now, &err);
	tcp_close(app.c, rp.now);
	rp_advance(&rp, 1);
	assert_int_equal(nconns(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_active_open_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_passive_open_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_simultaneous_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_simultaneous_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_syn_sent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_syn_rcvd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_synchronized, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rst_listen_and_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syn_ack_paws_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mss, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syn_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_time_wait_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept_reject_and_early_close, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
