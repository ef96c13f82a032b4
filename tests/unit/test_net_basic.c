/*
 * net/ below TCP: internet checksum (against a reference), SipHash vectors, ARP (resolution,
 * queueing, timeout and re-verification, gratuitous announcements, conflicts), IPv4 (header
 * checksum, TTL, options, fragments, routing via the gateway), ICMP echo (reply and the ping
 * API), UDP, counters, and a storm of malformed frames.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/net_internal.h"
#include "tests/unit/net_sim.h"

/* ---- checksum and hash -------------------------------------------------------------------- */

static void test_csum(void **state)
{
	static uint8_t buf[4096 + 16];
	uint64_t rng = 42;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)sim_rand(&rng);
	for (int iter = 0; iter < 3000; iter++) {
		size_t off = sim_rand(&rng) % 16, len = sim_rand(&rng) % 4097;
		uint16_t want = ref_csum(buf + off, len, 0);
		uint16_t got = csum_fold(csum_partial(buf + off, len, 0));
		uint8_t wire[2] = {(uint8_t)(want >> 8), (uint8_t)want};
		assert_memory_equal(&got, wire, 2);
		/* the same bytes cut into odd pieces */
		struct net_iov iov[4];
		size_t a = len ? sim_rand(&rng) % (len + 1) : 0;
		size_t b = a + (len - a ? sim_rand(&rng) % (len - a + 1) : 0);
		iov[0] = (struct net_iov){buf + off, a};
		iov[1] = (struct net_iov){buf + off + a, b - a};
		iov[2] = (struct net_iov){buf + off + b, len - b};
		got = csum_fold(csum_iov(iov, 3, 0));
		assert_memory_equal(&got, wire, 2);
	}
	/* a header with its checksum in place sums to zero */
	uint8_t h[20] = {0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
	uint16_t c = csum_fold(csum_partial(h, 20, 0));
	memcpy(h + 10, &c, 2);
	assert_int_equal(csum_fold(csum_partial(h, 20, 0)), 0);
	assert_int_equal(ref_csum(h, 20, 0), 0);
}

static void test_siphash(void **state)
{
	/* reference vectors of SipHash-2-4 (key 00..0f, message 00..len-1) */
	uint64_t key[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
	uint8_t msg[64];
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	assert_true(net_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(net_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(net_siphash(key, msg, 63) == 0x958a324ceb064572ULL);
}

/* ---- ARP ------------------------------------------------------------------------------------ */

struct pings {
	int n;
	struct net_ping_reply last;
};

static void on_ping(void *arg, const struct net_ping_reply *r)
{
	struct pings *p = arg;
	p->n++;
	p->last = *r;
}

static bool arp_lookup(struct net_stack *s, net_ip4 ip, struct net_arp_info *out, uint64_t now)
{
	struct net_arp_info a[64];
	size_t n = net_arp_snapshot(s, a, 64, now);
	for (size_t i = 0; i < n; i++)
		if (a[i].ip == ip) {
			*out = a[i];
			return true;
		}
	return false;
}

static bool drop_all(void *ctx, const uint8_t *f, size_t len)
{
	return true;
}

static void test_arp_ping(void **state)
{
	struct sim sm;
	sim_init(&sm, 11, NULL);
	sim_run_for(&sm, 1000); /* the start-up announcements */
	struct pings p = {0};
	net_ping_set_handler(sm.node[0].s, on_ping, &p);
	struct net_arp_info ai;
	assert_false(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	assert_int_equal(net_ping_send(sm.node[0].s, SIM_IP_B, 77, 1, 56, sm.now), 0);
	assert_true(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	assert_int_equal(ai.state, NET_ARP_INCOMPLETE);
	assert_int_equal(ai.queued, 1);
	sim_run_for(&sm, 10000);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.last.id, 77);
	assert_int_equal(p.last.seq, 1);
	assert_int_equal(p.last.len, 56);
	assert_int_equal(p.last.ttl, 64);
	assert_int_equal(p.last.from, SIM_IP_B);
	assert_int_equal(p.last.rtt_us, 400); /* ARP round trip + echo round trip */
	assert_true(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	assert_int_equal(ai.state, NET_ARP_REACHABLE);
	assert_memory_equal(ai.mac, sim_mac_b, 6);
	/* B learned A from the request addressed to it */
	assert_true(arp_lookup(sm.node[1].s, SIM_IP_A, &ai, sm.now));
	assert_memory_equal(ai.mac, sim_mac_a, 6);
	for (uint16_t seq = 2; seq <= 4; seq++)
		net_ping_send(sm.node[0].s, SIM_IP_B, 77, seq, 1400, sm.now);
	sim_run_for(&sm, 10000);
	assert_int_equal(p.n, 4);
	assert_true(p.last.rtt_us >= 200 && p.last.rtt_us < 300);
	assert_int_equal(net_ping_send(sm.node[0].s, SIM_IP_B, 1, 1, 1473, sm.now), NET_EMSGSIZE);
	struct net_stats st;
	net_get_stats(sm.node[0].s, &st);
	assert_int_equal(st.icmp_echo_req_sent, 4);
	assert_int_equal(st.icmp_echo_rep_rcvd, 4);
	assert_int_equal(st.arp_requests_sent, 1);
	assert_true(sm.node[0].nif.stats.tx_packets >= 5);
	assert_true(sm.node[1].nif.stats.rx_packets >= 5);

	/* timeout: a stale entry in use is re-verified by unicast request */
	sim_run_for(&sm, 301000000);
	net_ping_send(sm.node[0].s, SIM_IP_B, 77, 5, 8, sm.now);
	assert_true(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	assert_int_equal(ai.state, NET_ARP_PROBE);
	sim_run_for(&sm, 10000);
	assert_int_equal(p.n, 5);
	assert_true(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	assert_int_equal(ai.state, NET_ARP_REACHABLE);
	/* the peer vanishes: after the retries the entry is gone, later frames queue then fail */
	sm.dir[1].drop = drop_all;
	sim_run_for(&sm, 301000000);
	net_ping_send(sm.node[0].s, SIM_IP_B, 77, 6, 8, sm.now);
	sim_run_for(&sm, 5000000);
	assert_false(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	for (uint16_t i = 0; i < 6; i++)
		net_ping_send(sm.node[0].s, SIM_IP_B, 77, (uint16_t)(10 + i), 8, sm.now);
	assert_true(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	assert_int_equal(ai.queued, 4);
	sim_run_for(&sm, 5000000);
	net_get_stats(sm.node[0].s, &st);
	assert_int_equal(st.drops[NET_DROP_ARP_QUEUE], 2);
	assert_int_equal(st.drops[NET_DROP_ARP_FAILED], 4);
	assert_int_equal(p.n, 5);
	sim_free(&sm);
}

/* app_connected: sim_run predicate, the test app's connection is established. */
static bool app_connected(void *arg)
{
	return ((struct test_app *)arg)->connected > 0;
}

/* A cached MAC goes stale (B's NIC changed, as a Linux bridge does when its ports change):
 * TCP's retransmission timeout re-verifies the next hop at once (arp_suspect), so a connect
 * succeeds within a few seconds instead of failing until the cache entry would age out. */
static void test_arp_stale_entry_revalidated_by_tcp(void **state)
{
	struct sim sm;
	sim_init(&sm, 13, NULL);
	assert_int_equal(net_services_set(sm.node[1].s, NET_SVC_DISCARD), 0);
	struct net_arp_info ai;
	net_ping_send(sm.node[0].s, SIM_IP_B, 1, 1, 8, sm.now);
	sim_run_for(&sm, 10000);
	assert_true(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	static const uint8_t newmac[6] = {0x02, 0, 0, 0, 0, 0xbb};
	memcpy(sm.node[1].nif.mac, newmac, 6);
	struct test_app app;
	test_app_init(&app, 0);
	int err;
	app.c = tcp_connect(sm.node[0].s, SIM_IP_B, 9, NULL, &test_app_cb, &app, sm.now, &err);
	assert_non_null(app.c);
	assert_true(sim_run(&sm, sm.now + 5000000, app_connected, &app));
	assert_true(arp_lookup(sm.node[0].s, SIM_IP_B, &ai, sm.now));
	assert_memory_equal(ai.mac, newmac, 6);
	test_app_free(&app);
	sim_free(&sm);
}

static void test_arp_gratuitous(void **state)
{
	struct sim sm;
	sim_init(&sm, 12, NULL);
	struct net_arp_info ai;
	net_ping_send(sm.node[0].s, SIM_IP_B, 1, 1, 8, sm.now);
	sim_run_for(&sm, 10000);
	assert_true(arp_lookup(sm.node[1].s, SIM_IP_A, &ai, sm.now));
	/* A's address moved to another MAC (migration): B follows the announcement */
	static const uint8_t moved[6] = {0x02, 0, 0, 0, 0, 0xcc};
	assert_int_equal(net_arp_gratuitous(&sm.node[0].nif, SIM_IP_A, moved, sm.now), 0);
	sim_run_for(&sm, 1000);
	assert_true(arp_lookup(sm.node[1].s, SIM_IP_A, &ai, sm.now));
	assert_memory_equal(ai.mac, moved, 6);
	/* announcements do not create entries for unknown addresses */
	net_arp_gratuitous(&sm.node[0].nif, NET_IP4(10, 0, 0, 77), moved, sm.now);
	sim_run_for(&sm, 1000);
	assert_false(arp_lookup(sm.node[1].s, NET_IP4(10, 0, 0, 77), &ai, sm.now));
	/* someone claims B's own address: counted as a conflict */
	net_arp_gratuitous(&sm.node[0].nif, SIM_IP_B, moved, sm.now);
	sim_run_for(&sm, 1000);
	struct net_stats st;
	net_get_stats(sm.node[1].s, &st);
	assert_int_equal(st.arp_conflicts, 1);
	assert_int_equal(net_arp_gratuitous(&sm.node[0].nif, 0, NULL, sm.now), NET_EINVAL);
	/* static entries win and can be deleted */
	assert_int_equal(net_arp_add_static(sm.node[1].s, &sm.node[1].nif, SIM_IP_A, sim_mac_a), 0);
	net_arp_gratuitous(&sm.node[0].nif, SIM_IP_A, moved, sm.now);
	sim_run_for(&sm, 1000);
	assert_true(arp_lookup(sm.node[1].s, SIM_IP_A, &ai, sm.now));
	assert_int_equal(ai.state, NET_ARP_STATIC);
	assert_memory_equal(ai.mac, sim_mac_a, 6);
	assert_int_equal(net_arp_delete(sm.node[1].s, SIM_IP_A), 0);
	assert_int_equal(net_arp_delete(sm.node[1].s, SIM_IP_A), NET_ENOENT);
	/* link up announces the address */
	net_if_set_link(&sm.node[0].nif, false, sm.now);
	uint64_t before = sm.node[0].nif.stats.tx_packets;
	net_if_set_link(&sm.node[0].nif, true, sm.now);
	assert_int_equal(sm.node[0].nif.stats.tx_packets, before + 1);
	sim_free(&sm);
}

/* ---- IPv4, ICMP, UDP via the raw peer ----------------------------------------------------- */

static struct rawpeer rp;

static int rp_setup(void **state)
{
	rp_init(&rp, NULL);
	return 0;
}

static int rp_teardown(void **state)
{
	rp_free(&rp);
	return 0;
}

static struct net_stats rstats(void)
{
	struct net_stats st;
	net_get_stats(rp.s, &st);
	return st;
}

/* echo_req: build an ICMP echo request into b; returns its length. */
static size_t echo_req(uint8_t *b, uint16_t id, uint16_t seq, size_t plen)
{
	b[0] = 8;
	b[1] = 0;
	b[2] = b[3] = 0;
	b[4] = (uint8_t)(id >> 8);
	b[5] = (uint8_t)id;
	b[6] = (uint8_t)(seq >> 8);
	b[7] = (uint8_t)seq;
	for (size_t i = 0; i < plen; i++)
		b[8 + i] = (uint8_t)i;
	uint16_t c = ref_csum(b, 8 + plen, 0);
	b[2] = (uint8_t)(c >> 8);
	b[3] = (uint8_t)c;
	return 8 + plen;
}

/* frame_echo: a full frame B->A with an echo request and adjustable IP fields. */
static size_t frame_echo(uint8_t *f, uint8_t ihl, uint16_t frag, uint8_t ttl, net_ip4 dst)
{
	memcpy(f, sim_mac_a, 6);
	memcpy(f + 6, sim_mac_b, 6);
	f[12] = 8;
	f[13] = 0;
	uint8_t *ip = f + 14;
	size_t hl = ihl * 4u;
	memset(ip, 0, hl);
	for (size_t i = 20; i < hl; i++)
		ip[i] = 1; /* NOP options */
	size_t n = echo_req(ip + hl, 9, 9, 32);
	ip[0] = (uint8_t)(0x40 | ihl);
	ip[2] = (uint8_t)((hl + n) >> 8);
	ip[3] = (uint8_t)(hl + n);
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = ttl;
	ip[9] = 1;
	ip[12] = 10, ip[13] = 0, ip[14] = 0, ip[15] = 2;
	ip[16] = (uint8_t)(dst >> 24), ip[17] = (uint8_t)(dst >> 16);
	ip[18] = (uint8_t)(dst >> 8), ip[19] = (uint8_t)dst;
	uint16_t c = ref_csum(ip, hl, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	return 14 + hl + n;
}

static bool next_icmp(uint8_t *type, uint8_t *ttl)
{
	const struct raw_frame *f;
	while ((f = rp_next(&rp)))
		if (f->len >= 42 && f->data[12] == 8 && f->data[13] == 0 && f->data[23] == 1) {
			*type = f->data[34];
			*ttl = f->data[22];
			assert_int_equal(ref_csum(f->data + 14, 20, 0), 0);
			size_t tot = (size_t)(f->data[16] << 8 | f->data[17]);
			assert_int_equal(ref_csum(f->data + 34, tot - 20, 0), 0);
			return true;
		}
	return false;
}

static void test_icmp_echo_reply(void **state)
{
	uint8_t b[200], type, ttl;
	size_t n = echo_req(b, 0x1234, 7, 100);
	rp_ip(&rp, 1, b, n);
	const struct raw_frame *f = rp_next(&rp);
	assert_non_null(f);
	assert_int_equal(f->data[34], 0);                  /* echo reply */
	assert_memory_equal(f->data + 38, b + 4, 4 + 100); /* id, seq, data */
	assert_int_equal(ref_csum(f->data + 34, n, 0), 0);
	b[9] ^= 1; /* bad ICMP checksum */
	rp_ip(&rp, 1, b, n);
	assert_false(next_icmp(&type, &ttl));
	assert_int_equal(rstats().drops[NET_DROP_BAD_CSUM], 1);
	assert_int_equal(rstats().icmp_echo_rep_sent, 1);
}

static void test_ipv4_header(void **state)
{
	uint8_t f[200], type, ttl;
	size_t n = frame_echo(f, 5, 0x4000, 1, SIM_IP_A);
	rp_frame(&rp, f, n);
	assert_true(next_icmp(&type, &ttl)); /* TTL 1 is fine for a host (RFC 1122) */
	assert_int_equal(ttl, 64);           /* our TTL */
	n = frame_echo(f, 5, 0, 0, SIM_IP_A);
	rp_frame(&rp, f, n);
	assert_true(next_icmp(&type, &ttl));
	/* options are skipped */
	n = frame_echo(f, 8, 0, 64, SIM_IP_A);
	rp_frame(&rp, f, n);
	assert_true(next_icmp(&type, &ttl));
	/* Ethernet padding after the datagram is ignored */
	n = frame_echo(f, 5, 0, 64, SIM_IP_A);
	rp_frame(&rp, f, n + 20);
	assert_true(next_icmp(&type, &ttl));
	/* bad header checksum */
	n = frame_echo(f, 5, 0, 64, SIM_IP_A);
	f[24] ^= 0xff;
	rp_frame(&rp, f, n);
	assert_int_equal(rstats().drops[NET_DROP_BAD_CSUM], 1);
	/* fragments are dropped: MF set, or an offset */
	n = frame_echo(f, 5, 0x2000, 64, SIM_IP_A);
	rp_frame(&rp, f, n);
	n = frame_echo(f, 5, 0x0010, 64, SIM_IP_A);
	rp_frame(&rp, f, n);
	assert_int_equal(rstats().drops[NET_DROP_FRAGMENT], 2);
	/* not our address; broadcast source; truncated; bad version/IHL */
	n = frame_echo(f, 5, 0, 64, NET_IP4(10, 0, 0, 9));
	rp_frame(&rp, f, n);
	assert_int_equal(rstats().drops[NET_DROP_NOT_FOR_US], 1);
	n = frame_echo(f, 5, 0, 64, SIM_IP_A);
	rp_frame(&rp, f, n - 1);
	assert_int_equal(rstats().drops[NET_DROP_TRUNCATED], 1);
	f[14] = 0x44;
	rp_frame(&rp, f, n);
	f[14] = 0x65;
	rp_frame(&rp, f, n);
	assert_int_equal(rstats().drops[NET_DROP_BAD_HEADER], 2);
	assert_false(next_icmp(&type, &ttl));
	/* a broadcast echo request gets no reply */
	n = frame_echo(f, 5, 0, 64, NET_IP4(10, 0, 0, 255));
	rp_frame(&rp, f, n);
	assert_false(next_icmp(&type, &ttl));
	/* unknown protocol */
	rp_ip(&rp, 99, "xx", 2);
	assert_int_equal(rstats().drops[NET_DROP_UNSUPPORTED], 1);
}

static void test_icmp_rate_limit(void **state)
{
	rp_free(&rp);
	struct net_config cfg;
	net_config_default(&cfg);
	cfg.icmp_per_s = 10;
	rp_init(&rp, &cfg);
	uint8_t b[64], type, ttl;
	size_t n = echo_req(b, 1, 1, 8);
	for (int i = 0; i < 20; i++)
		rp_ip(&rp, 1, b, n);
	int replies = 0;
	while (next_icmp(&type, &ttl))
		replies++;
	assert_int_equal(replies, 10);
	rp.now += 1000000;
	rp_ip(&rp, 1, b, n);
	assert_true(next_icmp(&type, &ttl));
}

/* gateway routing and outgoing TTL config */
static void test_routing(void **state)
{
	struct udp_sock *u = udp_open(rp.s, 0, 0, NULL, NULL, NULL);
	assert_non_null(u);
	assert_int_equal(udp_sendto(u, NET_IP4(8, 8, 8, 8), 53, "q", 1, rp.now), NET_ENETUNREACH);
	assert_int_equal(net_if_set_ipv4(&rp.nif, SIM_IP_A, 24, NET_IP4(10, 0, 1, 1), rp.now),
	                 NET_ENETUNREACH);
	assert_int_equal(net_if_set_ipv4(&rp.nif, SIM_IP_A, 24, NET_IP4(10, 0, 0, 254), rp.now), 0);
	rp_drain(&rp);
	assert_int_equal(udp_sendto(u, NET_IP4(8, 8, 8, 8), 53, "q", 1, rp.now), 0);
	const struct raw_frame *f = rp_next(&rp);
	assert_non_null(f); /* an ARP request for the gateway, the datagram waits */
	assert_int_equal(f->data[12], 0x08);
	assert_int_equal(f->data[13], 0x06);
	assert_memory_equal(f->data + 38, "\x0a\x00\x00\xfe", 4);
	/* the gateway answers: the queued datagram leaves to its MAC, addressed to 8.8.8.8 */
	static const uint8_t gwmac[6] = {0x02, 0, 0, 0, 0, 0x99};
	uint8_t arp[42] = {0};
	memcpy(arp, sim_mac_a, 6);
	memcpy(arp + 6, gwmac, 6);
	arp[12] = 8, arp[13] = 6, arp[15] = 1, arp[16] = 8, arp[18] = 6, arp[19] = 4, arp[21] = 2;
	memcpy(arp + 22, gwmac, 6);
	memcpy(arp + 28, "\x0a\x00\x00\xfe", 4);
	memcpy(arp + 32, sim_mac_a, 6);
	memcpy(arp + 38, "\x0a\x00\x00\x01", 4);
	rp_frame(&rp, arp, sizeof(arp));
	f = rp_next(&rp);
	assert_non_null(f);
	assert_memory_equal(f->data, gwmac, 6);
	assert_memory_equal(f->data + 30, "\x08\x08\x08\x08", 4);
	assert_int_equal(f->len, 60); /* padded to the Ethernet minimum */
	udp_close(u);
}

struct dgram {
	int n;
	net_ip4 src;
	uint16_t sport;
	size_t len;
	uint8_t data[2048];
};

static void on_dgram(void *arg, struct udp_sock *u, net_ip4 src, uint16_t sport, const void *d,
                     size_t len)
{
	struct dgram *g = arg;
	g->n++;
	g->src = src;
	g->sport = sport;
	g->len = len;
	memcpy(g->data, d, len < sizeof(g->data) ? len : sizeof(g->data));
}

static void test_udp(void **state)
{
	struct sim sm;
	sim_init(&sm, 13, NULL);
	struct dgram ga = {0}, gb = {0};
	int err;
	struct udp_sock *ua = udp_open(sm.node[0].s, 0, 0, on_dgram, &ga, &err);
	struct udp_sock *ub = udp_open(sm.node[1].s, SIM_IP_B, 5353, on_dgram, &gb, &err);
	assert_non_null(ua);
	assert_non_null(ub);
	assert_true(udp_local_port(ua) >= 49152);
	assert_null(udp_open(sm.node[1].s, 0, 5353, on_dgram, &gb, &err));
	assert_int_equal(err, NET_EADDRINUSE);
	assert_null(udp_open(sm.node[1].s, NET_IP4(1, 2, 3, 4), 1, on_dgram, &gb, &err));
	assert_int_equal(err, NET_EINVAL);
	uint8_t big[1473];
	memset(big, 'u', sizeof(big));
	assert_int_equal(udp_sendto(ua, SIM_IP_B, 5353, big, 1472, sm.now), 0);
	assert_int_equal(udp_sendto(ua, SIM_IP_B, 5353, big, 1473, sm.now), NET_EMSGSIZE);
	assert_int_equal(udp_sendto(ua, SIM_IP_B, 0, big, 1, sm.now), NET_EINVAL);
	sim_run_for(&sm, 10000);
	assert_int_equal(gb.n, 1);
	assert_int_equal(gb.len, 1472);
	assert_int_equal(gb.src, SIM_IP_A);
	assert_int_equal(gb.sport, udp_local_port(ua));
	udp_sendto(ub, gb.src, gb.sport, "pong", 4, sm.now);
	sim_run_for(&sm, 10000);
	assert_int_equal(ga.n, 1);
	assert_memory_equal(ga.data, "pong", 4);
	/* limited broadcast reaches a socket bound to the port */
	struct udp_sock *bc = udp_open(sm.node[1].s, 0, 6000, on_dgram, &gb, &err);
	udp_sendto(ua, 0xffffffffu, 6000, "all", 3, sm.now);
	sim_run_for(&sm, 10000);
	assert_int_equal(gb.n, 2);
	assert_memory_equal(gb.data, "all", 3);
	/* nobody on the port */
	udp_sendto(ua, SIM_IP_B, 6001, "x", 1, sm.now);
	sim_run_for(&sm, 10000);
	struct net_stats st;
	net_get_stats(sm.node[1].s, &st);
	assert_int_equal(st.drops[NET_DROP_NO_LISTENER], 1);
	assert_int_equal(st.udp.rx_packets, 3);
	/* UDP echo service */
	net_services_set(sm.node[1].s, NET_SVC_ECHO);
	udp_sendto(ua, SIM_IP_B, 7, "echo!", 5, sm.now);
	sim_run_for(&sm, 10000);
	assert_int_equal(ga.n, 2);
	assert_memory_equal(ga.data, "echo!", 5);
	udp_close(bc);
	udp_close(ua);
	udp_close(ub);
	sim_free(&sm);
}

static void test_udp_checksums(void **state)
{
	struct dgram g = {0};
	int err;
	struct udp_sock *u = udp_open(rp.s, 0, 4000, on_dgram, &g, &err);
	uint8_t d[12] = {0x12, 0x34, 0x0f, 0xa0, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};
	rp_ip(&rp, 17, d, sizeof(d)); /* checksum 0: none */
	assert_int_equal(g.n, 1);
	uint32_t ps = (SIM_IP_B >> 16) + (SIM_IP_B & 0xffff) + (SIM_IP_A >> 16) +
	              (SIM_IP_A & 0xffff) + 17 + 12;
	uint16_t c = ref_csum(d, 12, ps);
	d[6] = (uint8_t)(c >> 8);
	d[7] = (uint8_t)c;
	rp_ip(&rp, 17, d, sizeof(d));
	assert_int_equal(g.n, 2);
	d[9] ^= 1;
	rp_ip(&rp, 17, d, sizeof(d));
	assert_int_equal(g.n, 2);
	assert_int_equal(rstats().drops[NET_DROP_BAD_CSUM], 1);
	d[9] ^= 1;
	d[5] = 40; /* length beyond the datagram */
	rp_ip(&rp, 17, d, sizeof(d));
	d[5] = 4; /* below the header */
	rp_ip(&rp, 17, d, sizeof(d));
	rp_ip(&rp, 17, d, 5);
	assert_int_equal(rstats().drops[NET_DROP_TRUNCATED], 2);
	assert_int_equal(rstats().drops[NET_DROP_BAD_HEADER], 1);
	assert_int_equal(g.n, 2);
	udp_close(u);
}

/* ---- malformed input ------------------------------------------------------------------------- */

static int accepted;

/* fix_l4_csum: recompute the TCP/UDP/ICMP checksum of a (mutated) frame if its IP header
 * is plausible, so the junk reaches the protocol logic. */
static void fix_l4_csum(uint8_t *f, size_t n)
{
	if (n < 34 || f[12] != 8 || f[13] != 0)
		return;
	uint8_t *ip = f + 14;
	size_t hl = (ip[0] & 15) * 4u, tot = (size_t)(ip[2] << 8 | ip[3]);
	if (hl < 20 || tot < hl || 14 + tot > n)
		return;
	uint8_t *l4 = ip + hl;
	size_t len = tot - hl;
	uint32_t ps = (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]) +
	              (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]) + ip[9] +
	              (uint32_t)len;
	size_t off = ip[9] == 6 ? 16 : ip[9] == 17 ? 6 : 2;
	if ((ip[9] != 6 && ip[9] != 17 && ip[9] != 1) || len < off + 2)
		return;
	l4[off] = l4[off + 1] = 0;
	uint16_t c = ref_csum(l4, len, ip[9] == 1 ? 0 : ps);
	l4[off] = (uint8_t)(c >> 8);
	l4[off + 1] = (uint8_t)c;
}

static int count_accept(void *arg, struct tcp_listener *l, struct tcp_conn *c)
{
	accepted++;
	return 0;
}

/* A storm of mutated and random frames: nothing crashes or leaks, the stack still works. */
static void test_malformed_storm(void **state)
{
	int err;
	struct tcp_listener *l = tcp_listen(rp.s, 0, 80, 0, NULL, count_accept, NULL, &err);
	net_services_set(rp.s, NET_SVC_ECHO | NET_SVC_DISCARD | NET_SVC_CHARGEN);
	struct test_app app;
	struct rp_conn pc;
	test_app_init(&app, 0);
	rp_establish_active(&rp, &app, &pc, 7, true, 3);
	/* templates: a valid TCP segment, an echo request, an ARP request, a UDP datagram */
	uint8_t tpl[4][200];
	size_t tlen[4];
	rp_drain(&rp);
	rp_tcp(&rp, pc.port, pc.sport, pc.snd_nxt, pc.rcv_nxt, F_ACK, 100, NULL, 0, "abc", 3);
	tlen[0] = frame_echo(tpl[1], 5, 0, 64, SIM_IP_A);
	tlen[1] = tlen[0];
	{
		/* re-create the TCP template by building it through rp_tcp's layout */
		uint8_t *f = tpl[0];
		memcpy(f, tpl[1], 34);
		f[23] = 6;
		uint8_t *t = f + 34;
		memset(t, 0, 23);
		t[0] = (uint8_t)(pc.port >> 8), t[1] = (uint8_t)pc.port;
		t[2] = (uint8_t)(pc.sport >> 8), t[3] = (uint8_t)pc.sport;
		t[12] = 0x50;
		t[13] = F_ACK;
		tlen[0] = 34 + 23;
	}
	static const uint8_t arp[42] = {
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,   0,  0, 0, 0, 0xb, 8, 6, 0, 1, 8, 0,  6, 4, 0,
	    1,    2,    0,    0,    0,    0,    0xb, 10, 0, 0, 2, 0,   0, 0, 0, 0, 0, 10, 0, 0, 1};
	memcpy(tpl[2], arp, 42);
	tlen[2] = 42;
	memcpy(tpl[3], tpl[1], 34);
	tpl[3][23] = 17;
	memcpy(tpl[3] + 34, "\x12\x34\x00\x07\x00\x0c\x00\x00ping", 12);
	tlen[3] = 46;
	uint64_t rng = 7;
	uint8_t f[300];
	for (int i = 0; i < 200000; i++) {
		int k = (int)(sim_rand(&rng) % 5);
		size_t n;
		if (k == 4) {
			n = sim_rand(&rng) % sizeof(f);
			for (size_t j = 0; j < n; j++)
				f[j] = (uint8_t)sim_rand(&rng);
			if (n > 14)
				memcpy(f, sim_mac_a, 6);
		} else {
			n = tlen[k];
			memcpy(f, tpl[k], n);
			int flips = 1 + (int)(sim_rand(&rng) % 4);
			for (int j = 0; j < flips; j++)
				f[14 + sim_rand(&rng) % (n - 14)] ^= (uint8_t)sim_rand(&rng);
			if (sim_rand(&rng) % 4 == 0) {
				/* keep the IP header checksum right so deeper layers get the junk
				 */
				f[24] = f[25] = 0;
				uint16_t c = ref_csum(f + 14, (f[14] & 15) * 4u, 0);
				f[24] = (uint8_t)(c >> 8);
				f[25] = (uint8_t)c;
			}
			if (sim_rand(&rng) % 2 == 0)
				fix_l4_csum(f, n);
			if (sim_rand(&rng) % 8 == 0)
				n = sim_rand(&rng) % n;
		}
		rp_frame(&rp, f, n);
		if (i % 1000 == 0) {
			rp_drain(&rp);
			rp_advance(&rp, 50000);
		}
	}
	rp_drain(&rp);
	struct net_stats st = rstats();
	uint64_t drops = 0;
	for (int i = 0; i < NET_DROP__COUNT; i++)
		drops += st.drops[i];
	assert_true(drops > 100000);
	printf("   storm: %llu drops (bad_csum %llu, truncated %llu, bad_header %llu)\n",
	       (unsigned long long)drops, (unsigned long long)st.drops[NET_DROP_BAD_CSUM],
	       (unsigned long long)st.drops[NET_DROP_TRUNCATED],
	       (unsigned long long)st.drops[NET_DROP_BAD_HEADER]);
	/* still alive: an echo request is answered */
	uint8_t b[64], type, ttl;
	rp.now += 2000000;
	rp_ip(&rp, 1, b, echo_req(b, 3, 3, 8));
	assert_true(next_icmp(&type, &ttl));
	tcp_listen_close(l);
	test_app_free(&app);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum),
	    cmocka_unit_test(test_siphash),
	    cmocka_unit_test(test_arp_ping),
	    cmocka_unit_test(test_arp_gratuitous),
	    cmocka_unit_test(test_arp_stale_entry_revalidated_by_tcp),
	    cmocka_unit_test_setup_teardown(test_icmp_echo_reply, rp_setup, rp_teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_header, rp_setup, rp_teardown),
	    cmocka_unit_test_setup_teardown(test_icmp_rate_limit, rp_setup, rp_teardown),
	    cmocka_unit_test_setup_teardown(test_routing, rp_setup, rp_teardown),
	    cmocka_unit_test(test_udp),
	    cmocka_unit_test_setup_teardown(test_udp_checksums, rp_setup, rp_teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_storm, rp_setup, rp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
