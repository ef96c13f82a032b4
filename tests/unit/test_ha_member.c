/*
 * HA membership (ha/member.c), heartbeat wire format (ha/hb_wire.c) and witness (ha/witness.c):
 * codec bounds, authentication, replay and incarnation rules, every liveness transition,
 * quorum with and without the witness, and the witness never voting for two sides. A small
 * simulator exchanges real sealed datagrams between clusters over links the tests cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ha/member.h"
#include "ha/witness.h"

static const uint8_t KEY[32] = {0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c,
                                0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c,
                                0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c};
static const uint8_t BADKEY[32] = {1, 2, 3};
#define WALL0 1700000000000ull
#define IP(n) (0xa9fe4d00u + (n)) /* 169.254.77.n */

/* klog: keep the last log lines so tests can check them. */
static char g_log[64][160];
static int g_nlog;
void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g_log[g_nlog % 64], sizeof(g_log[0]), fmt, ap);
	va_end(ap);
	g_nlog++;
}

/* logged: some line since index from contains s. */
static bool logged(int from, const char *s)
{
	for (int i = from; i < g_nlog; i++)
		if (strstr(g_log[i % 64], s))
			return true;
	return false;
}

/* ---- simulator ---------------------------------------------------------------------------- */

#define SIM_MAX 4
struct sim {
	struct ha_cluster c[SIM_MAX];
	int n;
	bool up[SIM_MAX];            /* host running */
	bool link[SIM_MAX][SIM_MAX]; /* host i -> j delivery */
	bool wlink[SIM_MAX];         /* host i <-> witness */
	bool has_witness;
	struct witness w;
	uint64_t now, next_hb[SIM_MAX];
};

static struct sim S;

/* sim_init: n hosts 169.254.77.1..n that know each other, optionally plus a witness. */
static void sim_init(int n, bool witness)
{
	memset(&S, 0, sizeof(S));
	S.n = n;
	S.now = 1000;
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "h%d", i + 1);
		ha_cluster_init(&S.c[i], KEY, name, IP(i + 1), 0x100 + i, 200, 5, S.now);
		for (int j = 0; j < n; j++) {
			snprintf(name, sizeof(name), "h%d", j + 1);
			if (j != i)
				assert_true(ha_cluster_add_peer(&S.c[i], name, IP(j + 1), 7701) >
				            0);
			S.link[i][j] = true;
		}
		if (witness)
			ha_cluster_set_witness(&S.c[i], IP(100), 7701);
		S.up[i] = S.wlink[i] = true;
	}
	S.has_witness = witness;
	if (witness)
		witness_init(&S.w, KEY, 0x999, WIT_LEASE_DEFAULT, S.now);
}

/* sim_send: host i's heartbeats to its peers and the witness (and the witness's replies). */
static void sim_send(int i)
{
	uint8_t pkt[HB_PKT_MAX];
	for (int j = 0; j < S.n; j++) {
		if (j == i)
			continue;
		int len = ha_cluster_heartbeat(&S.c[i], S.now, WALL0 + S.now, pkt, sizeof(pkt));
		assert_true(len > 0);
		if (S.link[i][j] && S.up[j])
			assert_int_equal(ha_cluster_receive(&S.c[j], IP(i + 1), pkt, (size_t)len,
			                                    S.now, WALL0 + S.now),
			                 HB_OK);
	}
	if (!S.has_witness)
		return;
	int len = ha_cluster_heartbeat(&S.c[i], S.now, WALL0 + S.now, pkt, sizeof(pkt));
	int idx;
	if (!S.wlink[i])
		return;
	assert_int_equal(
	    witness_receive(&S.w, IP(i + 1), 7701, pkt, (size_t)len, S.now, WALL0 + S.now, &idx),
	    HB_OK);
	witness_tick(&S.w, S.now);
	len = witness_reply(&S.w, idx, S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_true(len > 0);
	assert_int_equal(
	    ha_cluster_receive(&S.c[i], IP(100), pkt, (size_t)len, S.now, WALL0 + S.now), HB_OK);
}

/* sim_run: advance ms milliseconds in 10 ms steps; check() after each tick if given. */
static void sim_run(uint64_t ms, void (*check)(void))
{
	for (uint64_t end = S.now + ms; S.now < end; S.now += 10) {
		for (int i = 0; i < S.n; i++) {
			if (!S.up[i])
				continue;
			if (S.now >= S.next_hb[i]) {
				sim_send(i);
				S.next_hb[i] = S.now + 200;
			}
			ha_cluster_tick(&S.c[i], S.now);
		}
		if (S.has_witness)
			witness_tick(&S.w, S.now);
		if (check)
			check();
	}
}

/* no_split_brain: never two quorate hosts that cannot hear each other both ways. */
static void no_split_brain(void)
{
	for (int i = 0; i < S.n; i++)
		for (int j = i + 1; j < S.n; j++)
			if (S.up[i] && S.up[j] && S.c[i].quorate && S.c[j].quorate &&
			    !(S.link[i][j] && S.link[j][i])) {
				/* allowed only while one still believes the other connected */
				bool i_sees = ha_cluster_connected(&S.c[i], j);
				bool j_sees = ha_cluster_connected(&S.c[j], i);
				if (!i_sees && !j_sees)
					fail_msg("split brain: h%d and h%d both quorate", i + 1,
					         j + 1);
			}
}

/* ---- wire format ---------------------------------------------------------------------------- */

static struct hb_msg sample(void)
{
	struct hb_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HB_TYPE_HOST;
	m.flags = HB_FLAG_MAINT;
	m.interval_ms = 200;
	m.node = IP(1);
	m.incarnation = 77;
	m.wall_ms = WALL0;
	m.uptime_ms = 1234;
	m.holder = IP(2);
	m.lease_ms = 400;
	m.echo_seq = 9;
	strcpy(m.name, "tern-a");
	m.nview = 2;
	m.view[0] = IP(1);
	m.view[1] = IP(2);
	return m;
}

static void test_codec_roundtrip(void **st)
{
	(void)st;
	struct hb_msg m = sample(), d;
	uint8_t buf[HB_PAYLOAD_MAX];
	int n = hb_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, HB_FIXED_SIZE + 6 + 1 + 8);
	memset(&d, 0, sizeof(d));
	assert_int_equal(hb_decode(buf, (size_t)n, &d), 0);
	d.type = m.type;
	assert_memory_equal(&d, &m, sizeof(m));
	assert_true(hb_view_has(&d, IP(2)));
	assert_false(hb_view_has(&d, IP(3)));
	/* every truncation and one extra byte are refused */
	for (int len = 0; len < n; len++)
		assert_int_equal(hb_decode(buf, (size_t)len, &d), -1);
	assert_int_equal(hb_decode(buf, (size_t)n + 1, &d), -1);
}

static void test_codec_rejects(void **st)
{
	(void)st;
	struct hb_msg m = sample(), d;
	uint8_t buf[HB_PAYLOAD_MAX];
	int n = hb_encode(&m, buf, sizeof(buf));
	uint8_t t[HB_PAYLOAD_MAX];
	memcpy(t, buf, (size_t)n), t[0] = 2; /* version */
	assert_int_equal(hb_decode(t, (size_t)n, &d), -1);
	memcpy(t, buf, (size_t)n), t[1] = 0x80; /* unknown flag */
	assert_int_equal(hb_decode(t, (size_t)n, &d), -1);
	memcpy(t, buf, (size_t)n), t[48] = 0; /* empty name */
	assert_int_equal(hb_decode(t, (size_t)n, &d), -1);
	memcpy(t, buf, (size_t)n), t[48] = 200; /* name past the end */
	assert_int_equal(hb_decode(t, (size_t)n, &d), -1);
	memcpy(t, buf, (size_t)n), t[HB_FIXED_SIZE] = '/'; /* bad character */
	assert_int_equal(hb_decode(t, (size_t)n, &d), -1);
	memcpy(t, buf, (size_t)n), t[HB_FIXED_SIZE + 6] = 18; /* view count over the max */
	assert_int_equal(hb_decode(t, (size_t)n, &d), -1);
	memcpy(t, buf, (size_t)n), t[HB_FIXED_SIZE + 6] = 3; /* view count past the end */
	assert_int_equal(hb_decode(t, (size_t)n, &d), -1);
	/* encoder refuses what the decoder would */
	m.nview = HB_MAX_VIEW + 1;
	assert_int_equal(hb_encode(&m, buf, sizeof(buf)), -1);
	m = sample();
	strcpy(m.name, "a b");
	assert_int_equal(hb_encode(&m, buf, sizeof(buf)), -1);
	m = sample();
	assert_int_equal(hb_encode(&m, buf, 10), -1);
}

static void test_seal_open(void **st)
{
	(void)st;
	struct crypto_dgram_tx tx;
	struct crypto_dgram_rx rx, bad, other_inc;
	struct hb_msg m = sample(), d;
	uint8_t pkt[HB_PKT_MAX], t[HB_PKT_MAX];
	uint64_t seq;
	hb_tx_init(&tx, KEY, IP(1), 77);
	hb_rx_init(&rx, KEY, IP(1), 77);
	hb_rx_init(&bad, BADKEY, IP(1), 77);
	hb_rx_init(&other_inc, KEY, IP(1), 78);
	int n = hb_seal(&tx, &m, pkt, sizeof(pkt), &seq);
	assert_true(n > 0 && n <= HB_PKT_MAX);
	assert_int_equal(seq, 0);
	uint32_t sender;
	uint64_t inc;
	assert_int_equal(hb_peek(pkt, (size_t)n, &sender, &inc), HB_OK);
	assert_int_equal(sender, IP(1));
	assert_int_equal(inc, 77);
	assert_int_equal(hb_open(&bad, pkt, (size_t)n, &d), HB_E_AUTH);
	assert_int_equal(hb_open(&other_inc, pkt, (size_t)n, &d), HB_E_AUTH);
	for (int i = 0; i < n; i++) { /* every flipped byte is caught */
		memcpy(t, pkt, (size_t)n);
		t[i] ^= 0x40;
		struct crypto_dgram_rx r2;
		hb_rx_init(&r2, KEY, IP(1), 77);
		assert_int_not_equal(hb_open(&r2, t, (size_t)n, &d), HB_OK);
	}
	assert_int_equal(hb_open(&rx, pkt, (size_t)n, &d), HB_OK);
	assert_int_equal(d.seq, 0);
	assert_string_equal(d.name, "tern-a");
	assert_int_equal(hb_open(&rx, pkt, (size_t)n, &d), HB_E_REPLAY);
	/* sender mismatch with tx, short buffer, garbage */
	m.node = IP(2);
	assert_int_equal(hb_seal(&tx, &m, pkt, sizeof(pkt), NULL), -1);
	m = sample();
	assert_int_equal(hb_seal(&tx, &m, pkt, 20, NULL), -1);
	assert_int_equal(hb_peek(pkt, 3, &sender, &inc), HB_E_FORMAT);
	memset(t, 0, sizeof(t));
	assert_int_equal(hb_peek(t, 100, &sender, &inc), HB_E_FORMAT);
}

/* ---- membership ----------------------------------------------------------------------------- */

static void test_join_and_quorum(void **st)
{
	(void)st;
	sim_init(3, false);
	int l = g_nlog;
	assert_int_equal(S.c[0].node[1].state, HA_UNKNOWN);
	ha_cluster_tick(&S.c[0], S.now);
	assert_false(S.c[0].quorate); /* alone: 1 of 3 */
	sim_run(500, no_split_brain);
	for (int i = 0; i < 3; i++) {
		assert_true(S.c[i].quorate);
		assert_int_equal(S.c[i].votes, 3);
		assert_int_equal(S.c[i].total_votes, 3);
		for (int j = 1; j < 3; j++)
			assert_int_equal(S.c[i].node[j].state, HA_ALIVE);
	}
	assert_true(logged(l, "member h2 joined (first contact)"));
	assert_true(logged(l, "quorum gained (2 of 3 votes)"));
	assert_true(S.c[0].view_gen > 0);
	assert_int_equal(S.c[0].cnt.forged, 0);
}

static void test_late_dead_back(void **st)
{
	(void)st;
	sim_init(3, false);
	sim_run(600, NULL);
	S.up[2] = false; /* h3 stops */
	uint64_t last = S.c[0].node[2].last_heard_ms, dead_at = 0;
	int l = g_nlog;
	bool saw_late = false;
	while (S.now < last + 2000) {
		sim_run(10, no_split_brain);
		if (S.c[0].node[2].state == HA_LATE)
			saw_late = true;
		if (!dead_at && S.c[0].node[2].state == HA_DEAD)
			dead_at = S.now;
	}
	assert_true(saw_late);
	assert_true(dead_at >= last + 1000 && dead_at <= last + 1010);
	assert_true(logged(l, "member h3 dead (silent 1000 ms)"));
	assert_true(S.c[0].quorate && S.c[1].quorate); /* 2 of 3 */
	assert_int_equal(S.c[0].votes, 2);
	/* a late peer still votes */
	S.up[2] = true;
	sim_run(400, NULL);
	assert_true(logged(l, "member h3 joined (back)"));
	assert_int_equal(S.c[0].votes, 3);
	S.link[2][0] = false;
	sim_run(350, NULL);
	assert_int_equal(S.c[0].node[2].state, HA_LATE);
	assert_int_equal(S.c[0].votes, 3);
	S.link[2][0] = true;
	sim_run(250, NULL);
	assert_int_equal(S.c[0].node[2].state, HA_ALIVE);
}

static void test_partition_and_heal(void **st)
{
	(void)st;
	sim_init(3, false);
	sim_run(600, NULL);
	for (int j = 0; j < 2; j++) /* isolate h3 */
		S.link[2][j] = S.link[j][2] = false;
	int l = g_nlog;
	sim_run(1300, no_split_brain);
	assert_false(S.c[2].quorate);
	assert_true(S.c[0].quorate && S.c[1].quorate);
	assert_true(logged(l, "quorum LOST (1 of 3 votes)"));
	for (int j = 0; j < 2; j++)
		S.link[2][j] = S.link[j][2] = true;
	sim_run(600, no_split_brain);
	for (int i = 0; i < 3; i++)
		assert_true(S.c[i].quorate);
	assert_true(logged(l, "quorum gained"));
}

static void test_one_way_link(void **st)
{
	(void)st;
	sim_init(3, false);
	sim_run(600, NULL);
	S.link[0][2] = false; /* h3 no longer hears h1; h1 still hears h3 */
	sim_run(1300, no_split_brain);
	assert_int_equal(S.c[0].node[2].state, HA_ALIVE);
	assert_false(S.c[0].node[2].hears_us);
	assert_false(ha_cluster_connected(&S.c[0], 2)); /* heard, but not both ways */
	assert_int_equal(S.c[0].votes, 2);
	assert_int_equal(S.c[2].node[2].state, HA_ALIVE); /* h3 still hears h2 */
	assert_int_equal(S.c[2].node[1].state, HA_DEAD);  /* but not h1 */
}

static void test_reboot_stale_and_skew(void **st)
{
	(void)st;
	sim_init(2, false);
	sim_run(600, NULL);
	uint8_t old[HB_PKT_MAX], pkt[HB_PKT_MAX];
	int oldlen = ha_cluster_heartbeat(&S.c[1], S.now, WALL0 + S.now, old, sizeof(old));
	/* h2 reboots: new incarnation */
	struct ha_cluster saved = S.c[1];
	ha_cluster_init(&S.c[1], KEY, "h2", IP(2), 0x200, 200, 5, S.now);
	ha_cluster_add_peer(&S.c[1], "h1", IP(1), 7701);
	int l = g_nlog;
	sim_run(400, NULL);
	assert_true(logged(l, "member h2 rebooted"));
	assert_int_equal(S.c[0].node[1].incarnation, 0x200);
	/* the old incarnation's traffic is now stale */
	assert_int_equal(
	    ha_cluster_receive(&S.c[0], IP(2), old, (size_t)oldlen, S.now, WALL0 + S.now),
	    HB_E_STALE);
	assert_int_equal(S.c[0].cnt.stale, 1);
	/* a new incarnation whose wall clock is far off is refused */
	ha_cluster_init(&saved, KEY, "h2", IP(2), 0x300, 200, 5, S.now);
	int n = ha_cluster_heartbeat(&saved, S.now, WALL0 + S.now - 10000000, pkt, sizeof(pkt));
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(2), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_E_STALE);
	assert_int_equal(S.c[0].node[1].incarnation, 0x200);
}

static void test_forged_replay_unknown_self(void **st)
{
	(void)st;
	sim_init(2, false);
	sim_run(600, NULL);
	struct ha_cluster forger;
	uint8_t pkt[HB_PKT_MAX];
	/* wrong key, claiming to be h2 with a fresh incarnation and with its current one */
	ha_cluster_init(&forger, BADKEY, "h2", IP(2), 0x5000, 200, 5, S.now);
	int n = ha_cluster_heartbeat(&forger, S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(2), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_E_AUTH);
	ha_cluster_init(&forger, BADKEY, "h2", IP(2), S.c[0].node[1].incarnation, 200, 5, S.now);
	forger.tx.seq = 1000000; /* ahead of the window: only the tag can refuse it */
	n = ha_cluster_heartbeat(&forger, S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(2), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_E_AUTH);
	assert_int_equal(S.c[0].cnt.forged, 2);
	assert_int_equal(S.c[0].node[1].incarnation, 0x101); /* not moved by forgeries */
	/* replay of a genuine heartbeat */
	n = ha_cluster_heartbeat(&S.c[1], S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(2), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_OK);
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(2), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_E_REPLAY);
	assert_int_equal(S.c[0].cnt.replayed, 1);
	/* unknown sender (right key), our own id, garbage, witness not configured */
	struct ha_cluster stranger;
	ha_cluster_init(&stranger, KEY, "x", IP(9), 1, 200, 5, S.now);
	n = ha_cluster_heartbeat(&stranger, S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(9), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_E_UNKNOWN);
	n = ha_cluster_heartbeat(&S.c[0], S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(1), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_E_SELF);
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(1), pkt, 5, S.now, WALL0 + S.now),
	                 HB_E_FORMAT);
	struct witness w;
	witness_init(&w, KEY, 1, 400, S.now);
	int idx;
	n = ha_cluster_heartbeat(&S.c[1], S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_int_equal(
	    witness_receive(&w, IP(2), 7701, pkt, (size_t)n, S.now, WALL0 + S.now, &idx), HB_OK);
	witness_tick(&w, S.now);
	n = witness_reply(&w, idx, S.now, WALL0 + S.now, pkt, sizeof(pkt));
	assert_int_equal(ha_cluster_receive(&S.c[0], IP(100), pkt, (size_t)n, S.now, WALL0 + S.now),
	                 HB_E_UNKNOWN);
	assert_int_equal(S.c[0].cnt.unknown, 2);
	assert_int_equal(S.c[0].cnt.self, 1);
	assert_int_equal(S.c[0].cnt.malformed, 1);
}

static void test_maintenance_flag(void **st)
{
	(void)st;
	sim_init(2, false);
	sim_run(600, NULL);
	uint64_t gen = S.c[1].view_gen;
	int l = g_nlog;
	assert_true(ha_cluster_set_maintenance(&S.c[0], true));
	assert_false(ha_cluster_set_maintenance(&S.c[0], true));
	sim_run(400, NULL);
	assert_true(S.c[1].node[1].maintenance);
	assert_true(S.c[1].view_gen > gen);
	assert_true(logged(l, "ha: h1 maintenance on"));
	assert_true(S.c[0].quorate && S.c[1].quorate); /* maintenance keeps the vote */
	ha_cluster_set_maintenance(&S.c[0], false);
	sim_run(400, NULL);
	assert_false(S.c[1].node[1].maintenance);
}

static void test_add_peer_limits(void **st)
{
	(void)st;
	struct ha_cluster c;
	ha_cluster_init(&c, KEY, "a", IP(1), 1, 200, 5, 0);
	assert_int_equal(ha_cluster_add_peer(&c, "a", IP(1), 1), -1); /* self */
	assert_int_equal(ha_cluster_add_peer(&c, "w", HB_WITNESS_ID, 1), -1);
	assert_int_equal(ha_cluster_add_peer(&c, "z", 0, 1), -1);
	for (int i = 2; i <= HA_MAX_NODES; i++)
		assert_int_equal(ha_cluster_add_peer(&c, "p", IP(i), 1), i - 1);
	assert_int_equal(ha_cluster_add_peer(&c, "p", IP(50), 1), -1);
	assert_int_equal(ha_cluster_add_peer(&c, "p", IP(2), 1), -1);
	assert_string_equal(ha_state_name(HA_DEAD), "dead");
}

/* ---- witness ---------------------------------------------------------------------------- */

static void test_witness_two_hosts_kill(void **st)
{
	(void)st;
	sim_init(2, true);
	sim_run(600, no_split_brain);
	assert_int_equal(S.w.holder, IP(1)); /* lowest id */
	assert_true(S.c[0].wit.vote && S.c[1].wit.vote);
	assert_int_equal(S.c[1].votes, 3);
	S.up[0] = false; /* kill h1, the holder */
	int l = g_nlog;
	for (int i = 0; i < 300; i++) { /* 3 s: the survivor never loses quorum */
		sim_run(10, no_split_brain);
		assert_true(S.c[1].quorate);
	}
	assert_int_equal(S.w.holder, IP(2));
	assert_int_equal(S.c[1].votes, 2);
	assert_true(logged(l, "member h1 dead"));
	assert_true(logged(l, "witness: vote withdrawn from h1"));
	assert_true(logged(l, "witness: vote granted to h2"));
	assert_false(logged(l, "quorum LOST"));
}

static void test_witness_partition(void **st)
{
	(void)st;
	sim_init(2, true);
	sim_run(600, NULL);
	S.link[0][1] = S.link[1][0] = false; /* both still reach the witness */
	sim_run(2000, no_split_brain);
	assert_true(S.c[0].quorate); /* h1 holds the vote */
	assert_false(S.c[1].quorate);
	S.link[0][1] = S.link[1][0] = true;
	sim_run(600, no_split_brain);
	assert_true(S.c[0].quorate && S.c[1].quorate);
}

static void test_witness_holder_isolated(void **st)
{
	(void)st;
	sim_init(2, true);
	sim_run(600, NULL);
	/* h1 (holder) loses its network entirely */
	S.link[0][1] = S.link[1][0] = false;
	S.wlink[0] = false;
	int l = g_nlog;
	uint64_t start = S.now, h1_lost = 0;
	for (int i = 0; i < 300; i++) {
		sim_run(10, no_split_brain);
		if (!h1_lost && !S.c[0].quorate)
			h1_lost = S.now;
		assert_true(S.c[1].quorate); /* h2 takes over without a gap */
		/* once h1 counts as dead at h2, h1 must not be quorate */
		if (!ha_cluster_connected(&S.c[1], 0))
			assert_false(S.c[0].quorate && S.c[0].wit.vote);
	}
	assert_true(h1_lost && h1_lost - start <= 1100);
	assert_true(logged(l, "witness vote withdrawn"));
	assert_int_equal(S.w.holder, IP(2));
}

static void test_witness_down(void **st)
{
	(void)st;
	sim_init(2, true);
	sim_run(600, NULL);
	S.wlink[0] = S.wlink[1] = false;
	int l = g_nlog;
	sim_run(1500, NULL);
	assert_true(logged(l, "ha: witness down"));
	assert_true(S.c[0].quorate && S.c[1].quorate); /* 2 of 3 without it */
	assert_int_equal(S.c[0].votes, 2);
	S.up[1] = false;
	sim_run(1500, NULL);
	assert_false(S.c[0].quorate); /* 1 of 3 */
	S.wlink[0] = S.wlink[1] = true;
	S.up[1] = true;
	sim_run(1000, no_split_brain);
	assert_true(S.c[0].quorate && S.c[1].quorate);
	assert_true(logged(l, "ha: witness up"));
}

static void test_witness_forged_and_full(void **st)
{
	(void)st;
	struct witness w;
	struct ha_cluster f;
	uint8_t pkt[HB_PKT_MAX];
	int idx;
	witness_init(&w, KEY, 1, 400, 0);
	ha_cluster_init(&f, BADKEY, "f", IP(1), 5, 200, 5, 0);
	int n = ha_cluster_heartbeat(&f, 0, WALL0, pkt, sizeof(pkt));
	assert_int_equal(witness_receive(&w, IP(1), 1, pkt, (size_t)n, 0, WALL0, &idx), HB_E_AUTH);
	assert_int_equal(w.forged, 1);
	assert_false(witness_tick(&w, 10)); /* nobody heard: no holder */
	assert_int_equal(w.holder, 0);
	for (int i = 0; i < WIT_MAX_HOSTS + 1; i++) {
		ha_cluster_init(&f, KEY, "h", 0x0a000001 + i, 5, 200, 5, 0);
		n = ha_cluster_heartbeat(&f, 0, WALL0, pkt, sizeof(pkt));
		int rc = witness_receive(&w, 1, 1, pkt, (size_t)n, 0, WALL0, &idx);
		assert_int_equal(rc, i < WIT_MAX_HOSTS ? HB_OK : HB_E_UNKNOWN);
		if (i == 0)
			assert_int_equal(witness_receive(&w, 1, 1, pkt, (size_t)n, 0, WALL0, &idx),
			                 HB_E_REPLAY);
	}
	assert_int_equal(w.full, 1);
	assert_true(witness_tick(&w, 1));
	assert_int_equal(w.holder, 0x0a000001);
	assert_string_equal(witness_host_name(&w, 0x0a000001), "h");
	assert_string_equal(witness_host_name(&w, 7), "-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codec_roundtrip),
	    cmocka_unit_test(test_codec_rejects),
	    cmocka_unit_test(test_seal_open),
	    cmocka_unit_test(test_join_and_quorum),
	    cmocka_unit_test(test_late_dead_back),
	    cmocka_unit_test(test_partition_and_heal),
	    cmocka_unit_test(test_one_way_link),
	    cmocka_unit_test(test_reboot_stale_and_skew),
	    cmocka_unit_test(test_forged_replay_unknown_self),
	    cmocka_unit_test(test_maintenance_flag),
	    cmocka_unit_test(test_add_peer_limits),
	    cmocka_unit_test(test_witness_two_hosts_kill),
	    cmocka_unit_test(test_witness_partition),
	    cmocka_unit_test(test_witness_holder_isolated),
	    cmocka_unit_test(test_witness_down),
	    cmocka_unit_test(test_witness_forged_and_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
