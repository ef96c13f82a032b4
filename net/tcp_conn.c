/*
 * TCP connection blocks: allocation, the 4-tuple hash (O(1) demux), ISNs (RFC 6528), the send
 * queue of chunks, and the end of a connection (drop with an error, or finish quietly). Blocks
 * are never freed inside a callback chain: they are marked TF_DEAD and reaped at the outermost
 * net_leave(), so code that ran a callback only has to check TF_DEAD afterwards.
 */
#include "net/tcp.h"

/* tcp_hash_idx: bucket of a 4-tuple (salted so peers cannot aim at one chain). */
static uint32_t tcp_hash_idx(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip,
                             uint16_t rport)
{
	uint32_t h = (rip ^ s->hash_salt) * 0x9e3779b1u;
	h ^= ((uint32_t)rport << 16 | lport) * 0x85ebca6bu;
	h ^= lip * 0xc2b2ae35u;
	h ^= h >> 15;
	return h & (NET_TCP_HASH - 1);
}

/* tcp_init: per-stack TCP state. */
int tcp_init(struct net_stack *s)
{
	s->tcp_hash = net_zalloc(s, NET_TCP_HASH * sizeof(*s->tcp_hash));
	return s->tcp_hash ? NET_OK : NET_ENOMEM;
}

/* tcp_tuple_hash: keyed hash of a 4-tuple with a domain byte. */
static uint64_t tcp_tuple_hash(struct net_stack *s, uint8_t dom, net_ip4 lip, uint16_t lport,
                               net_ip4 rip, uint16_t rport)
{
	uint8_t b[13];
	put_be32(b, lip);
	put_be32(b + 4, rip);
	put_be16(b + 8, lport);
	put_be16(b + 10, rport);
	b[12] = dom;
	return net_siphash(s->cfg.secret, b, sizeof(b));
}

/* tcp_isn: RFC 6528 initial sequence number: 4-us clock plus a keyed hash of the 4-tuple. */
uint32_t tcp_isn(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip, uint16_t rport)
{
	return (uint32_t)(s->now_us >> 2) + (uint32_t)tcp_tuple_hash(s, 1, lip, lport, rip, rport);
}

/* tcp_ts_offset: per-connection random TSval offset (RFC 7323 5.4). */
uint32_t tcp_ts_offset(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip,
                       uint16_t rport)
{
	return (uint32_t)tcp_tuple_hash(s, 2, lip, lport, rip, rport);
}

/* tcp_wscale_for: smallest shift that lets the 16-bit window field cover rcvbuf. */
uint8_t tcp_wscale_for(uint32_t rcvbuf)
{
	uint8_t ws = 0;
	while (ws < TCP_MAX_WSCALE && (rcvbuf >> ws) > 65535)
		ws++;
	return ws;
}

/* tcp_conn_new: a CLOSED connection block on the all-connections list (not hashed). */
struct tcp_conn *tcp_conn_new(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip,
                              uint16_t rport, const struct tcp_opts *o)
{
	if (s->nconns >= s->cfg.max_conns)
		return NULL;
	struct tcp_conn *c = net_zalloc(s, sizeof(*c));
	if (!c)
		return NULL;
	c->s = s;
	c->lip = lip;
	c->lport = lport;
	c->rip = rip;
	c->rport = rport;
	c->state = TCP_CLOSED;
	c->rcv_buf = o && o->rcvbuf ? o->rcvbuf : s->cfg.tcp_rcvbuf;
	c->rcv_buf = MAX(MIN(c->rcv_buf, 1u << 30), 1024u);
	c->sndbuf = o && o->sndbuf ? MIN(o->sndbuf, 1u << 30) : s->cfg.tcp_sndbuf;
	if (o && o->nodelay)
		c->flags |= TF_NODELAY;
	c->rcv_wscale = s->cfg.tcp_wscale ? tcp_wscale_for(c->rcv_buf) : 0;
	if (!s->cfg.tcp_wscale && c->rcv_buf > 65535)
		c->rcv_buf = 65535;
	net_ip4 nh;
	struct netif *nif = ip_route(s, rip, &nh);
	uint32_t mtu = nif ? nif->mtu : 576;
	c->adv_mss = (uint16_t)MIN(mtu - 40, 65495u);
	c->mss = TCP_DEFAULT_MSS;
	c->rcv_mss = TCP_DEFAULT_MSS;
	c->rto = s->cfg.tcp_rto_init_us;
	c->ts_offset = tcp_ts_offset(s, lip, lport, rip, rport);
	c->last_rx_us = c->last_data_us = s->now_us;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	return c;
}

/* tcp_hash_insert: make c findable by its 4-tuple. */
void tcp_hash_insert(struct tcp_conn *c)
{
	struct net_stack *s = c->s;
	uint32_t i = tcp_hash_idx(s, c->lip, c->lport, c->rip, c->rport);
	c->hnext = s->tcp_hash[i];
	s->tcp_hash[i] = c;
}

/* tcp_hash_remove: unlink c from its chain (no-op if absent). */
static void tcp_hash_remove(struct tcp_conn *c)
{
	struct net_stack *s = c->s;
	uint32_t i = tcp_hash_idx(s, c->lip, c->lport, c->rip, c->rport);
	for (struct tcp_conn **pp = &s->tcp_hash[i]; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	c->hnext = NULL;
}

/* tcp_lookup: the live connection with this 4-tuple. */
struct tcp_conn *tcp_lookup(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip,
                            uint16_t rport)
{
	uint32_t i = tcp_hash_idx(s, lip, lport, rip, rport);
	for (struct tcp_conn *c = s->tcp_hash[i]; c; c = c->hnext)
		if (c->lport == lport && c->rport == rport && c->rip == rip && c->lip == lip)
			return c;
	return NULL;
}

/* tcp_set_mss: effective send MSS from the peer's option (RFC 6691: options excluded). */
void tcp_set_mss(struct tcp_conn *c, uint16_t peer_mss)
{
	uint32_t m = MIN((uint32_t)peer_mss, (uint32_t)c->adv_mss);
	if (c->flags & TF_TS)
		m = m > TCPOLEN_TS ? m - TCPOLEN_TS : 0;
	c->mss = (uint16_t)MAX(m, (uint32_t)TCP_MIN_MSS);
}

/* tcp_set_state: change state, keeping the counters straight. */
void tcp_set_state(struct tcp_conn *c, enum tcp_state st)
{
	if ((c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT) && st == TCP_CLOSED)
		c->s->stats.tcpx.estab_resets++;
	c->state = st;
}

/* tcp_mark_pending: run tcp_output(c) when the outermost API call returns. */
void tcp_mark_pending(struct tcp_conn *c)
{
	if (c->flags & (TF_PENDING | TF_DEAD))
		return;
	c->flags |= TF_PENDING;
	c->pnext = c->s->pending;
	c->s->pending = c;
}

/* tcp_flush_pending: output for connections whose API calls came from callbacks. */
void tcp_flush_pending(struct net_stack *s)
{
	while (s->pending) {
		struct tcp_conn *c = s->pending;
		s->pending = c->pnext;
		c->flags &= ~TF_PENDING;
		if (!(c->flags & TF_DEAD))
			tcp_output(c);
	}
}

/* tcp_sq_free_all: release every queued chunk, completing references with err. */
static void tcp_sq_free_all(struct tcp_conn *c, int err)
{
	while (c->sq_head) {
		struct tcp_chunk *ch = c->sq_head;
		c->sq_head = ch->next;
		if (!c->sq_head)
			c->sq_tail = NULL;
		tcp_done_fn done = ch->done;
		void *arg = ch->done_arg;
		net_free(c->s, ch);
		if (done)
			done(arg, err); /* exactly once: the chunk is already unlinked */
	}
	c->sq_cur = NULL;
	c->sq_copy = 0;
	c->sq_head_acked = 0;
}

/* tcp_sq_ack: free chunks below snd_una, firing zero-copy completions; copied bytes stop
 * counting against sndbuf as soon as they are acked. */
void tcp_sq_ack(struct tcp_conn *c)
{
	uint32_t upto = SEQ_LT(c->snd_una, c->sq_end) ? c->snd_una : c->sq_end;
	while (c->sq_head) {
		struct tcp_chunk *ch = c->sq_head;
		if (SEQ_GT(ch->seq + ch->len, upto)) {
			uint32_t in = SEQ_GT(upto, ch->seq) ? upto - ch->seq : 0;
			if (ch->cap && in > c->sq_head_acked)
				c->sq_copy -= in - c->sq_head_acked;
			c->sq_head_acked = MAX(in, c->sq_head_acked);
			break;
		}
		c->sq_head = ch->next;
		if (!c->sq_head)
			c->sq_tail = NULL;
		if (c->sq_cur == ch)
			c->sq_cur = NULL;
		if (ch->cap)
			c->sq_copy -= ch->len - c->sq_head_acked;
		c->sq_head_acked = 0;
		tcp_done_fn done = ch->done;
		void *arg = ch->done_arg;
		net_free(c->s, ch);
		if (done)
			done(arg, 0);
		if (c->flags & TF_DEAD)
			return;
	}
}

/* tcp_sq_find: the chunk holding byte seq (NULL past the end); caches it in sq_cur. */
const struct tcp_chunk *tcp_sq_find(struct tcp_conn *c, uint32_t seq)
{
	struct tcp_chunk *ch = c->sq_cur;
	if (!ch || SEQ_GT(ch->seq, seq))
		ch = c->sq_head;
	for (; ch; ch = ch->next) {
		if (SEQ_LT(seq, ch->seq + ch->len)) {
			if (SEQ_LT(seq, ch->seq))
				return NULL;
			c->sq_cur = ch;
			return ch;
		}
	}
	return NULL;
}

/* tcp_close_common: unhash, stop timers, free queues; shared by drop and finish. */
static void tcp_close_common(struct tcp_conn *c, int err)
{
	if (c->state == TCP_SYN_RCVD && c->listener)
		tcp_listener_child_gone(c);
	tcp_set_state(c, TCP_CLOSED);
	tcp_hash_remove(c);
	c->t_rexmit = c->t_persist = c->t_delack = c->t_keep = c->t_close = 0;
	tcp_ooo_free(c);
	tcp_sq_free_all(c, err);
}

/* tcp_drop: the connection dies with err: completions fire, then the err callback. */
void tcp_drop(struct tcp_conn *c, int err)
{
	if (c->flags & TF_DEAD)
		return;
	if (c->state == TCP_SYN_SENT)
		c->s->stats.tcpx.attempt_fails++;
	c->flags |= TF_DEAD;
	c->s->reap_needed = true;
	tcp_close_common(c, err ? err : NET_ECONNABORTED);
	if (!(c->flags & TF_DETACHED)) {
		c->flags |= TF_DETACHED;
		if (c->cb.err && err)
			c->cb.err(c->arg, c, err);
	}
}

/* tcp_free_silently: the connection ended normally (or never reached the app): free it if
 * the app released it, else leave a CLOSED block for tcp_close() to free. */
void tcp_free_silently(struct tcp_conn *c)
{
	if (c->flags & TF_DEAD)
		return;
	tcp_close_common(c, NET_ECONNABORTED);
	if (c->flags & TF_DETACHED) {
		c->flags |= TF_DEAD;
		c->s->reap_needed = true;
	}
}

/* tcp_reap: free dead connection blocks (outermost leave only). */
void tcp_reap(struct net_stack *s)
{
	s->reap_needed = false;
	struct tcp_conn *c = s->conns;
	while (c) {
		struct tcp_conn *next = c->next;
		if ((c->flags & TF_DEAD) && !(c->flags & TF_PENDING)) {
			if (c->prev)
				c->prev->next = c->next;
			else
				s->conns = c->next;
			if (c->next)
				c->next->prev = c->prev;
			s->nconns--;
			net_free(s, c);
		}
		c = next;
	}
}

/* tcp_destroy: abort everything (net_destroy). */
void tcp_destroy(struct net_stack *s)
{
	bool again = true;
	while (again) { /* err callbacks may open new connections: drop those too */
		again = false;
		for (struct tcp_conn *c = s->conns; c; c = c->next) {
			if (!(c->flags & TF_DEAD)) {
				tcp_drop(c, NET_ECONNABORTED);
				again = true;
			}
		}
	}
	s->pending = NULL;
	for (struct tcp_conn *c = s->conns; c; c = c->next)
		c->flags = (c->flags & ~TF_PENDING) | TF_DEAD;
	tcp_reap(s);
	while (s->listeners) {
		struct tcp_listener *l = s->listeners;
		s->listeners = l->next;
		net_free(s, l);
	}
	net_free(s, s->tcp_hash);
	s->tcp_hash = NULL;
}
