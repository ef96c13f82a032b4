/*
 * IPv4 (RFC 791) for a host (RFC 1122 3.2.1): header validation, routing to an on-link
 * destination or the gateway, output with DF set. Fragments are not reassembled: they are
 * dropped and counted (NET_DROP_FRAGMENT); everything we send is one unfragmented datagram
 * (TCP segments fit the MSS, UDP datagrams are limited to the MTU). Options are skipped.
 */
#include "net/net_internal.h"

#define IP_DF      0x4000
#define IP_MF      0x2000
#define IP_OFFMASK 0x1fff

/* ip_is_martian_src: a source address no real host has (broadcast, multicast, class E,
 * loopback) - RFC 1122 3.2.1.3. 0.0.0.0 is allowed (DHCP, ARP probes). */
bool ip_is_martian_src(net_ip4 a)
{
	return (a >> 28) >= 0xe || (a >> 24) == 127;
}

/* ip_is_local: a is one of our unicast addresses. */
bool ip_is_local(struct net_stack *s, net_ip4 a)
{
	for (unsigned i = 0; i < s->nifs; i++)
		if (s->ifs[i]->addr && s->ifs[i]->addr == a)
			return true;
	return false;
}

/* ip_dst_class: 1 if dst is ours on nif, 2 if a broadcast we accept, 0 otherwise. */
static int ip_dst_class(struct netif *nif, net_ip4 dst)
{
	if (dst == 0xffffffffu)
		return 2;
	if (!nif->addr)
		return 0;
	if (dst == nif->addr)
		return 1;
	if (nif->prefix_len < 31 && (dst & nif->mask) == (nif->addr & nif->mask) &&
	    (dst | nif->mask) == 0xffffffffu)
		return 2; /* directed broadcast of our subnet */
	return 0;
}

/* ip_input: validate an IPv4 datagram (RFC 791 3.1, RFC 1122 3.2.1) and dispatch it. */
void ip_input(struct net_stack *s, struct netif *nif, const uint8_t *p, size_t len)
{
	if (len < IP_HLEN) {
		net_drop(s, nif, NET_DROP_TRUNCATED);
		return;
	}
	unsigned hl = (p[0] & 0x0f) * 4u;
	if ((p[0] >> 4) != 4 || hl < IP_HLEN) {
		net_drop(s, nif, NET_DROP_BAD_HEADER);
		return;
	}
	size_t tot = get_be16(p + 2);
	if (hl > len || tot > len) {
		net_drop(s, nif, NET_DROP_TRUNCATED);
		return;
	}
	if (tot < hl) {
		net_drop(s, nif, NET_DROP_BAD_HEADER);
		return;
	}
	if (csum_fold(csum_partial(p, hl, 0)) != 0) {
		net_drop(s, nif, NET_DROP_BAD_CSUM);
		return;
	}
	net_count(&s->stats.ip, false, tot);
	/* the rest of the frame past tot is Ethernet padding: ignored */
	uint16_t frag = get_be16(p + 6);
	if (frag & (IP_MF | IP_OFFMASK)) {
		net_drop(s, nif, NET_DROP_FRAGMENT);
		return;
	}
	struct ip_info ip = {
	    .nif = nif,
	    .src = get_be32(p + 12),
	    .dst = get_be32(p + 16),
	    .proto = p[9],
	    .ttl = p[8], /* RFC 1122 3.2.1.7: a host does not discard on a low TTL */
	};
	int cls = ip_dst_class(nif, ip.dst);
	if (cls == 0) {
		net_drop(s, nif, NET_DROP_NOT_FOR_US); /* we do not forward */
		return;
	}
	ip.bcast = cls == 2;
	if (ip_is_martian_src(ip.src) || (ip.src && ip.src == nif->addr)) {
		net_drop(s, nif, NET_DROP_MARTIAN);
		return;
	}
	const uint8_t *l4 = p + hl; /* options (hl > 20) are skipped */
	size_t l4len = tot - hl;
	switch (ip.proto) {
	case IP_PROTO_ICMP:
		icmp_input(s, &ip, l4, l4len);
		break;
	case IP_PROTO_UDP:
		udp_input(s, &ip, l4, l4len);
		break;
	case IP_PROTO_TCP:
		tcp_input(s, &ip, l4, l4len);
		break;
	default:
		net_drop(s, nif, NET_DROP_UNSUPPORTED);
	}
}

/* ip_route: interface and next hop for dst: on-link first, then a gateway; NULL if none. */
struct netif *ip_route(struct net_stack *s, net_ip4 dst, net_ip4 *nexthop)
{
	struct netif *gw_if = NULL;
	for (unsigned i = 0; i < s->nifs; i++) {
		struct netif *nif = s->ifs[i];
		if (!nif->addr)
			continue;
		if ((dst & nif->mask) == (nif->addr & nif->mask)) {
			*nexthop = dst;
			return nif;
		}
		if (nif->gw && !gw_if)
			gw_if = nif;
	}
	if (dst == 0xffffffffu) {
		/* limited broadcast: first interface that is up, configured or not (DHCP) */
		for (unsigned i = 0; i < s->nifs; i++)
			if (s->ifs[i]->link_up) {
				*nexthop = dst;
				return s->ifs[i];
			}
		return s->nifs ? s->ifs[0] : NULL;
	}
	if (gw_if)
		*nexthop = gw_if->gw;
	return gw_if;
}

/* ip_output: add the IPv4 header to tx (L4 header at TX_L4) and send it. */
int ip_output(struct net_stack *s, struct net_tx *tx, net_ip4 src, net_ip4 dst, uint8_t proto)
{
	net_ip4 nh;
	struct netif *nif = ip_route(s, dst, &nh);
	if (!nif) {
		net_drop(s, NULL, NET_DROP_NO_ROUTE);
		return NET_ENETUNREACH;
	}
	size_t tot = IP_HLEN + tx->l4_hlen + tx->payload_len;
	if (tot > nif->mtu) {
		net_drop(s, NULL, NET_DROP_TOO_BIG);
		return NET_EMSGSIZE;
	}
	uint8_t *h = tx->hdr + TX_IP;
	h[0] = 0x45;
	h[1] = 0;
	put_be16(h + 2, (uint16_t)tot);
	put_be16(h + 4, s->ip_id++);
	put_be16(h + 6, IP_DF);
	h[8] = s->cfg.ttl;
	h[9] = proto;
	put_be16(h + 10, 0);
	put_be32(h + 12, src ? src : nif->addr);
	put_be32(h + 16, dst);
	uint16_t c = csum_fold(csum_partial(h, IP_HLEN, 0));
	memcpy(h + 10, &c, 2);
	net_count(&s->stats.ip, true, tot);
	return arp_output(s, nif, nh, tx);
}
