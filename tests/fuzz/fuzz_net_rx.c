/*
 * libFuzzer target for net/: a stack (10.0.0.1) with a listener, the built-in services and an
 * established connection to a fake peer (10.0.0.2) receives a sequence of records from the
 * fuzzer input: raw frames, TCP segments aimed at the live connection (sequence and ack
 * numbers relative to the real ones, checksums fixed up so they reach the state machine),
 * segments to listeners, UDP/ICMP/ARP payloads, time advancing, and application calls.
 * Invariants: no crash/UB/leak, zero-copy completions fire exactly once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

#define IP_A  0x0a000001u
#define IP_B  0x0a000002u
#define NREFS 64

static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 0xa}, mac_b[6] = {2, 0, 0, 0, 0, 0xb};

struct fz {
	struct net_stack *s;
	struct netif nif;
	uint64_t now;
	struct tcp_conn *c; /* the app's handle on the established connection */
	uint16_t cport;     /* its local port */
	uint32_t peer_nxt;  /* our (peer) next sequence number */
	uint32_t stack_nxt; /* highest sequence the stack has sent + 1 */
	uint32_t stack_ts;  /* last TSval the stack sent */
	uint32_t peer_ts;
	int refs_done[NREFS];
	int nrefs;
	uint8_t payload[2048];
};

static void *f_alloc(void *ctx, size_t n)
{
	return malloc(n);
}

static void f_free(void *ctx, void *p)
{
	free(p);
}

static const struct net_alloc_ops fz_mem = {f_alloc, f_free, NULL};

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* fz_send: the stack transmits: remember the connection's sequence state. */
static int fz_send(struct netif *nif, const struct net_iov *iov, unsigned n, size_t len)
{
	struct fz *z = nif->priv;
	uint8_t f[2048];
	size_t off = 0;
	for (unsigned i = 0; i < n && off + iov[i].len <= sizeof(f); i++) {
		memcpy(f + off, iov[i].base, iov[i].len);
		off += iov[i].len;
	}
	if (off < 54 || f[12] != 8 || f[23] != 6)
		return 0;
	const uint8_t *t = f + 14 + (f[14] & 15) * 4;
	size_t tot = (size_t)(f[16] << 8 | f[17]);
	if ((size_t)(t - f) + 20 > off || 14 + tot > off)
		return 0;
	uint16_t sport = (uint16_t)(t[0] << 8 | t[1]);
	if (sport != z->cport)
		return 0;
	size_t thl = (t[12] >> 4) * 4u;
	uint32_t seq = be32(t + 4);
	uint32_t end = seq + (uint32_t)(tot - (size_t)(t - f - 14) - thl) + !!(t[13] & 3);
	if ((int32_t)(end - z->stack_nxt) > 0)
		z->stack_nxt = end;
	for (size_t i = 20; i + 10 <= thl; i++)
		if (t[i] == 8 && t[i + 1] == 10) {
			z->stack_ts = be32(t + i + 2);
			break;
		}
	return 0;
}

static const struct netif_ops fz_ops = {.send = fz_send};

/* fz_ip: wrap an L4 payload in Ethernet + IPv4 from B to A and deliver it. */
static void fz_ip(struct fz *z, uint8_t proto, uint8_t *l4, size_t len, bool fix_csum)
{
	static uint8_t f[70000];
	if (len > sizeof(f) - 34)
		return;
	memcpy(f, mac_a, 6);
	memcpy(f + 6, mac_b, 6);
	f[12] = 8;
	f[13] = 0;
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + len) >> 8);
	ip[3] = (uint8_t)(20 + len);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = proto;
	ip[12] = 10, ip[15] = 2, ip[16] = 10, ip[19] = 1;
	uint16_t c = csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	size_t coff = proto == 6 ? 16 : proto == 17 ? 6 : 2;
	if (fix_csum && len >= coff + 2) {
		l4[coff] = l4[coff + 1] = 0;
		uint32_t ps = (IP_A >> 16) + (IP_A & 0xffff) + (IP_B >> 16) + (IP_B & 0xffff) +
		              proto + (uint32_t)len;
		c = csum(l4, len, proto == 1 ? 0 : ps);
		l4[coff] = (uint8_t)(c >> 8);
		l4[coff + 1] = (uint8_t)c;
	}
	memcpy(f + 34, l4, len);
	net_rx(&z->nif, f, 34 + len, z->now);
}

/* fz_tcp: a TCP segment from B:sport to A:dport. */
static void fz_tcp(struct fz *z, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                   uint8_t flags, uint16_t wnd, const uint8_t *opt, size_t olen, size_t dlen,
                   bool fix)
{
	uint8_t t[60 + sizeof(z->payload)];
	olen = olen > 40 ? 40 : olen;
	size_t hl = 20 + ((olen + 3) & ~(size_t)3);
	memset(t, 0, hl);
	t[0] = (uint8_t)(sport >> 8), t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8), t[3] = (uint8_t)dport;
	for (int i = 0; i < 4; i++) {
		t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	t[14] = (uint8_t)(wnd >> 8), t[15] = (uint8_t)wnd;
	memcpy(t + 20, opt, olen);
	dlen = dlen > sizeof(z->payload) ? sizeof(z->payload) : dlen;
	memcpy(t + hl, z->payload, dlen);
	fz_ip(z, 6, t, hl + dlen, fix);
}

/* ts_opt: NOP NOP TS with the peer clock. */
static size_t ts_opt(struct fz *z, uint8_t *o)
{
	uint32_t v = ++z->peer_ts, e = z->stack_ts;
	uint8_t b[12] = {1,
	                 1,
	                 8,
	                 10,
	                 (uint8_t)(v >> 24),
	                 (uint8_t)(v >> 16),
	                 (uint8_t)(v >> 8),
	                 (uint8_t)v,
	                 (uint8_t)(e >> 24),
	                 (uint8_t)(e >> 16),
	                 (uint8_t)(e >> 8),
	                 (uint8_t)e};
	memcpy(o, b, 12);
	return 12;
}

static void app_recv(void *arg, struct tcp_conn *c, const void *d, size_t len)
{
	if (d)
		tcp_recved(c, len, 0);
}

static void app_err(void *arg, struct tcp_conn *c, int err)
{
	struct fz *z = arg;
	if (c == z->c)
		z->c = NULL;
}

static const struct tcp_callbacks app_cb = {.recv = app_recv, .err = app_err};

static int on_accept(void *arg, struct tcp_listener *l, struct tcp_conn *c)
{
	tcp_set_callbacks(c, &app_cb, NULL);
	return 0;
}

static void ref_done(void *arg, int err)
{
	int *cnt = arg;
	(*cnt)++;
}

/* fz_setup: stack, listener, services, established connection. */
static void fz_setup(struct fz *z)
{
	memset(z, 0, sizeof(*z));
	for (size_t i = 0; i < sizeof(z->payload); i++)
		z->payload[i] = (uint8_t)(i * 7);
	z->now = 1000000;
	struct net_config cfg;
	net_config_default(&cfg);
	cfg.secret[0] = 1;
	cfg.secret[1] = 2;
	cfg.mem_limit = 8u << 20;
	cfg.tcp_rcvbuf = 65536;
	z->s = net_create(&fz_mem, &cfg);
	z->nif.ops = &fz_ops;
	z->nif.priv = z;
	z->nif.mtu = 1500;
	memcpy(z->nif.mac, mac_a, 6);
	net_if_add(z->s, &z->nif);
	net_if_set_link(&z->nif, true, z->now);
	net_if_set_ipv4(&z->nif, IP_A, 24, 0x0a0000fe, z->now);
	net_arp_add_static(z->s, &z->nif, IP_B, mac_b);
	tcp_listen(z->s, 0, 80, 4, NULL, on_accept, NULL, NULL);
	net_services_set(z->s, NET_SVC_ECHO | NET_SVC_DISCARD | NET_SVC_CHARGEN);
	int err;
	z->cport = 0;
	z->c = tcp_connect(z->s, IP_B, 5000, NULL, &app_cb, z, z->now, &err);
	struct tcp_conn_info ci;
	tcp_get_info(z->c, &ci);
	z->cport = ci.local_port;
	z->stack_nxt = ci.snd_nxt;
	z->peer_nxt = 0x40000000;
	uint8_t o[40] = {2, 4, 5, 0xb4, 1, 3, 3, 6};
	size_t olen = 8 + ts_opt(z, o + 8);
	o[olen++] = 1;
	o[olen++] = 1;
	o[olen++] = 4; /* SACK permitted */
	o[olen++] = 2;
	fz_tcp(z, 5000, z->cport, z->peer_nxt, z->stack_nxt, 0x12, 65535, o, olen, 0, true);
	z->peer_nxt++;
}

/* fz_app: an application action on the connection. */
static void fz_app(struct fz *z, uint8_t op, uint8_t arg)
{
	if (!z->c)
		return;
	switch (op % 7) {
	case 0:
		tcp_write(z->c, z->payload, (size_t)arg * 8, z->now);
		break;
	case 1:
		if (z->nrefs < NREFS &&
		    tcp_write_ref(z->c, z->payload, 1 + (size_t)arg * 8, ref_done,
		                  &z->refs_done[z->nrefs], z->now) == 0)
			z->nrefs++;
		break;
	case 2:
		tcp_recved(z->c, arg, z->now);
		break;
	case 3:
		tcp_shutdown(z->c, z->now);
		break;
	case 4:
		tcp_set_nodelay(z->c, arg & 1);
		tcp_set_keepalive(z->c, (uint64_t)arg * 10000, 5000, 2);
		break;
	case 5:
		if (arg == 0x5a) {
			tcp_close(z->c, z->now);
			z->c = NULL;
		}
		break;
	default:
		if (arg == 0xa5) {
			tcp_abort(z->c, z->now);
			z->c = NULL;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z;
	fz_setup(&z);
	size_t i = 0;
	while (i < size) {
		uint8_t op = data[i++];
		size_t left = size - i;
		switch (op & 7) {
		case 0: { /* raw Ethernet frame */
			size_t n = left < 2 ? 0 : (size_t)(data[i] << 8 | data[i + 1]) % 1600;
			i += left < 2 ? left : 2;
			n = n > size - i ? size - i : n;
			net_rx(&z.nif, data + i, n, z.now);
			i += n;
			break;
		}
		case 1:
		case 2: { /* TCP to the live connection: relative seq/ack, maybe TS and SACK */
			if (left < 8)
				goto out;
			const uint8_t *r = data + i;
			i += 8;
			uint8_t o[40];
			size_t olen = (op & 8) ? ts_opt(&z, o) : 0;
			if ((op & 128) && size - i >= 8) { /* two SACK blocks below stack_nxt */
				const uint8_t *b = data + i;
				i += 8;
				o[olen++] = 1;
				o[olen++] = 1;
				o[olen++] = 5;
				o[olen++] = 18;
				for (int k = 0; k < 2; k++) {
					uint32_t st =
					    z.stack_nxt - (uint32_t)(b[4 * k] << 8 | b[4 * k + 1]);
					uint32_t en =
					    st + (uint32_t)(b[4 * k + 2] << 8 | b[4 * k + 3]);
					for (int q = 0; q < 4; q++)
						o[olen + q] = (uint8_t)(st >> (24 - 8 * q));
					for (int q = 0; q < 4; q++)
						o[olen + 4 + q] = (uint8_t)(en >> (24 - 8 * q));
					olen += 8;
				}
			}
			int16_t dseq = (int16_t)(r[1] << 8 | r[2]);
			int16_t dack = (int16_t)(r[3] << 8 | r[4]);
			uint32_t seq = z.peer_nxt + (uint32_t)(int32_t)dseq;
			uint32_t ack = z.stack_nxt + (uint32_t)(int32_t)dack;
			size_t dlen = (size_t)r[7] * ((op & 16) ? 8 : 1);
			fz_tcp(&z, 5000, z.cport, seq, ack, r[0], (uint16_t)(r[5] << 8 | r[6]), o,
			       olen, dlen, !(op & 32));
			if (dseq == 0 && (op & 64))
				z.peer_nxt += (uint32_t)dlen + !!(r[0] & 3);
			break;
		}
		case 3: { /* TCP to a listener/service or closed port, arbitrary options */
			if (left < 12)
				goto out;
			const uint8_t *r = data + i;
			i += 12;
			static const uint16_t ports[4] = {80, 7, 9, 19};
			size_t olen = r[11] % 41;
			olen = olen > size - i ? size - i : olen;
			fz_tcp(&z, (uint16_t)(1000 + r[0] % 8), (r[1] & 4) ? r[1] : ports[r[1] & 3],
			       be32(r + 2), be32(r + 6), r[10], 65535, data + i, olen,
			       (size_t)(r[1] >> 3) * 16, true);
			i += olen;
			break;
		}
		case 4: { /* time passes */
			if (left < 1)
				goto out;
			uint64_t d = (uint64_t)data[i++] << ((op >> 3) & 15);
			z.now += d;
			net_poll(z.s, z.now);
			break;
		}
		case 5: { /* UDP / ICMP / ARP-ish payloads with valid outer headers */
			if (left < 2)
				goto out;
			uint8_t proto = (uint8_t[]){1, 17, 6, 99}[data[i] & 3];
			size_t n = data[i + 1];
			i += 2;
			n = n > size - i ? size - i : n;
			uint8_t buf[256];
			memcpy(buf, data + i, n);
			fz_ip(&z, proto, buf, n, op & 8);
			i += n;
			break;
		}
		default: /* application calls */
			if (left < 2)
				goto out;
			fz_app(&z, data[i], data[i + 1]);
			i += 2;
		}
	}
out:
	z.now += 1000000;
	net_poll(z.s, z.now);
	net_destroy(z.s);
	for (int k = 0; k < z.nrefs; k++)
		if (z.refs_done[k] != 1) {
			fprintf(stderr, "completion %d fired %d times\n", k, z.refs_done[k]);
			abort();
		}
	return 0;
}
