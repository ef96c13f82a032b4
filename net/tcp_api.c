/*
 * TCP raw (callback) API: active open, copying and zero-copy send, receive-window reopening,
 * shutdown/close/abort, options and the connection table for the console. Every function is
 * an entry point (net_enter/net_leave): when called from inside a callback, output is
 * deferred to the outermost return so the stack never re-enters itself mid-segment.
 */
#include "net/tcp.h"

#define TCP_CHUNK_MAX 16384 /* copy chunks; acked memory is freed a chunk at a time */
#define TCP_CHUNK_MIN 2048

/* tcp_kick: send now, or after the outermost call returns if we are inside a callback. */
static void tcp_kick(struct tcp_conn *c)
{
	if (c->s->depth == 1)
		tcp_output(c);
	else
		tcp_mark_pending(c);
}

/* tcp_pick_port: RFC 6056 algorithm 3 ephemeral port for the given remote end. */
static uint16_t tcp_pick_port(struct net_stack *s, net_ip4 lip, net_ip4 rip, uint16_t rport)
{
	uint8_t b[11];
	put_be32(b, lip);
	put_be32(b + 4, rip);
	put_be16(b + 8, rport);
	b[10] = 4;
	uint32_t off = (uint32_t)net_siphash(s->cfg.secret, b, sizeof(b));
	uint32_t range = NET_EPHEM_LAST - NET_EPHEM_FIRST + 1;
	for (uint32_t i = 0; i < range; i++) {
		uint16_t port = (uint16_t)(NET_EPHEM_FIRST + (off + s->ephem_next + i) % range);
		if (!tcp_lookup(s, lip, port, rip, rport) && !tcp_find_listener(s, lip, port)) {
			s->ephem_next += i + 1;
			return port;
		}
	}
	return 0;
}

/* tcp_connect: active open (RFC 9293 3.10.1): send SYN, enter SYN_SENT. */
struct tcp_conn *tcp_connect(struct net_stack *s, net_ip4 dst, uint16_t dport,
                             const struct tcp_opts *o, const struct tcp_callbacks *cb, void *arg,
                             uint64_t now_us, int *err)
{
	int e = NET_OK;
	struct tcp_conn *c = NULL;
	net_enter(s, now_us);
	net_ip4 nh;
	struct netif *nif = dst && !ip_is_martian_src(dst) ? ip_route(s, dst, &nh) : NULL;
	if (!dport || !dst || ip_is_martian_src(dst)) {
		e = NET_EINVAL;
	} else if (!nif || !nif->addr || ip_is_local(s, dst)) {
		e = NET_ENETUNREACH; /* no route (there is no loopback interface) */
	} else {
		uint16_t port = tcp_pick_port(s, nif->addr, dst, dport);
		c = port ? tcp_conn_new(s, nif->addr, port, dst, dport, o) : NULL;
		if (!c)
			e = port ? NET_ENOMEM : NET_EADDRINUSE;
	}
	if (c) {
		if (cb)
			c->cb = *cb;
		c->arg = arg;
		c->iss = tcp_isn(s, c->lip, c->lport, c->rip, c->rport);
		c->snd_una = c->snd_nxt = c->snd_max = c->iss;
		c->sq_end = c->iss + 1;
		c->recover = c->iss;
		tcp_set_state(c, TCP_SYN_SENT);
		tcp_hash_insert(c);
		s->stats.tcpx.active_opens++;
		tcp_send_syn(c);
		c->flags |= TF_RTT;
		c->rtt_seq = c->iss;
		c->rtt_start = s->now_us;
		tcp_rexmit_restart(c);
	}
	if (err)
		*err = e;
	net_leave(s);
	return c;
}

/* tcp_set_callbacks: (re)set callbacks and their argument. */
void tcp_set_callbacks(struct tcp_conn *c, const struct tcp_callbacks *cb, void *arg)
{
	if (cb)
		c->cb = *cb;
	else
		memset(&c->cb, 0, sizeof(c->cb));
	c->arg = arg;
}

/* tcp_can_send: the state admits new data (queued until ESTABLISHED if still opening). */
static int tcp_can_send(const struct tcp_conn *c)
{
	if (c->flags & (TF_DEAD | TF_DETACHED))
		return NET_ENOTCONN;
	if (c->flags & TF_FIN_QUEUED)
		return NET_EPIPE;
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		return NET_OK;
	default:
		return NET_ENOTCONN;
	}
}

/* tcp_append: link a chunk at the tail of the send queue. */
static void tcp_append(struct tcp_conn *c, struct tcp_chunk *ch)
{
	ch->next = NULL;
	ch->seq = c->sq_end;
	if (c->sq_tail)
		c->sq_tail->next = ch;
	else
		c->sq_head = ch;
	c->sq_tail = ch;
	c->sq_end += ch->len;
}

/* tcp_write: copy up to len bytes into the send buffer; returns bytes taken. */
long tcp_write(struct tcp_conn *c, const void *data, size_t len, uint64_t now_us)
{
	struct net_stack *s = c->s;
	net_enter(s, now_us);
	long r = tcp_can_send(c);
	if (r < 0 || !len)
		goto out;
	const uint8_t *p = data;
	size_t left = MIN(len, (size_t)tcp_sndbuf_space(c));
	while (left) {
		struct tcp_chunk *t = c->sq_tail;
		if (t && t->cap && t->len < t->cap) { /* fill the tail chunk first */
			uint32_t k = (uint32_t)MIN(left, (size_t)(t->cap - t->len));
			memcpy(t->buf + t->len, p, k);
			t->len += k;
			c->sq_end += k;
			c->sq_copy += k;
			p += k;
			left -= k;
			r += k;
			continue;
		}
		uint32_t cap =
		    (uint32_t)MIN(MAX(left, (size_t)TCP_CHUNK_MIN), (size_t)TCP_CHUNK_MAX);
		struct tcp_chunk *ch = net_alloc(s, sizeof(*ch) + cap);
		if (!ch)
			break;
		memset(ch, 0, sizeof(*ch));
		ch->cap = cap;
		ch->data = ch->buf;
		tcp_append(c, ch);
	}
	if (r == 0 && left)
		r = NET_ENOMEM;
	if (r > 0)
		tcp_kick(c);
out:
	net_leave(s);
	return r;
}

/* tcp_write_ref: queue len bytes by reference; done fires exactly once. */
int tcp_write_ref(struct tcp_conn *c, const void *data, size_t len, tcp_done_fn done,
                  void *done_arg, uint64_t now_us)
{
	struct net_stack *s = c->s;
	net_enter(s, now_us);
	int r = tcp_can_send(c);
	if (r == NET_OK && (!data || !len || len > (1u << 30)))
		r = NET_EINVAL;
	if (r == NET_OK) {
		struct tcp_chunk *ch = net_zalloc(s, sizeof(*ch));
		if (!ch) {
			r = NET_ENOMEM;
		} else {
			ch->data = data;
			ch->len = (uint32_t)len;
			ch->done = done;
			ch->done_arg = done_arg;
			tcp_append(c, ch);
			tcp_kick(c);
		}
	}
	net_leave(s);
	return r;
}

/* tcp_sndbuf_size: the copy-send limit (tcp_sndbuf_space when nothing is queued). */
size_t tcp_sndbuf_size(const struct tcp_conn *c)
{
	return c->sndbuf;
}

/* tcp_sndbuf_space: bytes tcp_write would accept now. */
size_t tcp_sndbuf_space(const struct tcp_conn *c)
{
	if (tcp_can_send(c) < 0)
		return 0;
	return c->sndbuf > c->sq_copy ? c->sndbuf - c->sq_copy : 0;
}

/* tcp_recved: the app consumed len bytes: reopen the window, telling the peer when it grew
 * enough (RFC 9293 3.8.6.2.2: by min(RCV.BUFF/2, 2 MSS)... or from a nearly closed state). */
void tcp_recved(struct tcp_conn *c, size_t len, uint64_t now_us)
{
	struct net_stack *s = c->s;
	net_enter(s, now_us);
	c->rcv_unread -= (uint32_t)MIN(len, (size_t)c->rcv_unread);
	if (!(c->flags & TF_DEAD) && tcp_is_synced(c->state) && c->state != TCP_TIME_WAIT) {
		uint32_t cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
		uint32_t space = MIN(tcp_rcv_space(c), 65535u << c->rcv_wscale);
		uint32_t thresh = MIN(c->rcv_buf / 2, 2u * c->adv_mss);
		if (space > cur &&
		    (space - cur >= thresh || (cur < c->adv_mss && space >= c->adv_mss))) {
			c->flags |= TF_ACK_NOW;
			tcp_kick(c);
		}
	}
	net_leave(s);
}

/* tcp_queue_fin: queue our FIN and move to the closing state (RFC 9293 3.10.4 CLOSE). */
static void tcp_queue_fin(struct tcp_conn *c)
{
	if (c->flags & TF_FIN_QUEUED)
		return;
	c->flags |= TF_FIN_QUEUED;
	if (c->state == TCP_ESTABLISHED)
		tcp_set_state(c, TCP_FIN_WAIT_1);
	else if (c->state == TCP_CLOSE_WAIT)
		tcp_set_state(c, TCP_LAST_ACK);
	/* SYN_SENT / SYN_RCVD: FIN_WAIT_1 once established (tcp_established) */
	tcp_kick(c);
}

/* tcp_shutdown: half-close (send FIN after queued data), keep receiving. */
int tcp_shutdown(struct tcp_conn *c, uint64_t now_us)
{
	struct net_stack *s = c->s;
	int r = NET_OK;
	net_enter(s, now_us);
	if (c->flags & (TF_DEAD | TF_DETACHED))
		r = NET_ENOTCONN;
	else if (c->state == TCP_CLOSED)
		r = NET_ENOTCONN;
	else
		tcp_queue_fin(c);
	net_leave(s);
	return r;
}

/* tcp_close: graceful close and release of the handle. */
int tcp_close(struct tcp_conn *c, uint64_t now_us)
{
	struct net_stack *s = c->s;
	net_enter(s, now_us);
	if (!(c->flags & (TF_DEAD | TF_DETACHED))) {
		c->flags |= TF_DETACHED;
		c->rcv_unread = 0; /* nobody will consume it now */
		switch (c->state) {
		case TCP_CLOSED:
		case TCP_SYN_SENT:
			tcp_free_silently(c); /* RFC 9293: SYN-SENT close deletes the TCB */
			break;
		case TCP_FIN_WAIT_2:
			tcp_arm(c, &c->t_close, s->cfg.tcp_fin_wait2_us);
			break;
		default:
			tcp_queue_fin(c);
		}
	}
	net_leave(s);
	return NET_OK;
}

/* tcp_abort: RST, drop everything, release the handle. */
void tcp_abort(struct tcp_conn *c, uint64_t now_us)
{
	struct net_stack *s = c->s;
	net_enter(s, now_us);
	if (!(c->flags & TF_DEAD)) {
		if (!(c->flags & TF_DETACHED) || c->state != TCP_CLOSED)
			tcp_send_rst_conn(c);
		c->flags |= TF_DETACHED;
		tcp_drop(c, NET_ECONNABORTED);
	}
	net_leave(s);
}

/* tcp_set_nodelay: Nagle off (true) or on. */
void tcp_set_nodelay(struct tcp_conn *c, bool on)
{
	if (on)
		c->flags |= TF_NODELAY;
	else
		c->flags &= ~TF_NODELAY;
}

/* tcp_set_keepalive: idle/interval/count keepalive; idle 0 turns it off. */
void tcp_set_keepalive(struct tcp_conn *c, uint64_t idle_us, uint64_t intvl_us, uint32_t cnt)
{
	c->keep_idle = idle_us;
	c->keep_intvl = intvl_us ? intvl_us : 75000000; /* RFC 1122 4.2.3.6 example: 75 s */
	c->keep_cnt = cnt ? cnt : 9;
	if (tcp_is_synced(c->state))
		tcp_keep_restart(c);
}

/* tcp_get_state: current state. */
enum tcp_state tcp_get_state(const struct tcp_conn *c)
{
	return c->state;
}

/* tcp_state_name: "ESTABLISHED" etc. */
const char *tcp_state_name(enum tcp_state st)
{
	static const char *const names[] = {
	    "CLOSED",     "LISTEN",  "SYN_SENT",  "SYN_RCVD",   "ESTABLISHED", "FIN_WAIT_1",
	    "FIN_WAIT_2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK",
	};
	return (unsigned)st < ARRAY_SIZE(names) ? names[st] : "?";
}

/* tcp_get_info: fill one row for c. */
void tcp_get_info(const struct tcp_conn *c, struct tcp_conn_info *i)
{
	memset(i, 0, sizeof(*i));
	i->local_ip = c->lip;
	i->remote_ip = c->rip;
	i->local_port = c->lport;
	i->remote_port = c->rport;
	i->state = c->state;
	i->snd_queue = SEQ_GT(c->sq_end, c->snd_una) ? c->sq_end - c->snd_una : 0;
	i->rcv_queue = c->rcv_unread + c->ooo_bytes;
	i->srtt_us = (uint32_t)MIN(c->srtt8 >> 3, (uint64_t)UINT32_MAX);
	i->rttvar_us = (uint32_t)MIN(c->rttvar4 >> 2, (uint64_t)UINT32_MAX);
	i->rto_us = (uint32_t)MIN(c->rto, (uint64_t)UINT32_MAX);
	i->cwnd = c->cwnd;
	i->ssthresh = c->ssthresh;
	i->snd_wnd = c->snd_wnd;
	i->rcv_wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	i->mss = c->mss;
	i->snd_una = c->snd_una;
	i->snd_nxt = c->snd_nxt;
	i->rcv_nxt = c->rcv_nxt;
	i->snd_wscale = c->snd_wscale;
	i->rcv_wscale = c->rcv_wscale;
	i->timestamps = !!(c->flags & TF_TS);
	i->sack = !!(c->flags & TF_SACK);
	i->in_recovery = !!(c->flags & TF_RECOVERY);
	i->detached = !!(c->flags & TF_DETACHED);
	i->retransmits = c->retrans_total;
}

/* tcp_snapshot: rows for up to max connections; returns count. */
size_t tcp_snapshot(struct net_stack *s, struct tcp_conn_info *out, size_t max)
{
	size_t n = 0;
	for (struct tcp_conn *c = s->conns; c && n < max; c = c->next)
		if (!(c->flags & TF_DEAD))
			tcp_get_info(c, &out[n++]);
	return n;
}
