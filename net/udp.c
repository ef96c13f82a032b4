/* UDP (RFC 768, RFC 1122 4.1): bind, sendto, receive callback. Sockets are few: a list. */
#include "net/net_internal.h"

#define UDP_HLEN 8

struct udp_sock {
	struct net_stack *s;
	struct udp_sock *next;
	net_ip4 ip;
	uint16_t port;
	udp_recv_fn fn;
	void *arg;
};

/* udp_lookup: the socket bound to port that accepts datagrams for dst. */
static struct udp_sock *udp_lookup(struct net_stack *s, net_ip4 dst, uint16_t port, bool bcast)
{
	for (struct udp_sock *u = s->udp_socks; u; u = u->next)
		if (u->port == port && (!u->ip || u->ip == dst || bcast))
			return u;
	return NULL;
}

/* udp_port_used: a socket already has (ip, port). */
static bool udp_port_used(struct net_stack *s, net_ip4 ip, uint16_t port)
{
	for (struct udp_sock *u = s->udp_socks; u; u = u->next)
		if (u->port == port && (!u->ip || !ip || u->ip == ip))
			return true;
	return false;
}

/* udp_input: validate (RFC 768 length and optional checksum) and deliver a datagram. */
void udp_input(struct net_stack *s, const struct ip_info *ip, const uint8_t *p, size_t len)
{
	if (len < UDP_HLEN) {
		net_drop(s, ip->nif, NET_DROP_TRUNCATED);
		return;
	}
	size_t ulen = get_be16(p + 4);
	if (ulen < UDP_HLEN) {
		net_drop(s, ip->nif, NET_DROP_BAD_HEADER);
		return;
	}
	if (ulen > len) {
		net_drop(s, ip->nif, NET_DROP_TRUNCATED);
		return;
	}
	/* checksum 0 = none was computed (allowed over IPv4) */
	if (get_be16(p + 6) &&
	    csum_fold(csum_partial(p, ulen, csum_pseudo(ip->src, ip->dst, IP_PROTO_UDP, ulen)))) {
		net_drop(s, ip->nif, NET_DROP_BAD_CSUM);
		return;
	}
	net_count(&s->stats.udp, false, ulen);
	uint16_t sport = get_be16(p), dport = get_be16(p + 2);
	if (dport == 0) {
		net_drop(s, ip->nif, NET_DROP_MARTIAN);
		return;
	}
	struct udp_sock *u = udp_lookup(s, ip->dst, dport, ip->bcast);
	if (!u) {
		net_drop(s, ip->nif, NET_DROP_NO_LISTENER);
		return;
	}
	if (u->fn)
		u->fn(u->arg, u, ip->src, sport, p + UDP_HLEN, ulen - UDP_HLEN);
}

/* udp_open: bind local ip (0 = any) and port (0 = ephemeral). */
struct udp_sock *udp_open(struct net_stack *s, net_ip4 ip, uint16_t port, udp_recv_fn fn, void *arg,
                          int *err)
{
	int e = NET_OK;
	struct udp_sock *u = NULL;
	net_enter(s, s->now_us);
	if (ip && !ip_is_local(s, ip)) {
		e = NET_EINVAL;
		goto out;
	}
	if (!port) {
		uint32_t range = NET_EPHEM_LAST - NET_EPHEM_FIRST + 1;
		for (uint32_t i = 0; i < range; i++) {
			uint16_t cand = (uint16_t)(NET_EPHEM_FIRST + (s->ephem_next++ % range));
			if (!udp_port_used(s, ip, cand)) {
				port = cand;
				break;
			}
		}
		if (!port) {
			e = NET_EADDRINUSE;
			goto out;
		}
	} else if (udp_port_used(s, ip, port)) {
		e = NET_EADDRINUSE;
		goto out;
	}
	u = net_zalloc(s, sizeof(*u));
	if (!u) {
		e = NET_ENOMEM;
		goto out;
	}
	*u = (struct udp_sock){
	    .s = s, .next = s->udp_socks, .ip = ip, .port = port, .fn = fn, .arg = arg};
	s->udp_socks = u;
out:
	if (err)
		*err = e;
	net_leave(s);
	return u;
}

/* udp_sendto: one datagram (<= MTU - 28 bytes; no fragmentation). */
int udp_sendto(struct udp_sock *u, net_ip4 dst, uint16_t dport, const void *data, size_t len,
               uint64_t now_us)
{
	struct net_stack *s = u->s;
	/* martian destinations other than the limited broadcast are refused */
	bool bad_dst = !dst || (ip_is_martian_src(dst) && dst != 0xffffffffu);
	if (!dport || bad_dst || len > 65507 || (!data && len))
		return NET_EINVAL;
	net_enter(s, now_us);
	int r;
	net_ip4 nh, src = u->ip;
	struct netif *nif = ip_route(s, dst, &nh);
	if (!nif) {
		net_drop(s, NULL, NET_DROP_NO_ROUTE);
		r = NET_ENETUNREACH;
		goto out;
	}
	if (!src)
		src = nif->addr;
	if (len + UDP_HLEN + IP_HLEN > nif->mtu) {
		net_drop(s, NULL, NET_DROP_TOO_BIG);
		r = NET_EMSGSIZE;
		goto out;
	}
	struct net_tx tx;
	net_tx_init(&tx);
	uint8_t *h = tx.hdr + TX_L4;
	uint16_t ulen = (uint16_t)(UDP_HLEN + len);
	put_be16(h, u->port);
	put_be16(h + 2, dport);
	put_be16(h + 4, ulen);
	put_be16(h + 6, 0);
	tx.l4_hlen = UDP_HLEN;
	net_tx_add(&tx, data, len);
	uint64_t sum = csum_pseudo(src, dst, IP_PROTO_UDP, ulen);
	sum = csum_partial(h, UDP_HLEN, sum);
	sum = csum_iov(tx.iov + 1, tx.niov - 1, sum);
	uint16_t c = csum_fold(sum);
	if (c == 0)
		c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
	memcpy(h + 6, &c, 2);
	net_count(&s->stats.udp, true, ulen);
	r = ip_output(s, &tx, src, dst, IP_PROTO_UDP);
out:
	net_leave(s);
	return r;
}

/* udp_local_port: the bound port. */
uint16_t udp_local_port(const struct udp_sock *u)
{
	return u->port;
}

/* udp_close: unbind and free. */
void udp_close(struct udp_sock *u)
{
	if (!u)
		return;
	struct net_stack *s = u->s;
	for (struct udp_sock **pp = &s->udp_socks; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	}
	net_free(s, u);
}

/* udp_close_all: free every socket (destroy). */
void udp_close_all(struct net_stack *s)
{
	while (s->udp_socks)
		udp_close(s->udp_socks);
}
