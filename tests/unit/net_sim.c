/* Test harness for net/ (see net_sim.h). Host only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "tests/unit/net_sim.h"

const uint8_t sim_mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
const uint8_t sim_mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};

/* host malloc/free behind the stack's allocator ops */
static void *h_alloc(void *ctx, size_t n)
{
	return malloc(n);
}

static void h_free(void *ctx, void *p)
{
	free(p);
}

const struct net_alloc_ops sim_alloc = {h_alloc, h_free, NULL};

/* sim_rand: xorshift64* */
uint64_t sim_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* sim_pattern_byte: byte at off of the keyed stream (a mixed 64-bit word per 8 bytes). */
uint8_t sim_pattern_byte(uint64_t key, uint64_t off)
{
	uint64_t x = (off / 8) ^ key;
	x *= 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)(x >> (8 * (off % 8)));
}

void sim_pattern_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = sim_pattern_byte(key, off + i);
}

/* ---- simulated link -------------------------------------------------------------------- */

static bool frame_before(const struct sim_frame *a, const struct sim_frame *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct sim *sm, struct sim_frame *f)
{
	if (sm->nheap == sm->capheap) {
		sm->capheap = sm->capheap ? sm->capheap * 2 : 256;
		sm->heap = realloc(sm->heap, sm->capheap * sizeof(*sm->heap));
	}
	size_t i = sm->nheap++;
	sm->heap[i] = f;
	while (i && frame_before(sm->heap[i], sm->heap[(i - 1) / 2])) {
		struct sim_frame *t = sm->heap[i];
		sm->heap[i] = sm->heap[(i - 1) / 2];
		sm->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct sim_frame *heap_pop(struct sim *sm)
{
	struct sim_frame *top = sm->heap[0];
	sm->heap[0] = sm->heap[--sm->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < sm->nheap && frame_before(sm->heap[l], sm->heap[m]))
			m = l;
		if (r < sm->nheap && frame_before(sm->heap[r], sm->heap[m]))
			m = r;
		if (m == i)
			break;
		struct sim_frame *t = sm->heap[i];
		sm->heap[i] = sm->heap[m];
		sm->heap[m] = t;
		i = m;
	}
	return top;
}

static bool chance(struct sim *sm, uint32_t ppm)
{
	return ppm && sim_rand(&sm->rng) % 1000000 < ppm;
}

/* sim_enqueue: one copy of a frame onto the wire. */
static void sim_enqueue(struct sim *sm, int from, const uint8_t *buf, size_t len, bool dup)
{
	struct sim_dir *d = &sm->dir[from];
	uint64_t now_ns = sm->now * 1000;
	uint64_t start = d->busy_ns > now_ns ? d->busy_ns : now_ns;
	if (d->rate_bps) {
		uint64_t queued = (start - now_ns) * d->rate_bps / 8000000000ULL / 1514 + 1;
		if (d->queue_max && queued > d->queue_max) {
			d->qdrops++;
			return;
		}
		d->busy_ns =
		    start + (len + 24) * 8 * 1000000000ULL / d->rate_bps; /* + preamble/IFG */
	} else {
		d->busy_ns = start;
	}
	uint64_t at = (d->busy_ns + 999) / 1000 + d->delay_us;
	if (chance(sm, d->reorder_ppm)) {
		at += d->reorder_us;
		d->reordered++;
	}
	struct sim_frame *f = malloc(sizeof(*f) + len);
	f->at = at;
	f->order = sm->order++;
	f->to = 1 - from;
	f->len = len;
	memcpy(f->data, buf, len);
	heap_push(sm, f);
	(void)dup;
}

static int sim_send(struct netif *nif, const struct net_iov *iov, unsigned n, size_t len)
{
	struct sim_node *node = nif->priv;
	struct sim *sm = node->sim;
	struct sim_dir *d = &sm->dir[node->idx];
	uint8_t buf[2048];
	if (len > sizeof(buf))
		return -90;
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + off, iov[i].base, iov[i].len);
		off += iov[i].len;
	}
	d->frames++;
	d->bytes += len;
	if (d->drop && d->drop(d->drop_ctx, buf, len)) {
		d->lost++;
		return 0;
	}
	if (chance(sm, d->loss_ppm)) {
		d->lost++;
		return 0;
	}
	sim_enqueue(sm, node->idx, buf, len, false);
	if (chance(sm, d->dup_ppm)) {
		d->dups++;
		sim_enqueue(sm, node->idx, buf, len, true);
	}
	return 0;
}

static const struct netif_ops sim_ops = {.send = sim_send};

void sim_init(struct sim *sm, uint64_t seed, const struct net_config *cfg)
{
	memset(sm, 0, sizeof(*sm));
	sm->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	sm->now = 1000000;
	sm->dir[0].delay_us = sm->dir[1].delay_us = 100;
	for (int i = 0; i < 2; i++) {
		struct sim_node *n = &sm->node[i];
		struct net_config c;
		if (cfg)
			c = *cfg;
		else
			net_config_default(&c);
		c.secret[0] = seed + 17 * (i + 1);
		c.secret[1] = ~seed;
		n->sim = sm;
		n->idx = i;
		n->s = net_create(&sim_alloc, &c);
		n->nif.ops = &sim_ops;
		n->nif.priv = n;
		n->nif.mtu = 1500;
		memcpy(n->nif.mac, i ? sim_mac_b : sim_mac_a, 6);
		snprintf(n->nif.name, sizeof(n->nif.name), "sim%d", i);
		net_if_add(n->s, &n->nif);
		net_if_set_link(&n->nif, true, sm->now);
		net_if_set_ipv4(&n->nif, i ? SIM_IP_B : SIM_IP_A, 24, 0, sm->now);
	}
}

void sim_free(struct sim *sm)
{
	for (int i = 0; i < 2; i++)
		net_destroy(sm->node[i].s);
	for (size_t i = 0; i < sm->nheap; i++)
		free(sm->heap[i]);
	free(sm->heap);
	sm->heap = NULL;
	sm->nheap = 0;
}

bool sim_step(struct sim *sm)
{
	uint64_t t = UINT64_MAX;
	if (sm->nheap)
		t = sm->heap[0]->at;
	for (int i = 0; i < 2; i++) {
		uint64_t d = net_next_deadline(sm->node[i].s);
		if (d < t)
			t = d;
	}
	if (t == UINT64_MAX)
		return false;
	if (t > sm->now)
		sm->now = t;
	while (sm->nheap && sm->heap[0]->at <= sm->now) {
		struct sim_frame *f = heap_pop(sm);
		net_rx(&sm->node[f->to].nif, f->data, f->len, sm->now);
		free(f);
	}
	for (int i = 0; i < 2; i++)
		net_poll(sm->node[i].s, sm->now);
	return true;
}

bool sim_run(struct sim *sm, uint64_t until, bool (*done)(void *), void *arg)
{
	while (sm->now < until) {
		if (done && done(arg))
			return true;
		if (!sim_step(sm)) {
			sm->now = until;
			break;
		}
	}
	return done ? done(arg) : false;
}

void sim_run_for(struct sim *sm, uint64_t us)
{
	sim_run(sm, sm->now + us, NULL, NULL);
}

/* ---- raw peer --------------------------------------------------------------------------- */

static int rp_send(struct netif *nif, const struct net_iov *iov, unsigned n, size_t len)
{
	struct rawpeer *rp = nif->priv;
	if (rp->ncap == rp->capcap) {
		rp->capcap = rp->capcap ? rp->capcap * 2 : 64;
		rp->cap = realloc(rp->cap, rp->capcap * sizeof(*rp->cap));
	}
	struct raw_frame *f = &rp->cap[rp->ncap++];
	size_t off = 0;
	for (unsigned i = 0; i < n && off + iov[i].len <= sizeof(f->data); i++) {
		memcpy(f->data + off, iov[i].base, iov[i].len);
		off += iov[i].len;
	}
	f->len = off;
	return 0;
}

static const struct netif_ops rp_ops = {.send = rp_send};

void rp_init(struct rawpeer *rp, const struct net_config *cfg)
{
	memset(rp, 0, sizeof(*rp));
	rp->now = 1000000;
	struct net_config c;
	if (cfg)
		c = *cfg;
	else
		net_config_default(&c);
	c.secret[0] = 0x1234;
	c.secret[1] = 0x5678;
	rp->s = net_create(&sim_alloc, &c);
	rp->nif.ops = &rp_ops;
	rp->nif.priv = rp;
	rp->nif.mtu = 1500;
	memcpy(rp->nif.mac, sim_mac_a, 6);
	net_if_add(rp->s, &rp->nif);
	net_if_set_link(&rp->nif, true, rp->now);
	net_if_set_ipv4(&rp->nif, SIM_IP_A, 24, 0, rp->now);
	net_arp_add_static(rp->s, &rp->nif, SIM_IP_B, sim_mac_b);
	rp_drain(rp);
}

void rp_free(struct rawpeer *rp)
{
	net_destroy(rp->s);
	free(rp->cap);
	rp->cap = NULL;
}

size_t rp_pending(const struct rawpeer *rp)
{
	return rp->ncap - rp->rd;
}

const struct raw_frame *rp_next(struct rawpeer *rp)
{
	return rp->rd < rp->ncap ? &rp->cap[rp->rd++] : NULL;
}

void rp_drain(struct rawpeer *rp)
{
	rp->ncap = rp->rd = 0;
}

uint16_t ref_csum(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

bool parse_tcp(const uint8_t *f, size_t len, struct seg_view *v)
{
	memset(v, 0, sizeof(*v));
	if (len < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	const uint8_t *ip = f + 14;
	size_t hl = (ip[0] & 15) * 4u, tot = (size_t)(ip[2] << 8 | ip[3]);
	if (ip[9] != 6 || tot > len - 14)
		return false;
	const uint8_t *t = ip + hl;
	size_t tl = tot - hl, thl = (t[12] >> 4) * 4u;
	v->src = (net_ip4)(ip[12] << 24 | ip[13] << 16 | ip[14] << 8 | ip[15]);
	v->dst = (net_ip4)(ip[16] << 24 | ip[17] << 16 | ip[18] << 8 | ip[19]);
	v->ttl = ip[8];
	v->sport = (uint16_t)(t[0] << 8 | t[1]);
	v->dport = (uint16_t)(t[2] << 8 | t[3]);
	v->seq = (uint32_t)t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7];
	v->ack = (uint32_t)t[8] << 24 | t[9] << 16 | t[10] << 8 | t[11];
	v->flags = t[13];
	v->wnd = (uint32_t)(t[14] << 8 | t[15]);
	v->data = t + thl;
	v->dlen = (uint32_t)(tl - thl);
	for (size_t i = 20; i < thl;) {
		uint8_t k = t[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		uint8_t ol = t[i + 1];
		if (ol < 2)
			break;
		if (k == 2) {
			v->has_mss = true;
			v->mss = (uint16_t)(t[i + 2] << 8 | t[i + 3]);
		} else if (k == 3) {
			v->has_ws = true;
			v->ws = t[i + 2];
		} else if (k == 4) {
			v->has_sackok = true;
		} else if (k == 5) {
			for (int b = 0; b < (ol - 2) / 8 && b < 4; b++) {
				const uint8_t *q = t + i + 2 + 8 * b;
				v->sack[b][0] =
				    (uint32_t)q[0] << 24 | q[1] << 16 | q[2] << 8 | q[3];
				v->sack[b][1] =
				    (uint32_t)q[4] << 24 | q[5] << 16 | q[6] << 8 | q[7];
				v->nsack = b + 1;
			}
		} else if (k == 8) {
			v->has_ts = true;
			v->tsval =
			    (uint32_t)t[i + 2] << 24 | t[i + 3] << 16 | t[i + 4] << 8 | t[i + 5];
			v->tsecr =
			    (uint32_t)t[i + 6] << 24 | t[i + 7] << 16 | t[i + 8] << 8 | t[i + 9];
		}
		i += ol;
	}
	return true;
}

bool rp_next_tcp(struct rawpeer *rp, struct seg_view *v)
{
	const struct raw_frame *f;
	while ((f = rp_next(rp)))
		if (parse_tcp(f->data, f->len, v))
			return true;
	return false;
}

void rp_frame(struct rawpeer *rp, const void *f, size_t len)
{
	net_rx(&rp->nif, f, len, rp->now);
}

/* build_ip: eth + IPv4 header from B to A around payload into buf; returns frame length. */
static size_t build_ip(struct rawpeer *rp, uint8_t *buf, uint8_t proto, size_t plen)
{
	memcpy(buf, sim_mac_a, 6);
	memcpy(buf + 6, sim_mac_b, 6);
	buf[12] = 0x08;
	buf[13] = 0;
	uint8_t *ip = buf + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + plen) >> 8);
	ip[3] = (uint8_t)(20 + plen);
	ip[4] = (uint8_t)(rp->ip_id >> 8);
	ip[5] = (uint8_t)rp->ip_id++;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = proto;
	uint32_t src = SIM_IP_B, dst = SIM_IP_A;
	for (int i = 0; i < 4; i++) {
		ip[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		ip[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	uint16_t c = ref_csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	return 14 + 20 + plen;
}

void rp_ip(struct rawpeer *rp, uint8_t proto, const void *payload, size_t len)
{
	uint8_t buf[70000];
	memcpy(buf + 34, payload, len);
	size_t n = build_ip(rp, buf, proto, len);
	rp_frame(rp, buf, n);
}

void rp_tcp(struct rawpeer *rp, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
            uint8_t flags, uint16_t wnd, const uint8_t *opts, size_t olen, const void *data,
            size_t dlen)
{
	static uint8_t buf[70000];
	uint8_t *t = buf + 34;
	size_t hl = 20 + ((olen + 3) & ~(size_t)3);
	memset(t, 0, hl);
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8);
	t[3] = (uint8_t)dport;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	t[14] = (uint8_t)(wnd >> 8);
	t[15] = (uint8_t)wnd;
	if (olen)
		memcpy(t + 20, opts, olen);
	if (dlen)
		memcpy(t + hl, data, dlen);
	size_t tl = hl + dlen;
	uint32_t ps = (SIM_IP_B >> 16) + (SIM_IP_B & 0xffff) + (SIM_IP_A >> 16) +
	              (SIM_IP_A & 0xffff) + 6 + (uint32_t)tl;
	uint16_t c = ref_csum(t, tl, ps);
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	size_t n = build_ip(rp, buf, 6, tl);
	rp_frame(rp, buf, n);
}

void rp_advance(struct rawpeer *rp, uint64_t us)
{
	uint64_t end = rp->now + us;
	for (;;) {
		uint64_t d = net_next_deadline(rp->s);
		if (d > end)
			break;
		if (d > rp->now)
			rp->now = d;
		net_poll(rp->s, rp->now);
	}
	rp->now = end;
	net_poll(rp->s, rp->now);
}

/* ---- TCP helpers over the raw peer ------------------------------------------------------ */

static void app_recv(void *arg, struct tcp_conn *c, const void *d, size_t len)
{
	struct test_app *a = arg;
	if (!d) {
		a->eofs++;
		return;
	}
	if (a->rcvd + len <= a->cap)
		memcpy(a->buf + a->rcvd, d, len);
	a->rcvd += len;
	if (a->auto_recved)
		tcp_recved(c, len, 0);
}

static void app_sent(void *arg, struct tcp_conn *c, size_t acked)
{
	struct test_app *a = arg;
	a->acked += acked;
}

static void app_connected(void *arg, struct tcp_conn *c)
{
	struct test_app *a = arg;
	a->connected++;
}

static void app_err(void *arg, struct tcp_conn *c, int err)
{
	struct test_app *a = arg;
	a->errs++;
	a->last_err = err;
	a->c = NULL;
}

const struct tcp_callbacks test_app_cb = {
    .recv = app_recv, .sent = app_sent, .connected = app_connected, .err = app_err};

int test_app_accept(void *arg, struct tcp_listener *l, struct tcp_conn *c)
{
	struct test_app *a = arg;
	if (a->reject)
		return -1;
	a->accepted++;
	a->c = c;
	tcp_set_callbacks(c, &test_app_cb, a);
	return 0;
}

void test_app_init(struct test_app *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->cap = cap;
	a->buf = cap ? malloc(cap) : NULL;
	a->auto_recved = true;
}

void test_app_free(struct test_app *a)
{
	free(a->buf);
	a->buf = NULL;
}

size_t rp_syn_opts(uint8_t *o, uint16_t mss, int ws, bool ts, uint32_t tsval, uint32_t tsecr)
{
	size_t n = 0;
	o[n++] = 2;
	o[n++] = 4;
	o[n++] = (uint8_t)(mss >> 8);
	o[n++] = (uint8_t)mss;
	if (ws >= 0) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = (uint8_t)ws;
	}
	if (ts) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 8;
		o[n++] = 10;
		for (int i = 0; i < 4; i++)
			o[n++] = (uint8_t)(tsval >> (24 - 8 * i));
		for (int i = 0; i < 4; i++)
			o[n++] = (uint8_t)(tsecr >> (24 - 8 * i));
	}
	return n;
}

void rp_seg(struct rawpeer *rp, struct rp_conn *pc, uint8_t flags, const void *data, size_t len)
{
	uint8_t o[16];
	size_t olen = 0;
	if (pc->ts) {
		olen = rp_syn_opts(o, 0, -1, true, ++pc->tsval, pc->ts_recent) - 4;
		memmove(o, o + 4, olen);
	}
	rp_tcp(rp, pc->port, pc->sport, pc->snd_nxt, pc->rcv_nxt, flags, pc->wnd, o, olen, data,
	       len);
	pc->snd_nxt += (uint32_t)len + !!(flags & F_SYN) + !!(flags & F_FIN);
}

void rp_expect(struct rawpeer *rp, struct rp_conn *pc, struct seg_view *v)
{
	assert_true(rp_next_tcp(rp, v));
	if (v->has_ts)
		pc->ts_recent = v->tsval;
}

void rp_establish_active(struct rawpeer *rp, struct test_app *app, struct rp_conn *pc,
                         uint16_t peer_port, bool ts, int ws)
{
	int err;
	rp_drain(rp);
	app->c = tcp_connect(rp->s, SIM_IP_B, peer_port, NULL, &test_app_cb, app, rp->now, &err);
	assert_non_null(app->c);
	struct seg_view v;
	rp_expect(rp, pc, &v);
	assert_int_equal(v.flags, F_SYN);
	memset(pc, 0, sizeof(*pc));
	pc->port = peer_port;
	pc->sport = v.sport;
	pc->snd_nxt = 0x10000000;
	pc->rcv_nxt = v.seq + 1;
	pc->wnd = 65535;
	pc->tsval = 5000;
	pc->ts_recent = v.tsval;
	uint8_t o[40];
	size_t olen = rp_syn_opts(o, 1460, ws, ts, pc->tsval, v.tsval);
	rp_tcp(rp, pc->port, pc->sport, pc->snd_nxt, pc->rcv_nxt, F_SYN | F_ACK, pc->wnd, o, olen,
	       NULL, 0);
	pc->snd_nxt++;
	pc->ts = ts;
	rp_expect(rp, pc, &v);
	assert_int_equal(v.flags, F_ACK);
	assert_int_equal(v.ack, pc->snd_nxt);
	assert_int_equal(app->connected, 1);
}

struct tcp_listener *rp_establish_passive(struct rawpeer *rp, struct test_app *app,
                                          struct rp_conn *pc, uint16_t port, bool ts, int ws)
{
	int err;
	rp_drain(rp);
	struct tcp_listener *l = tcp_listen(rp->s, 0, port, 0, NULL, test_app_accept, app, &err);
	assert_non_null(l);
	memset(pc, 0, sizeof(*pc));
	pc->port = 40000;
	pc->sport = port;
	pc->snd_nxt = 0x20000000;
	pc->wnd = 65535;
	pc->tsval = 7000;
	uint8_t o[40];
	size_t olen = rp_syn_opts(o, 1460, ws, ts, pc->tsval, 0);
	rp_tcp(rp, pc->port, port, pc->snd_nxt, 0, F_SYN, pc->wnd, o, olen, NULL, 0);
	pc->snd_nxt++;
	struct seg_view v;
	rp_expect(rp, pc, &v);
	assert_int_equal(v.flags, F_SYN | F_ACK);
	assert_int_equal(v.ack, pc->snd_nxt);
	pc->rcv_nxt = v.seq + 1;
	pc->ts = ts;
	assert_int_equal(rp_state(rp), TCP_SYN_RCVD);
	rp_seg(rp, pc, F_ACK, NULL, 0);
	assert_int_equal(app->accepted, 1);
	assert_int_equal(rp_state(rp), TCP_ESTABLISHED);
	return l;
}

enum tcp_state rp_state(struct rawpeer *rp)
{
	struct tcp_conn_info info[4];
	size_t n = tcp_snapshot(rp->s, info, 4);
	return n ? info[0].state : TCP_CLOSED;
}

size_t rp_count_tcp(struct rawpeer *rp)
{
	size_t n = 0;
	struct seg_view v;
	for (size_t i = rp->rd; i < rp->ncap; i++)
		if (parse_tcp(rp->cap[i].data, rp->cap[i].len, &v))
			n++;
	return n;
}
