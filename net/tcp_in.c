/*
 * TCP input: validation, demultiplexing and the "SEGMENT ARRIVES" event of RFC 9293 3.10.7
 * for SYN_SENT and the synchronized states, with RFC 7323 PAWS, RFC 5961 RST/SYN/ACK
 * hardening and the ACK processing that feeds RTT estimation and congestion control.
 * Data and FIN processing are in tcp_data.c, LISTEN in tcp_listen.c.
 */
#include "net/tcp.h"

/* tcp_parse_options: MSS, WS, SACK-permitted and TS; malformed lengths end parsing
 * (RFC 9293 3.1: must not crash on illegal option lengths). */
void tcp_parse_options(struct tcp_seg *sg, const uint8_t *opt, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t kind = opt[i];
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		uint8_t olen = opt[i + 1];
		if (olen < 2 || i + olen > len)
			break;
		const uint8_t *o = opt + i;
		if (kind == TCPOPT_MSS && olen == 4 && (sg->flags & TH_SYN)) {
			sg->mss_ok = true;
			sg->mss = get_be16(o + 2);
		} else if (kind == TCPOPT_WS && olen == 3 && (sg->flags & TH_SYN)) {
			sg->ws_ok = true;
			sg->ws = MIN(o[2], (uint8_t)TCP_MAX_WSCALE); /* RFC 7323 2.3 */
		} else if (kind == TCPOPT_SACKOK && olen == 2 && (sg->flags & TH_SYN)) {
			sg->sackok = true;
		} else if (kind == TCPOPT_SACK && olen >= 10 && (olen - 2) % 8 == 0) {
			sg->nsack = (uint8_t)MIN((olen - 2) / 8, 4);
			for (unsigned k = 0; k < sg->nsack; k++) {
				sg->sack[k].start = get_be32(o + 2 + 8 * k);
				sg->sack[k].end = get_be32(o + 6 + 8 * k);
			}
		} else if (kind == TCPOPT_TS && olen == 10) {
			sg->ts_ok = true;
			sg->tsval = get_be32(o + 2);
			sg->tsecr = get_be32(o + 6);
		}
		i += olen;
	}
}

/* tcp_established: enter ESTABLISHED; tell the listener's accept or the connected callback. */
void tcp_established(struct tcp_conn *c)
{
	struct net_stack *s = c->s;
	struct tcp_listener *l = c->listener;
	if (l)
		tcp_listener_child_gone(c);
	tcp_set_state(c, TCP_ESTABLISHED);
	tcp_cc_init(c);
	c->quickack = TCP_QUICKACKS; /* help the peer's slow start */
	c->nrexmit = 0;
	if ((c->flags & TF_SYN_RTO) && c->rto < 3000000)
		c->rto = MIN(3000000, s->cfg.tcp_rto_max_us); /* RFC 6298 5.7 */
	if (c->keep_idle)
		tcp_keep_restart(c);
	if (c->flags & TF_FIN_QUEUED)
		tcp_set_state(c, TCP_FIN_WAIT_1); /* close() was called during the handshake */
	if (c->flags & TF_PASSIVE) {
		if (!l) {
			tcp_send_rst_conn(c); /* the listener went away meanwhile */
			tcp_drop(c, 0);
			return;
		}
		c->flags &= ~TF_DETACHED;
		if (l->fn && l->fn(l->arg, l, c) < 0) {
			tcp_send_rst_conn(c);
			c->flags |= TF_DETACHED;
			tcp_drop(c, 0);
		}
	} else if (!(c->flags & TF_DETACHED) && c->cb.connected) {
		c->cb.connected(c->arg, c);
	}
}

/* tcp_negotiate: apply the peer's SYN options (RFC 7323 1.3, 2.2; RFC 9293 3.7.1). */
static void tcp_negotiate(struct tcp_conn *c, const struct tcp_seg *sg)
{
	struct net_stack *s = c->s;
	if (sg->ws_ok && s->cfg.tcp_wscale) {
		c->flags |= TF_WS;
		c->snd_wscale = sg->ws;
	} else {
		c->snd_wscale = c->rcv_wscale = 0;
		c->rcv_buf = MIN(c->rcv_buf, 65535u);
	}
	if (sg->ts_ok && s->cfg.tcp_timestamps) {
		c->flags |= TF_TS;
		c->ts_recent = sg->tsval;
		c->ts_recent_us = s->now_us;
	}
	if (sg->sackok && s->cfg.tcp_sack)
		c->flags |= TF_SACK;
	tcp_set_mss(c, sg->mss_ok ? sg->mss : TCP_DEFAULT_MSS);
}

/* tcp_syn_sent_input: RFC 9293 3.10.7.3. */
static void tcp_syn_sent_input(struct tcp_conn *c, struct tcp_seg *sg)
{
	struct net_stack *s = c->s;
	bool ack = sg->flags & TH_ACK;
	if (ack && (SEQ_LEQ(sg->ack, c->iss) || SEQ_GT(sg->ack, c->snd_max))) {
		tcp_send_rst(s, sg);
		net_drop(s, sg->ip->nif, NET_DROP_BAD_ACK);
		return;
	}
	if (sg->flags & TH_RST) {
		if (ack) { /* acceptable: it acknowledges our SYN */
			s->stats.tcpx.rst_rcvd++;
			tcp_drop(c, NET_ECONNREFUSED);
		} else {
			net_drop(s, sg->ip->nif, NET_DROP_RST_IGNORED);
		}
		return;
	}
	if (!(sg->flags & TH_SYN)) {
		net_drop(s, sg->ip->nif, NET_DROP_BAD_STATE);
		return;
	}
	c->irs = sg->seq;
	c->rcv_nxt = sg->seq + 1;
	c->rcv_adv = c->rcv_nxt + MIN(c->rcv_buf, 65535u);
	tcp_negotiate(c, sg);
	c->snd_wnd = sg->wnd; /* SYN windows are never scaled */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = sg->seq;
	c->snd_wl2 = sg->ack;
	if (!ack) {
		/* simultaneous open (RFC 9293 figure 8): answer with SYN-ACK */
		tcp_set_state(c, TCP_SYN_RCVD);
		c->flags |= TF_ACK_NOW;
		return;
	}
	if ((c->flags & TF_RTT) && SEQ_GT(sg->ack, c->rtt_seq))
		tcp_rtt_sample(c, s->now_us - c->rtt_start);
	c->flags &= ~TF_RTT;
	c->snd_una = sg->ack;
	c->t_rexmit = 0;
	c->flags |= TF_ACK_NOW;
	tcp_established(c);
	if (c->flags & TF_DEAD)
		return;
	if (sg->dlen || (sg->flags & TH_FIN)) {
		sg->seq++; /* text after the SYN: continue at the sixth step */
		sg->flags &= ~TH_SYN;
		tcp_data(c, sg);
	}
}

/* tcp_seq_acceptable: RFC 9293 3.10.7.4 first check (the four cases). */
static bool tcp_seq_acceptable(const struct tcp_conn *c, const struct tcp_seg *sg, uint32_t wnd)
{
	uint32_t len = seg_len(sg);
	uint32_t seq = sg->seq;
	if (len == 0) {
		if (wnd == 0)
			return seq == c->rcv_nxt;
		return SEQ_LEQ(c->rcv_nxt, seq) && SEQ_LT(seq, c->rcv_nxt + wnd);
	}
	if (wnd == 0)
		return false;
	uint32_t last = seq + len - 1;
	return (SEQ_LEQ(c->rcv_nxt, seq) && SEQ_LT(seq, c->rcv_nxt + wnd)) ||
	       (SEQ_LEQ(c->rcv_nxt, last) && SEQ_LT(last, c->rcv_nxt + wnd));
}

/* tcp_paws_reject: RFC 7323 5.3 R1-R3; true if the segment must be dropped. */
static bool tcp_paws_reject(struct tcp_conn *c, struct tcp_seg *sg)
{
	struct net_stack *s = c->s;
	if (!(c->flags & TF_TS) || (sg->flags & TH_RST))
		return false;
	if (!sg->ts_ok)
		return true; /* RFC 7323 3.2: non-RST segments without TSopt are dropped */
	if (SEQ_GEQ(sg->tsval, c->ts_recent))
		return false;
	if (s->now_us - c->ts_recent_us > TCP_TS_IDLE_US) {
		c->ts_recent = sg->tsval; /* RFC 7323 5.5: idle for 24 days, ts_recent is stale */
		c->ts_recent_us = s->now_us;
		return false;
	}
	return true;
}

/* tcp_rst_input: RFC 9293 3.10.7.4 second check with RFC 5961 3.2. */
static void tcp_rst_input(struct tcp_conn *c, struct tcp_seg *sg)
{
	struct net_stack *s = c->s;
	if (sg->seq != c->rcv_nxt) {
		tcp_challenge_ack(c);
		net_drop(s, sg->ip->nif, NET_DROP_RST_IGNORED);
		return;
	}
	s->stats.tcpx.rst_rcvd++;
	switch (c->state) {
	case TCP_SYN_RCVD:
		if (c->flags & TF_PASSIVE)
			tcp_free_silently(c); /* back to LISTEN: the listener is still there */
		else
			tcp_drop(c, NET_ECONNREFUSED);
		break;
	case TCP_TIME_WAIT:
		tcp_free_silently(c);
		break;
	default:
		tcp_drop(c, NET_ECONNRESET);
	}
}

/* tcp_update_window: RFC 9293 3.10.7.4 send-window update from an acceptable ACK. */
static bool tcp_update_window(struct tcp_conn *c, const struct tcp_seg *sg)
{
	if (!(SEQ_LT(c->snd_wl1, sg->seq) ||
	      (c->snd_wl1 == sg->seq && SEQ_LEQ(c->snd_wl2, sg->ack))))
		return false;
	uint32_t wnd = sg->wnd << c->snd_wscale;
	bool changed = wnd != c->snd_wnd;
	c->snd_wnd = wnd;
	c->snd_wl1 = sg->seq;
	c->snd_wl2 = sg->ack;
	if (wnd > c->max_snd_wnd)
		c->max_snd_wnd = wnd;
	if (wnd && (c->flags & TF_PERSIST)) {
		c->flags &= ~TF_PERSIST;
		c->t_persist = 0;
	}
	return changed;
}

/* data_pos: a sequence number clamped into the data part of the send space. */
static uint32_t data_pos(const struct tcp_conn *c, uint32_t seq)
{
	if (SEQ_LT(seq, c->iss + 1))
		return c->iss + 1;
	return SEQ_GT(seq, c->sq_end) ? c->sq_end : seq;
}

/* tcp_ack: RFC 9293 3.10.7.4 fifth check (ESTABLISHED rules); false = drop the segment. */
static bool tcp_ack(struct tcp_conn *c, struct tcp_seg *sg)
{
	struct net_stack *s = c->s;
	uint32_t ack = sg->ack;
	if (SEQ_GT(ack, c->snd_max)) {
		c->flags |= TF_ACK_NOW; /* acks something not yet sent */
		net_drop(s, sg->ip->nif, NET_DROP_BAD_ACK);
		return false;
	}
	if (SEQ_LT(ack, c->snd_una - MAX(c->max_snd_wnd, 1u))) {
		tcp_challenge_ack(c); /* RFC 5961 5.2 */
		net_drop(s, sg->ip->nif, NET_DROP_BAD_ACK);
		return false;
	}
	bool wchanged = SEQ_GEQ(ack, c->snd_una) && tcp_update_window(c, sg);
	if (sg->nsack)
		tcp_sack_update(c, sg);
	if (SEQ_LEQ(ack, c->snd_una)) {
		/* RFC 5681 2: duplicate ACK definition */
		if (ack == c->snd_una && !sg->dlen && !(sg->flags & (TH_SYN | TH_FIN)) &&
		    c->snd_max != c->snd_una && !wchanged) {
			s->stats.tcpx.dupacks++;
			tcp_cc_dupack(c);
			tcp_sack_on_ack(c);
		}
		return true;
	}
	uint32_t acked = ack - c->snd_una;
	uint32_t data_acked = data_pos(c, ack) - data_pos(c, c->snd_una);
	if ((c->flags & TF_RTT) && SEQ_GT(ack, c->rtt_seq)) {
		tcp_rtt_sample(c, s->now_us - c->rtt_start);
		c->flags &= ~TF_RTT;
	}
	c->snd_una = ack;
	if (SEQ_LT(c->snd_nxt, ack))
		c->snd_nxt = ack;
	c->nrexmit = 0;
	c->flags &= ~TF_TLP_DONE;
	if (c->flags & TF_SACK)
		tcp_sack_trim(c);
	tcp_cc_ack(c, acked);
	tcp_sack_on_ack(c);
	/* RFC 6298 5.2 / 5.3 */
	if (c->snd_una == c->snd_max)
		c->t_rexmit = 0;
	else
		tcp_rexmit_restart(c);
	tcp_sq_ack(c);
	if (c->flags & TF_DEAD)
		return false;
	if (data_acked && c->cb.sent && !(c->flags & TF_DETACHED)) {
		c->cb.sent(c->arg, c, data_acked);
		if (c->flags & TF_DEAD)
			return false;
	}
	return true;
}

/* tcp_after_ack: state changes once our FIN is acknowledged (RFC 9293 3.10.7.4). */
static bool tcp_after_ack(struct tcp_conn *c)
{
	if (!tcp_fin_acked(c))
		return true;
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		tcp_set_state(c, TCP_FIN_WAIT_2);
		if (c->flags & TF_DETACHED)
			tcp_arm(c, &c->t_close, c->s->cfg.tcp_fin_wait2_us);
		return true;
	case TCP_CLOSING:
		tcp_enter_time_wait(c);
		return true;
	case TCP_LAST_ACK:
		tcp_free_silently(c);
		return false;
	default:
		return true;
	}
}

/* tcp_process_synced: RFC 9293 3.10.7.4 for SYN_RCVD and the synchronized states. */
void tcp_process_synced(struct tcp_conn *c, struct tcp_seg *sg)
{
	struct net_stack *s = c->s;
	struct netif *nif = sg->ip->nif;
	if (tcp_paws_reject(c, sg)) {
		c->flags |= TF_ACK_NOW;
		net_drop(s, nif, NET_DROP_PAWS);
		return;
	}
	if ((sg->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) && c->state == TCP_SYN_RCVD &&
	    !(c->flags & TF_PASSIVE) && sg->seq == c->irs) {
		sg->flags &= ~TH_SYN; /* simultaneous open: the peer's SYN-ACK acks our SYN */
		sg->seq++;
	}
	uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	if (!tcp_seq_acceptable(c, sg, wnd)) {
		if (wnd == 0 && sg->seq == c->rcv_nxt && !(sg->flags & TH_SYN)) {
			/* zero window: still process ACK and RST, drop the text */
			sg->dlen = 0;
			sg->flags &= ~TH_FIN;
			c->flags |= TF_ACK_NOW;
		} else {
			if (!(sg->flags & TH_RST)) {
				c->flags |= TF_ACK_NOW;
				if (c->state == TCP_TIME_WAIT && (sg->flags & TH_FIN))
					tcp_enter_time_wait(c); /* retransmitted FIN */
			}
			net_drop(s, nif, NET_DROP_OUT_OF_WINDOW);
			return;
		}
	}
	/* RFC 7323 4.3: remember the timestamp of the segment at the left window edge */
	if ((c->flags & TF_TS) && sg->ts_ok && SEQ_GEQ(sg->tsval, c->ts_recent) &&
	    SEQ_LEQ(sg->seq, c->last_ack_sent)) {
		c->ts_recent = sg->tsval;
		c->ts_recent_us = s->now_us;
	}
	if (sg->flags & TH_RST) {
		tcp_rst_input(c, sg);
		return;
	}
	if (sg->flags & TH_SYN) {
		if (c->state == TCP_SYN_RCVD && (c->flags & TF_PASSIVE)) {
			tcp_free_silently(c); /* RFC 9293: return to LISTEN */
			return;
		}
		tcp_challenge_ack(c); /* RFC 5961 4.2 */
		net_drop(s, nif, NET_DROP_BAD_STATE);
		return;
	}
	if (!(sg->flags & TH_ACK)) {
		net_drop(s, nif, NET_DROP_BAD_STATE);
		return;
	}
	if (c->state == TCP_SYN_RCVD) {
		if (!(SEQ_LT(c->snd_una, sg->ack) && SEQ_LEQ(sg->ack, c->snd_max))) {
			tcp_send_rst(s, sg);
			net_drop(s, nif, NET_DROP_BAD_ACK);
			return;
		}
		c->snd_wnd = sg->wnd << c->snd_wscale;
		c->snd_wl1 = sg->seq;
		c->snd_wl2 = sg->ack;
		c->max_snd_wnd = MAX(c->max_snd_wnd, c->snd_wnd);
		tcp_established(c);
		if (c->flags & TF_DEAD)
			return;
	}
	if (!tcp_ack(c, sg) || !tcp_after_ack(c))
		return;
	if (c->state == TCP_TIME_WAIT) {
		if (sg->flags & TH_FIN) {
			c->flags |= TF_ACK_NOW;
			tcp_enter_time_wait(c); /* restart 2 MSL */
		}
		return;
	}
	tcp_data(c, sg);
}

/* tcp_tw_reusable: a SYN may reopen a TIME_WAIT pair (RFC 9293 3.6.1, RFC 6191). */
static bool tcp_tw_reusable(const struct tcp_conn *c, const struct tcp_seg *sg)
{
	if (sg->flags & (TH_ACK | TH_RST))
		return false;
	if ((c->flags & TF_TS) && sg->ts_ok)
		return SEQ_GT(sg->tsval, c->ts_recent);
	return SEQ_GT(sg->seq, c->rcv_nxt);
}

/* tcp_input: validate a segment (RFC 9293 3.1, 3.10.7) and hand it to its connection,
 * listener, or the CLOSED-state RST reply. */
void tcp_input(struct net_stack *s, const struct ip_info *ip, const uint8_t *p, size_t len)
{
	struct netif *nif = ip->nif;
	if (len < TCP_HLEN) {
		net_drop(s, nif, NET_DROP_TRUNCATED);
		return;
	}
	size_t hl = (p[12] >> 4) * 4u;
	if (hl < TCP_HLEN || hl > len) {
		net_drop(s, nif, NET_DROP_BAD_HEADER);
		return;
	}
	if (csum_fold(
	        csum_partial(p, len, csum_pseudo(ip->src, ip->dst, IP_PROTO_TCP, (uint32_t)len)))) {
		net_drop(s, nif, NET_DROP_BAD_CSUM);
		return;
	}
	net_count(&s->stats.tcp, false, len);
	struct tcp_seg sg = {
	    .ip = ip,
	    .sport = get_be16(p),
	    .dport = get_be16(p + 2),
	    .seq = get_be32(p + 4),
	    .ack = get_be32(p + 8),
	    .flags = p[13] & 0x3f,
	    .wnd = get_be16(p + 14),
	    .data = p + hl,
	    .dlen = (uint32_t)(len - hl),
	};
	if (ip->bcast || !ip->src || !sg.sport || !sg.dport) {
		net_drop(s, nif, NET_DROP_MARTIAN); /* TCP is unicast only */
		return;
	}
	tcp_parse_options(&sg, p + TCP_HLEN, hl - TCP_HLEN);
	struct tcp_conn *c = tcp_lookup(s, ip->dst, sg.dport, ip->src, sg.sport);
	if (c && c->state == TCP_TIME_WAIT && (sg.flags & TH_SYN) && tcp_tw_reusable(c, &sg)) {
		s->stats.tcpx.time_wait_reuse++;
		tcp_free_silently(c);
		c = NULL;
	}
	if (c) {
		c->last_rx_us = s->now_us;
		if (c->state == TCP_SYN_SENT)
			tcp_syn_sent_input(c, &sg);
		else
			tcp_process_synced(c, &sg);
		if (!(c->flags & TF_DEAD))
			tcp_output(c);
		return;
	}
	struct tcp_listener *l = tcp_find_listener(s, ip->dst, sg.dport);
	if (l) {
		tcp_listen_input(l, &sg);
		return;
	}
	net_drop(s, nif, NET_DROP_NO_LISTENER);
	tcp_send_rst(s, &sg);
}
