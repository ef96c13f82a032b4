/*
 * TCP output: segment construction (header, options, payload by reference from the send
 * queue, checksum), the send loop with Nagle/SWS avoidance (RFC 9293 3.8.6.2.1) and the
 * congestion/receive windows, retransmissions, probes, RSTs and challenge ACKs.
 */
#include "net/tcp.h"

/* put_ts: NOP NOP TS(kind 8, len 10) - the RFC 7323 appendix A layout. */
static size_t put_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = TCPOPT_NOP;
	o[1] = TCPOPT_NOP;
	o[2] = TCPOPT_TS;
	o[3] = 10;
	put_be32(o + 4, tsval);
	put_be32(o + 8, tsecr);
	return TCPOLEN_TS;
}

/* put_syn_opts: MSS, window scale, timestamps, SACK-permitted for a SYN or SYN-ACK
 * (24 bytes max). */
static size_t put_syn_opts(uint8_t *o, uint16_t mss, bool ws, uint8_t wscale, bool ts, bool sack,
                           uint32_t tsval, uint32_t tsecr)
{
	size_t n = 0;
	o[n++] = TCPOPT_MSS;
	o[n++] = 4;
	put_be16(o + n, mss);
	n += 2;
	if (ws) {
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_WS;
		o[n++] = 3;
		o[n++] = wscale;
	}
	if (ts)
		n += put_ts(o + n, tsval, tsecr);
	if (sack) {
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_SACKOK;
		o[n++] = 2;
	}
	return n;
}

/* tcp_finish_hdr: fill the fixed header and checksum, then send through IPv4. */
static int tcp_finish_hdr(struct net_stack *s, struct net_tx *tx, net_ip4 src, uint16_t sport,
                          net_ip4 dst, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                          uint16_t wnd, size_t olen)
{
	uint8_t *h = tx->hdr + TX_L4;
	put_be16(h, sport);
	put_be16(h + 2, dport);
	put_be32(h + 4, seq);
	put_be32(h + 8, (flags & TH_ACK) ? ack : 0);
	h[12] = (uint8_t)(((TCP_HLEN + olen) / 4) << 4);
	h[13] = flags;
	put_be16(h + 14, wnd);
	put_be16(h + 16, 0);
	put_be16(h + 18, 0);
	tx->l4_hlen = TCP_HLEN + olen;
	uint32_t tlen = (uint32_t)(tx->l4_hlen + tx->payload_len);
	uint64_t sum = csum_pseudo(src, dst, IP_PROTO_TCP, tlen);
	sum = csum_partial(h, tx->l4_hlen, sum);
	sum = csum_iov(tx->iov + 1, tx->niov - 1, sum);
	uint16_t c = csum_fold(sum);
	memcpy(h + 16, &c, 2);
	net_count(&s->stats.tcp, true, tlen);
	if (flags & TH_RST)
		s->stats.tcpx.rst_sent++;
	return ip_output(s, tx, src, dst, IP_PROTO_TCP);
}

/* tcp_rcv_space: window we can offer: buffer minus data the app has not consumed. */
uint32_t tcp_rcv_space(const struct tcp_conn *c)
{
	return c->rcv_buf > c->rcv_unread ? c->rcv_buf - c->rcv_unread : 0;
}

/* tcp_wnd_field: window field for a non-SYN segment (RFC 7323 2.3 scaling, RFC 9293
 * 3.8.6.2.2 receiver SWS avoidance); advances rcv_adv, never moves it left. */
static uint16_t tcp_wnd_field(struct tcp_conn *c)
{
	uint32_t space = tcp_rcv_space(c);
	uint32_t cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	if (space > cur && space - cur < MIN(c->rcv_buf / 2, (uint32_t)c->adv_mss))
		space = cur; /* do not open the window by a sliver */
	space = MIN(space, 65535u << c->rcv_wscale);
	uint32_t field = space >> c->rcv_wscale;
	uint32_t edge = c->rcv_nxt + (field << c->rcv_wscale);
	if (SEQ_GT(edge, c->rcv_adv))
		c->rcv_adv = edge;
	return (uint16_t)field;
}

/* tcp_add_payload: reference [seq, seq+len) of the send queue; returns bytes added. */
static uint32_t tcp_add_payload(struct tcp_conn *c, struct net_tx *tx, uint32_t seq, uint32_t len)
{
	uint32_t done = 0;
	while (done < len) {
		const struct tcp_chunk *ch = tcp_sq_find(c, seq + done);
		if (!ch)
			break;
		uint32_t off = seq + done - ch->seq;
		uint32_t n = MIN(len - done, ch->len - off);
		if (!net_tx_add(tx, ch->data + off, n))
			break;
		done += n;
	}
	return done;
}

/* tcp_xmit: send one segment of the connection at seq with up to len payload bytes;
 * returns the payload bytes actually carried (fewer only if the gather list ran out). */
static uint32_t tcp_xmit(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct net_stack *s = c->s;
	struct net_tx tx;
	net_tx_init(&tx);
	uint8_t *o = tx.hdr + TX_L4 + TCP_HLEN;
	size_t olen = 0;
	uint16_t wnd;
	if (flags & TH_SYN) {
		bool active = c->state == TCP_SYN_SENT;
		bool ws = active ? s->cfg.tcp_wscale : !!(c->flags & TF_WS);
		bool ts = active ? s->cfg.tcp_timestamps : !!(c->flags & TF_TS);
		bool sack = active ? s->cfg.tcp_sack : !!(c->flags & TF_SACK);
		olen = put_syn_opts(o, c->adv_mss, ws, c->rcv_wscale, ts, sack, tcp_ts_now(c),
		                    active ? 0 : c->ts_recent);
		wnd = (uint16_t)MIN(c->rcv_buf, 65535u); /* RFC 7323 2.2: never scaled */
		len = 0;
	} else {
		if (c->flags & TF_TS)
			olen = put_ts(o, tcp_ts_now(c), c->ts_recent);
		size_t sack = tcp_sack_put(c, o + olen, TCP_OPTS_MAX - olen);
		olen += sack;
		if (len > c->mss - sack) { /* SACK blocks take payload room (RFC 6691) */
			len = (uint32_t)(c->mss - sack);
			flags &= ~TH_FIN;
		}
		wnd = tcp_wnd_field(c);
	}
	if (len) {
		uint32_t got = tcp_add_payload(c, &tx, seq, len);
		if (got < len) {
			flags &= ~TH_FIN;
			len = got;
		}
	}
	if (flags & TH_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		c->rcv_since_ack = 0;
		c->flags &= ~(TF_ACK_NOW | TF_DELACK);
		c->t_delack = 0;
	}
	if (len)
		c->last_data_us = s->now_us;
	tcp_finish_hdr(s, &tx, c->lip, c->lport, c->rip, c->rport, seq, c->rcv_nxt, flags, wnd,
	               olen);
	return len;
}

/* tcp_send_ack: a pure ACK (window update, delayed ACK, duplicate ACK). */
void tcp_send_ack(struct tcp_conn *c)
{
	tcp_xmit(c, c->snd_nxt, 0, TH_ACK);
}

/* tcp_send_syn: (re)send our SYN (SYN_SENT) or SYN-ACK (SYN_RCVD). */
void tcp_send_syn(struct tcp_conn *c)
{
	uint8_t fl = c->state == TCP_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK;
	tcp_xmit(c, c->iss, 0, fl);
	c->snd_nxt = c->iss + 1;
	if (SEQ_GT(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
}

/* tcp_send_probe: <SEQ=SND.UNA-1><ACK> with no data: elicits an ACK carrying the current
 * window (zero-window probe, RFC 9293 3.8.6.1) or proves the peer alive (keepalive,
 * RFC 9293 3.8.4). */
void tcp_send_probe(struct tcp_conn *c)
{
	tcp_xmit(c, c->snd_una - 1, 0, TH_ACK);
}

/* tcp_rexmit_range: resend one segment at seq (at most max bytes, plus the FIN if it was
 * already sent and fits), regardless of the windows; returns sequence space covered. */
uint32_t tcp_rexmit_range(struct tcp_conn *c, uint32_t seq, uint32_t max)
{
	uint32_t data = SEQ_LT(seq, c->sq_end) ? c->sq_end - seq : 0;
	uint32_t len = MIN(MIN(data, max), (uint32_t)c->mss);
	bool fin = (c->flags & TF_FIN_QUEUED) && SEQ_GT(c->snd_max, c->sq_end) && len == data;
	if (!len && !fin)
		return 0;
	uint32_t n = tcp_xmit(c, seq, len, TH_ACK | (fin ? TH_FIN : 0) | (len ? TH_PSH : 0));
	if (n < len)
		fin = false;
	c->flags &= ~TF_RTT; /* Karn: never time a retransmitted segment */
	c->retrans_total++;
	c->s->stats.tcpx.retrans_segs++;
	return n + (fin ? 1 : 0);
}

/* tcp_nagle_blocks: RFC 9293 3.8.6.2.1 / RFC 1122 4.2.3.4: hold back a short segment. */
static bool tcp_nagle_blocks(const struct tcp_conn *c, uint32_t len, uint32_t unsent)
{
	if (len >= c->mss)
		return false;
	if (len == unsent && ((c->flags & TF_NODELAY) || c->snd_una == c->snd_max))
		return false; /* all queued data, and nothing unacknowledged (or Nagle off) */
	if (c->max_snd_wnd && len >= c->max_snd_wnd / 2)
		return false; /* at least half the largest window the peer offered */
	return true;
}

/* tcp_output: send what the windows allow, the FIN when due, and any owed ACK. */
void tcp_output(struct tcp_conn *c)
{
	if (c->flags & TF_DEAD)
		return;
	switch (c->state) {
	case TCP_SYN_RCVD:
		if (c->flags & TF_ACK_NOW) {
			c->flags &= ~TF_ACK_NOW;
			tcp_send_syn(c);
		}
		return;
	case TCP_CLOSED:
	case TCP_LISTEN:
	case TCP_SYN_SENT:
		return;
	case TCP_TIME_WAIT:
		if (c->flags & TF_ACK_NOW)
			tcp_send_ack(c);
		return;
	default:
		break;
	}
	struct net_stack *s = c->s;
	if (c->snd_una == c->snd_max && s->now_us - c->last_data_us > c->rto)
		c->cwnd = MIN(c->cwnd, MIN(10u * c->mss, MAX(2u * c->mss, 14600u))); /* 5681 4.1 */
	bool sent = false;
	uint32_t unsent = 0;
	for (;;) {
		uint32_t nxt = c->snd_nxt, pipe = 0;
		unsent = SEQ_LT(nxt, c->sq_end) ? c->sq_end - nxt : 0;
		bool fin_due = (c->flags & TF_FIN_QUEUED) && SEQ_LEQ(nxt, c->sq_end);
		bool sack_rec = tcp_sack_recovery(c);
		if (sack_rec) {
			/* RFC 6675 5: holes first, then new data, while pipe < cwnd */
			uint32_t hseq, hlen;
			pipe = tcp_sack_pipe(c);
			if (pipe >= c->cwnd)
				break;
			if (tcp_sack_next_hole(c, &hseq, &hlen)) {
				uint32_t n = tcp_rexmit_range(c, hseq, hlen);
				if (!n)
					break;
				tcp_sack_sent_hole(c, hseq, n);
				sent = true;
				continue;
			}
		}
		if (!unsent && !fin_due)
			break;
		uint32_t inflight = nxt - c->snd_una;
		uint32_t usable = c->snd_wnd > inflight ? c->snd_wnd - inflight : 0;
		if (sack_rec) {
			usable = MIN(usable, c->cwnd - pipe);
		} else {
			uint32_t cw = tcp_cc_window(c);
			usable = MIN(usable, cw > inflight ? cw - inflight : 0);
		}
		uint32_t len = MIN(MIN(unsent, (uint32_t)c->mss), usable);
		bool fin = fin_due && len == unsent;
		if (!len && !fin)
			break;
		if (!fin && tcp_nagle_blocks(c, len, unsent))
			break;
		uint8_t fl = TH_ACK | (fin ? TH_FIN : 0) | (len && len == unsent ? TH_PSH : 0);
		uint32_t n = tcp_xmit(c, nxt, len, fl);
		if (n < len)
			fin = false;
		if (SEQ_LT(nxt, c->snd_max)) {
			c->retrans_total++; /* go-back-N after a timeout */
			s->stats.tcpx.retrans_segs++;
			c->flags &= ~TF_RTT;
		} else if (!(c->flags & TF_RTT)) {
			c->flags |= TF_RTT; /* RFC 6298: time one segment per RTT */
			c->rtt_seq = nxt;
			c->rtt_start = s->now_us;
		}
		c->snd_nxt = nxt + n + (fin ? 1 : 0);
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		if (!c->t_rexmit)
			tcp_rexmit_restart(c);
		sent = true;
		if (fin || n == 0)
			break;
	}
	if (sent) {
		c->t_persist = 0;
		c->flags &= ~TF_PERSIST;
	} else if (unsent && c->snd_una == c->snd_max && !c->t_persist) {
		/* nothing in flight and the peer's window holds us back: probe (RFC 9293 3.8.6.1)
		 */
		c->flags |= TF_PERSIST;
		c->nprobe = c->probe_unans = 0;
		tcp_arm(c, &c->t_persist, c->rto);
	}
	if (c->flags & TF_ACK_NOW)
		tcp_send_ack(c);
}

/* tcp_send_forced: persist timer with a small nonzero window: send what fits. */
void tcp_send_forced(struct tcp_conn *c)
{
	uint32_t unsent = SEQ_LT(c->snd_nxt, c->sq_end) ? c->sq_end - c->snd_nxt : 0;
	uint32_t len = MIN(MIN(unsent, (uint32_t)c->mss), c->snd_wnd);
	if (!len)
		return;
	uint32_t n = tcp_xmit(c, c->snd_nxt, len, TH_ACK | TH_PSH);
	c->snd_nxt += n;
	if (SEQ_GT(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	if (!c->t_rexmit)
		tcp_rexmit_restart(c);
}

/* tcp_send_tlp: RFC 8985 7.3: send one new segment if allowed, else retransmit the last. */
void tcp_send_tlp(struct tcp_conn *c)
{
	uint32_t unsent = SEQ_LT(c->snd_nxt, c->sq_end) ? c->sq_end - c->snd_nxt : 0;
	uint32_t inflight = c->snd_nxt - c->snd_una;
	if (unsent && c->snd_nxt == c->snd_max && c->snd_wnd > inflight) {
		uint32_t len = MIN(MIN(unsent, (uint32_t)c->mss), c->snd_wnd - inflight);
		c->snd_nxt += tcp_xmit(c, c->snd_nxt, len, TH_ACK | TH_PSH);
		c->snd_max = c->snd_nxt;
		return;
	}
	uint32_t seq = SEQ_GT(c->snd_max - c->mss, c->snd_una) ? c->snd_max - c->mss : c->snd_una;
	tcp_rexmit_range(c, seq, c->snd_max - seq);
}

/* tcp_xmit_raw: a segment outside any connection (RST, cookie SYN-ACK). */
static int tcp_xmit_raw(struct net_stack *s, const struct tcp_seg *sg, uint32_t seq, uint32_t ack,
                        uint8_t flags, uint16_t wnd, const uint8_t *opts, size_t olen)
{
	struct net_tx tx;
	net_tx_init(&tx);
	if (olen)
		memcpy(tx.hdr + TX_L4 + TCP_HLEN, opts, olen);
	return tcp_finish_hdr(s, &tx, sg->ip->dst, sg->dport, sg->ip->src, sg->sport, seq, ack,
	                      flags, wnd, olen);
}

/* tcp_send_rst: answer a segment that has no connection (RFC 9293 3.10.7.1), rate-limited. */
void tcp_send_rst(struct net_stack *s, const struct tcp_seg *sg)
{
	if (sg->flags & TH_RST)
		return; /* never answer a RST with a RST */
	if (!net_bucket_take(&s->rst_bucket, s->now_us)) {
		net_drop(s, NULL, NET_DROP_RATE_LIMIT);
		return;
	}
	if (sg->flags & TH_ACK)
		tcp_xmit_raw(s, sg, sg->ack, 0, TH_RST, 0, NULL, 0);
	else
		tcp_xmit_raw(s, sg, 0, sg->seq + seg_len(sg), TH_RST | TH_ACK, 0, NULL, 0);
}

/* tcp_send_rst_conn: <SEQ=SND.NXT><CTL=RST,ACK> for an abort (RFC 9293 3.10.5). */
void tcp_send_rst_conn(struct tcp_conn *c)
{
	if (c->state == TCP_CLOSED || c->state == TCP_LISTEN || c->state == TCP_SYN_SENT)
		return;
	struct net_tx tx;
	net_tx_init(&tx);
	tcp_finish_hdr(c->s, &tx, c->lip, c->lport, c->rip, c->rport, c->snd_nxt, c->rcv_nxt,
	               TH_RST | TH_ACK, 0, 0);
}

/* tcp_challenge_ack: RFC 5961 3.2/4.2/5.2 challenge ACK, limited per stack (section 7). */
void tcp_challenge_ack(struct tcp_conn *c)
{
	if (!net_bucket_take(&c->s->chack_bucket, c->s->now_us)) {
		net_drop(c->s, NULL, NET_DROP_RATE_LIMIT);
		return;
	}
	c->s->stats.tcpx.challenge_acks++;
	if (c->state == TCP_SYN_RCVD)
		tcp_send_syn(c); /* our SYN is unacknowledged: the SYN-ACK is our ACK */
	else
		tcp_send_ack(c);
}

/* tcp_send_cookie_synack: a stateless SYN-ACK carrying a SYN cookie as its ISN. */
int tcp_send_cookie_synack(struct net_stack *s, const struct tcp_seg *sg, uint32_t iss,
                           uint16_t mss, uint8_t rcv_ws, bool ws, bool ts, bool sack,
                           uint32_t tsval, uint32_t rcvbuf)
{
	uint8_t opts[TCP_OPTS_MAX];
	size_t olen = put_syn_opts(opts, mss, ws, rcv_ws, ts, sack, tsval, sg->tsval);
	s->stats.tcpx.syncookies_sent++;
	return tcp_xmit_raw(s, sg, iss, sg->seq + 1, TH_SYN | TH_ACK, (uint16_t)MIN(rcvbuf, 65535u),
	                    opts, olen);
}
