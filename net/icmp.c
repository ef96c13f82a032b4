/*
 * ICMP (RFC 792, RFC 1122 3.2.2): echo replies (rate-limited, never to broadcasts - RFC 1122
 * 3.2.2.6 allows that) and echo requests for `ping`. The send time of each request is kept in
 * a small table so the RTT does not depend on anything the peer echoes back.
 */
#include "net/net_internal.h"

#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8
#define ICMP_HLEN         8

/* icmp_send_echo: send an echo request/reply with the given payload. */
static int icmp_send_echo(struct net_stack *s, uint8_t type, net_ip4 dst, uint16_t id, uint16_t seq,
                          const void *data, size_t len)
{
	struct net_tx tx;
	net_tx_init(&tx);
	uint8_t *h = tx.hdr + TX_L4;
	h[0] = type;
	h[1] = 0;
	put_be16(h + 2, 0);
	put_be16(h + 4, id);
	put_be16(h + 6, seq);
	tx.l4_hlen = ICMP_HLEN;
	net_tx_add(&tx, data, len);
	uint64_t sum = csum_partial(h, ICMP_HLEN, 0);
	sum = csum_iov(tx.iov + 1, tx.niov - 1, sum);
	uint16_t c = csum_fold(sum);
	memcpy(h + 2, &c, 2);
	net_count(&s->stats.icmp, true, ICMP_HLEN + len);
	return ip_output(s, &tx, 0, dst, IP_PROTO_ICMP);
}

/* icmp_echo_reply_rcvd: match a reply to one of our requests and report it. */
static void icmp_echo_reply_rcvd(struct net_stack *s, const struct ip_info *ip, uint16_t id,
                                 uint16_t seq, size_t len)
{
	for (unsigned i = 0; i < NET_PING_SLOTS; i++) {
		struct ping_slot *p = &s->ping[i];
		if (!p->used || p->id != id || p->seq != seq || p->dst != ip->src)
			continue;
		p->used = false;
		s->stats.icmp_echo_rep_rcvd++;
		struct net_ping_reply r = {
		    .from = ip->src,
		    .id = id,
		    .seq = seq,
		    .len = (uint32_t)len,
		    .ttl = ip->ttl,
		    .rtt_us = s->now_us - p->sent_us,
		};
		if (s->ping_fn)
			s->ping_fn(s->ping_arg, &r);
		return;
	}
	net_drop(s, ip->nif, NET_DROP_NO_LISTENER); /* unsolicited or duplicate reply */
}

/* icmp_input: handle an ICMP message. */
void icmp_input(struct net_stack *s, const struct ip_info *ip, const uint8_t *p, size_t len)
{
	if (len < ICMP_HLEN) {
		net_drop(s, ip->nif, NET_DROP_TRUNCATED);
		return;
	}
	if (csum_fold(csum_partial(p, len, 0)) != 0) {
		net_drop(s, ip->nif, NET_DROP_BAD_CSUM);
		return;
	}
	net_count(&s->stats.icmp, false, len);
	uint16_t id = get_be16(p + 4), seq = get_be16(p + 6);
	if (p[0] == ICMP_ECHO_REQUEST && p[1] == 0) {
		s->stats.icmp_echo_req_rcvd++;
		if (ip->bcast || !ip->src) {
			net_drop(s, ip->nif, NET_DROP_NOT_FOR_US); /* no smurf amplification */
			return;
		}
		if (!net_bucket_take(&s->icmp_bucket, s->now_us)) {
			net_drop(s, ip->nif, NET_DROP_RATE_LIMIT);
			return;
		}
		/* RFC 792: the reply carries the request's data; zero-copy from the rx frame */
		if (icmp_send_echo(s, ICMP_ECHO_REPLY, ip->src, id, seq, p + ICMP_HLEN,
		                   len - ICMP_HLEN) == NET_OK)
			s->stats.icmp_echo_rep_sent++;
		return;
	}
	if (p[0] == ICMP_ECHO_REPLY && p[1] == 0) {
		icmp_echo_reply_rcvd(s, ip, id, seq, len - ICMP_HLEN);
		return;
	}
	/* destination unreachable, time exceeded...: TCP relies on its timers instead
	 * (RFC 5927 recommends ignoring most soft errors) */
	net_drop(s, ip->nif, NET_DROP_UNSUPPORTED);
}

/* net_ping_set_handler: where echo replies matching our requests go (one per stack). */
void net_ping_set_handler(struct net_stack *s, net_ping_fn fn, void *arg)
{
	s->ping_fn = fn;
	s->ping_arg = arg;
}

/* net_ping_send: send an echo request with payload_len bytes (<= MTU - 28). */
int net_ping_send(struct net_stack *s, net_ip4 dst, uint16_t id, uint16_t seq, size_t payload_len,
                  uint64_t now_us)
{
	uint8_t payload[256];
	if (payload_len > 65507 || !dst || ip_is_martian_src(dst))
		return NET_EINVAL;
	net_enter(s, now_us);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0x20 + i % 64);
	struct ping_slot *slot = &s->ping[s->ping_next++ % NET_PING_SLOTS];
	*slot = (struct ping_slot){
	    .dst = dst, .id = id, .seq = seq, .used = true, .sent_us = s->now_us};
	int r;
	if (payload_len <= sizeof(payload)) {
		r = icmp_send_echo(s, ICMP_ECHO_REQUEST, dst, id, seq, payload, payload_len);
	} else {
		net_ip4 nh;
		struct netif *nif = ip_route(s, dst, &nh);
		if (nif && payload_len + IP_HLEN + ICMP_HLEN > nif->mtu) {
			r = NET_EMSGSIZE;
		} else {
			uint8_t *big = net_alloc(s, payload_len);
			if (!big) {
				r = NET_ENOMEM;
			} else {
				for (size_t i = 0; i < payload_len; i++)
					big[i] = payload[i % 64];
				r = icmp_send_echo(s, ICMP_ECHO_REQUEST, dst, id, seq, big,
				                   payload_len);
				net_free(s, big);
			}
		}
	}
	if (r == NET_OK)
		s->stats.icmp_echo_req_sent++;
	else if (r != NET_EAGAIN)
		slot->used = false;
	net_leave(s);
	return r;
}
