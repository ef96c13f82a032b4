/*
 * Passive open: listeners, the LISTEN state of RFC 9293 3.10.7.2, a bounded half-open
 * backlog per listener, and SYN cookies once it is full. A cookie ISN is
 *   count(5 bits, 64 s units) | MSS index(3) | MAC(24) = SipHash(secret, 4-tuple, peer ISN,
 *   count, index);
 * the peer's window scale and SACK permission travel in the low 6 bits of our TSval (echoed
 * back in TSecr), so both survive a flood when the peer uses timestamps (as Linux does).
 */
#include "net/tcp.h"

static const uint16_t cookie_mss[8] = {216, 536, 1200, 1360, 1400, 1440, 1460, 8960};

#define COOKIE_SHIFT 26 /* count period 2^26 us = 67 s */

/* tcp_find_listener: listener for ip:port, exact address before wildcard. */
struct tcp_listener *tcp_find_listener(struct net_stack *s, net_ip4 ip, uint16_t port)
{
	struct tcp_listener *any = NULL;
	for (struct tcp_listener *l = s->listeners; l; l = l->next) {
		if (l->port != port)
			continue;
		if (l->ip == ip)
			return l;
		if (!l->ip)
			any = l;
	}
	return any;
}

/* tcp_listener_child_gone: a half-open child left SYN_RCVD. */
void tcp_listener_child_gone(struct tcp_conn *c)
{
	if (c->listener) {
		c->listener->half_open--;
		c->listener = NULL;
	}
}

/* cookie_mac: the 24-bit keyed MAC of a cookie. */
static uint32_t cookie_mac(struct net_stack *s, const struct tcp_seg *sg, uint32_t peer_isn,
                           uint32_t count, uint32_t idx)
{
	uint8_t b[25];
	put_be32(b, sg->ip->dst);
	put_be32(b + 4, sg->ip->src);
	put_be16(b + 8, sg->dport);
	put_be16(b + 10, sg->sport);
	put_be32(b + 12, peer_isn);
	put_be32(b + 16, count);
	put_be32(b + 20, idx);
	b[24] = 3;
	return (uint32_t)net_siphash(s->cfg.secret, b, sizeof(b)) & 0xffffff;
}

/* listener_rcvbuf: the receive buffer children of l get. */
static uint32_t listener_rcvbuf(const struct tcp_listener *l)
{
	uint32_t b = l->opts.rcvbuf ? l->opts.rcvbuf : l->s->cfg.tcp_rcvbuf;
	return MAX(MIN(b, 1u << 30), 1024u);
}

/* tcp_cookie_synack: answer a SYN statelessly with a cookie (backlog full). */
static void tcp_cookie_synack(struct tcp_listener *l, const struct tcp_seg *sg)
{
	struct net_stack *s = l->s;
	uint16_t peer = sg->mss_ok ? sg->mss : TCP_DEFAULT_MSS;
	uint32_t idx = 0;
	for (uint32_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= peer)
			idx = i;
	uint32_t count = (uint32_t)(s->now_us >> COOKIE_SHIFT);
	uint32_t iss = ((count & 31) << 27) | (idx << 24) | cookie_mac(s, sg, sg->seq, count, idx);
	bool ts = sg->ts_ok && s->cfg.tcp_timestamps;
	bool ws = ts && sg->ws_ok && s->cfg.tcp_wscale;
	bool sack = ts && sg->sackok && s->cfg.tcp_sack;
	uint32_t rcvbuf = listener_rcvbuf(l);
	uint8_t rws = ws ? tcp_wscale_for(rcvbuf) : 0;
	uint32_t now = (uint32_t)(s->now_us / 1000) +
	               tcp_ts_offset(s, sg->ip->dst, sg->dport, sg->ip->src, sg->sport);
	uint32_t tsval = (now & ~0x3fu) | (ws ? 0x10u | sg->ws : 0) | (sack ? 0x20u : 0);
	if (SEQ_GT(tsval, now))
		tsval -= 64; /* keep our clock monotonic */
	net_ip4 nh;
	struct netif *nif = ip_route(s, sg->ip->src, &nh);
	uint16_t mss = (uint16_t)MIN(nif ? nif->mtu - 40 : 536u, 65495u);
	tcp_send_cookie_synack(s, sg, iss, mss, rws, ws, ts, sack, tsval, ws ? rcvbuf : 65535);
}

/* tcp_cookie_accept: an ACK to a listener: if it returns a valid cookie, create the
 * connection directly in ESTABLISHED; true if the segment was consumed. */
static bool tcp_cookie_accept(struct tcp_listener *l, struct tcp_seg *sg)
{
	struct net_stack *s = l->s;
	if (sg->flags & (TH_SYN | TH_RST | TH_FIN)) {
		net_drop(s, sg->ip->nif, NET_DROP_BAD_STATE);
		return false;
	}
	uint32_t cookie = sg->ack - 1, peer_isn = sg->seq - 1;
	uint32_t now = (uint32_t)(s->now_us >> COOKIE_SHIFT);
	uint32_t age = (now - (cookie >> 27)) & 31;
	uint32_t idx = (cookie >> 24) & 7;
	if (age > 1 || cookie_mac(s, sg, peer_isn, now - age, idx) != (cookie & 0xffffff)) {
		net_drop(s, sg->ip->nif, NET_DROP_BAD_COOKIE);
		return false;
	}
	struct tcp_opts o = l->opts;
	o.rcvbuf = listener_rcvbuf(l);
	struct tcp_conn *c = tcp_conn_new(s, sg->ip->dst, sg->dport, sg->ip->src, sg->sport, &o);
	if (!c) {
		net_drop(s, sg->ip->nif, NET_DROP_NO_BUFFER);
		return true;
	}
	bool ts = sg->ts_ok && s->cfg.tcp_timestamps;
	bool ws = ts && (sg->tsecr & 0x10);
	c->flags |= TF_PASSIVE | TF_DETACHED;
	if (ts) {
		c->flags |= TF_TS;
		c->ts_recent = sg->tsval;
		c->ts_recent_us = s->now_us;
	}
	if (ts && (sg->tsecr & 0x20) && s->cfg.tcp_sack)
		c->flags |= TF_SACK;
	if (ws) {
		c->flags |= TF_WS;
		c->snd_wscale = (uint8_t)MIN(sg->tsecr & 0xfu, (uint32_t)TCP_MAX_WSCALE);
	} else {
		c->snd_wscale = c->rcv_wscale = 0;
		c->rcv_buf = MIN(c->rcv_buf, 65535u);
	}
	tcp_set_mss(c, cookie_mss[idx]);
	c->iss = cookie;
	c->snd_una = c->snd_nxt = c->snd_max = c->sq_end = cookie + 1;
	c->recover = cookie;
	c->irs = peer_isn;
	c->rcv_nxt = sg->seq;
	c->rcv_adv = c->rcv_nxt + MIN(c->rcv_buf, 65535u);
	c->last_ack_sent = c->rcv_nxt;
	c->snd_wnd = c->max_snd_wnd = sg->wnd << c->snd_wscale;
	c->snd_wl1 = sg->seq;
	c->snd_wl2 = sg->ack;
	tcp_hash_insert(c);
	s->stats.tcpx.syncookies_ok++;
	s->stats.tcpx.passive_opens++;
	c->listener = l;
	l->half_open++;
	tcp_established(c);
	if (!(c->flags & TF_DEAD))
		tcp_process_synced(c, sg); /* the ACK may carry data */
	if (!(c->flags & TF_DEAD))
		tcp_output(c);
	return true;
}

/* tcp_passive_open: create a SYN_RCVD child and send the SYN-ACK. */
static void tcp_passive_open(struct tcp_listener *l, struct tcp_seg *sg)
{
	struct net_stack *s = l->s;
	const struct ip_info *ip = sg->ip;
	struct tcp_conn *c = NULL;
	if (l->half_open < l->backlog)
		c = tcp_conn_new(s, ip->dst, sg->dport, ip->src, sg->sport, &l->opts);
	if (!c) {
		if (s->cfg.tcp_syncookies)
			tcp_cookie_synack(l, sg);
		else
			net_drop(s, ip->nif, NET_DROP_SYN_BACKLOG);
		return;
	}
	c->flags |= TF_PASSIVE | TF_DETACHED; /* the app sees it once established */
	c->listener = l;
	l->half_open++;
	c->irs = sg->seq;
	c->rcv_nxt = sg->seq + 1;
	c->rcv_adv = c->rcv_nxt + MIN(c->rcv_buf, 65535u);
	c->iss = tcp_isn(s, c->lip, c->lport, c->rip, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->sq_end = c->iss + 1;
	c->recover = c->iss;
	if (sg->ws_ok && s->cfg.tcp_wscale) {
		c->flags |= TF_WS;
		c->snd_wscale = sg->ws;
	} else {
		c->snd_wscale = c->rcv_wscale = 0;
		c->rcv_buf = MIN(c->rcv_buf, 65535u);
		c->rcv_adv = c->rcv_nxt + c->rcv_buf;
	}
	if (sg->ts_ok && s->cfg.tcp_timestamps) {
		c->flags |= TF_TS;
		c->ts_recent = sg->tsval;
		c->ts_recent_us = s->now_us;
	}
	if (sg->sackok && s->cfg.tcp_sack)
		c->flags |= TF_SACK;
	tcp_set_mss(c, sg->mss_ok ? sg->mss : TCP_DEFAULT_MSS);
	c->snd_wnd = c->max_snd_wnd = sg->wnd; /* unscaled in a SYN */
	c->snd_wl1 = sg->seq;
	tcp_set_state(c, TCP_SYN_RCVD);
	tcp_hash_insert(c);
	s->stats.tcpx.passive_opens++;
	tcp_send_syn(c);
	c->flags |= TF_RTT;
	c->rtt_seq = c->iss;
	c->rtt_start = s->now_us;
	tcp_rexmit_restart(c);
}

/* tcp_listen_input: RFC 9293 3.10.7.2 (LISTEN): RST ignored, ACK answered with RST unless
 * it carries a valid cookie, SYN opens a child. Data on the SYN is not kept. */
void tcp_listen_input(struct tcp_listener *l, struct tcp_seg *sg)
{
	struct net_stack *s = l->s;
	if (sg->flags & TH_RST) {
		net_drop(s, sg->ip->nif, NET_DROP_RST_IGNORED);
		return;
	}
	if (sg->flags & TH_ACK) {
		if (s->cfg.tcp_syncookies && tcp_cookie_accept(l, sg))
			return;
		if (!s->cfg.tcp_syncookies)
			net_drop(s, sg->ip->nif, NET_DROP_BAD_ACK);
		tcp_send_rst(s, sg);
		return;
	}
	if (!(sg->flags & TH_SYN)) {
		net_drop(s, sg->ip->nif, NET_DROP_BAD_STATE);
		return;
	}
	tcp_passive_open(l, sg);
}

/* tcp_listen: passive open on ip (0 = any):port. */
struct tcp_listener *tcp_listen(struct net_stack *s, net_ip4 ip, uint16_t port, unsigned backlog,
                                const struct tcp_opts *o, tcp_accept_fn fn, void *arg, int *err)
{
	int e = NET_OK;
	struct tcp_listener *l = NULL;
	net_enter(s, s->now_us);
	if (!port || (ip && !ip_is_local(s, ip))) {
		e = NET_EINVAL;
		goto out;
	}
	for (struct tcp_listener *x = s->listeners; x; x = x->next) {
		if (x->port == port && (x->ip == ip || !x->ip || !ip)) {
			e = NET_EADDRINUSE;
			goto out;
		}
	}
	l = net_zalloc(s, sizeof(*l));
	if (!l) {
		e = NET_ENOMEM;
		goto out;
	}
	l->s = s;
	l->ip = ip;
	l->port = port;
	l->backlog = backlog ? backlog : s->cfg.tcp_syn_backlog;
	if (o)
		l->opts = *o;
	l->fn = fn;
	l->arg = arg;
	l->next = s->listeners;
	s->listeners = l;
out:
	if (err)
		*err = e;
	net_leave(s);
	return l;
}

/* tcp_listen_close: stop listening; half-open children are dropped. */
void tcp_listen_close(struct tcp_listener *l)
{
	if (!l)
		return;
	struct net_stack *s = l->s;
	net_enter(s, s->now_us);
	for (struct tcp_conn *c = s->conns; c; c = c->next) {
		if (c->listener == l) {
			tcp_send_rst_conn(c);
			tcp_listener_child_gone(c);
			tcp_free_silently(c);
		}
	}
	for (struct tcp_listener **pp = &s->listeners; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	net_free(s, l);
	net_leave(s);
}
