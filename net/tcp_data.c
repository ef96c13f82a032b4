/*
 * TCP receive side: segment text and FIN (RFC 9293 3.10.7.4 seventh and eighth checks).
 * In-order data goes straight from the received frame to the recv callback (no copy); only
 * out-of-order data is copied, into a sorted, non-overlapping, bounded reassembly list that
 * is appended at its tail in the common case. ACKs are delayed per RFC 1122 4.2.3.2 / RFC
 * 5681 4.2: every second full segment, immediately for out-of-order data and gap fills,
 * and for the next TCP_QUICKACKS segments after those (a sender recovering from loss has a
 * small window and must not wait for our delayed-ACK timer; Linux's quick-ACK mode).
 */
#include "net/tcp.h"

/* tcp_ooo_free: drop the reassembly list. */
void tcp_ooo_free(struct tcp_conn *c)
{
	while (c->ooo_head) {
		struct tcp_ooo *o = c->ooo_head;
		c->ooo_head = o->next;
		net_free(c->s, o);
	}
	c->ooo_tail = NULL;
	c->ooo_bytes = c->ooo_count = 0;
	c->nsack_rcv = 0;
	c->flags &= ~TF_OOO_FIN;
}

/* tcp_deliver: in-order bytes to the app (discarded at once if it has no recv / closed). */
static void tcp_deliver(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	c->rcv_nxt += len;
	c->rcv_since_ack += len;
	if ((c->flags & TF_DETACHED) || !c->cb.recv)
		return; /* consumed: the window stays open */
	c->rcv_unread += len;
	c->cb.recv(c->arg, c, data, len);
}

/* tcp_deliver_eof: tell the app about the peer's FIN once. */
void tcp_deliver_eof(struct tcp_conn *c)
{
	if (c->flags & (TF_EOF_TOLD | TF_DETACHED | TF_DEAD))
		return;
	c->flags |= TF_EOF_TOLD;
	if (c->cb.recv)
		c->cb.recv(c->arg, c, NULL, 0);
}

/* tcp_fin_rcvd: the peer's FIN is next in sequence (RFC 9293 3.10.7.4 eighth check). */
static void tcp_fin_rcvd(struct tcp_conn *c)
{
	c->rcv_nxt++;
	c->flags |= TF_RCVD_FIN | TF_ACK_NOW;
	tcp_ooo_free(c);
	switch (c->state) {
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED:
		tcp_set_state(c, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT_1:
		if (tcp_fin_acked(c))
			tcp_enter_time_wait(c);
		else
			tcp_set_state(c, TCP_CLOSING); /* simultaneous close */
		break;
	case TCP_FIN_WAIT_2:
		tcp_enter_time_wait(c);
		break;
	default:
		break;
	}
	tcp_deliver_eof(c);
}

/* tcp_ooo_limit: most segments kept for reassembly (bounds per-segment overhead). */
static uint32_t tcp_ooo_limit(const struct tcp_conn *c)
{
	return MAX(64u, c->rcv_buf / 1024);
}

/* tcp_ooo_node: a reassembly node holding a copy of len bytes at seq. */
static struct tcp_ooo *tcp_ooo_node(struct tcp_conn *c, uint32_t seq, const uint8_t *d,
                                    uint32_t len)
{
	if (c->ooo_count >= tcp_ooo_limit(c)) {
		net_drop(c->s, NULL, NET_DROP_OOO_LIMIT);
		return NULL;
	}
	struct tcp_ooo *o = net_alloc(c->s, sizeof(*o) + len);
	if (!o) {
		net_drop(c->s, NULL, NET_DROP_NO_BUFFER);
		return NULL;
	}
	o->seq = seq;
	o->len = len;
	o->next = NULL;
	memcpy(o->data, d, len);
	c->ooo_count++;
	c->ooo_bytes += len;
	return o;
}

/* tcp_ooo_add: keep [seq, seq+len) (beyond rcv_nxt, inside the window) for later. */
static void tcp_ooo_add(struct tcp_conn *c, uint32_t seq, const uint8_t *d, uint32_t len, bool fin)
{
	c->s->stats.tcpx.ooo_segs++;
	c->quickack = TCP_QUICKACKS;
	if (fin) {
		c->flags |= TF_OOO_FIN;
		c->ooo_fin_seq = seq + len;
	}
	if (!len)
		return;
	tcp_sack_rcv_add(c, seq, seq + len);
	struct tcp_ooo *t = c->ooo_tail;
	if (!t || SEQ_GEQ(seq, t->seq + t->len)) { /* common case: beyond everything held */
		struct tcp_ooo *o = tcp_ooo_node(c, seq, d, len);
		if (!o)
			return;
		if (t)
			t->next = o;
		else
			c->ooo_head = o;
		c->ooo_tail = o;
		return;
	}
	struct tcp_ooo *prev = NULL, *cur = c->ooo_head;
	while (cur && SEQ_LEQ(cur->seq + cur->len, seq)) {
		prev = cur;
		cur = cur->next;
	}
	if (cur && SEQ_LEQ(cur->seq, seq)) { /* cur covers our front */
		uint32_t cov = cur->seq + cur->len - seq;
		if (cov >= len)
			return; /* duplicate */
		seq += cov;
		d += cov;
		len -= cov;
		prev = cur;
		cur = cur->next;
	}
	while (cur && SEQ_LEQ(cur->seq + cur->len, seq + len)) { /* we cover cur entirely */
		struct tcp_ooo *next = cur->next;
		c->ooo_count--;
		c->ooo_bytes -= cur->len;
		net_free(c->s, cur);
		cur = next;
	}
	if (prev)
		prev->next = cur;
	else
		c->ooo_head = cur;
	if (!cur)
		c->ooo_tail = prev;
	if (cur && SEQ_LT(cur->seq, seq + len))
		len = cur->seq - seq; /* cur covers our tail */
	if (!len)
		return;
	struct tcp_ooo *o = tcp_ooo_node(c, seq, d, len);
	if (!o)
		return;
	o->next = cur;
	if (prev)
		prev->next = o;
	else
		c->ooo_head = o;
	if (!cur)
		c->ooo_tail = o;
}

/* tcp_ooo_pull: deliver reassembled data that became in-order. */
static void tcp_ooo_pull(struct tcp_conn *c)
{
	while (c->ooo_head && SEQ_LEQ(c->ooo_head->seq, c->rcv_nxt)) {
		struct tcp_ooo *o = c->ooo_head;
		c->ooo_head = o->next;
		if (!c->ooo_head)
			c->ooo_tail = NULL;
		c->ooo_count--;
		c->ooo_bytes -= o->len;
		if (SEQ_GT(o->seq + o->len, c->rcv_nxt)) {
			uint32_t off = c->rcv_nxt - o->seq;
			tcp_deliver(c, o->data + off, o->len - off);
		}
		net_free(c->s, o);
		if (c->flags & TF_DEAD)
			return;
	}
}

/* tcp_ack_policy: ACK now (every second full segment) or arm the delayed-ACK timer. */
static void tcp_ack_policy(struct tcp_conn *c)
{
	if (c->quickack) {
		c->quickack--;
		c->flags |= TF_ACK_NOW;
	} else if (c->rcv_since_ack >= 2u * c->rcv_mss) {
		c->flags |= TF_ACK_NOW;
	} else if (!(c->flags & (TF_ACK_NOW | TF_DELACK))) {
		c->flags |= TF_DELACK;
		tcp_arm(c, &c->t_delack, c->s->cfg.tcp_delack_us);
	}
}

/* tcp_data: trim the segment to the window and process its text and FIN. */
void tcp_data(struct tcp_conn *c, struct tcp_seg *sg)
{
	bool fin = sg->flags & TH_FIN;
	uint32_t seq = sg->seq, len = sg->dlen;
	const uint8_t *d = sg->data;
	if (c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 &&
	    c->state != TCP_FIN_WAIT_2) {
		if (len || fin)
			c->flags |= TF_ACK_NOW; /* text after the peer's FIN: ignored */
		return;
	}
	if (!len && !fin)
		return;
	if (SEQ_LT(seq, c->rcv_nxt)) { /* starts with old bytes (a retransmission) */
		uint32_t old = c->rcv_nxt - seq;
		c->flags |= TF_ACK_NOW;
		if (old > len)
			return;
		d += old;
		len -= old;
		seq = c->rcv_nxt;
	}
	uint32_t edge = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv : c->rcv_nxt;
	if (SEQ_GT(seq + len, edge)) { /* beyond the window: keep what fits, drop the FIN */
		len = SEQ_GT(edge, seq) ? edge - seq : 0;
		fin = false;
		c->flags |= TF_ACK_NOW;
	}
	if (!len && !fin)
		return;
	if (seq != c->rcv_nxt) {
		tcp_ooo_add(c, seq, d, len, fin);
		c->flags |= TF_ACK_NOW; /* duplicate ACK for the sender's fast retransmit */
		return;
	}
	if (len > c->rcv_mss)
		c->rcv_mss = MIN(len, (uint32_t)c->adv_mss);
	bool had_ooo = c->ooo_head || (c->flags & TF_OOO_FIN);
	if (len) {
		tcp_deliver(c, d, len);
		if (c->flags & TF_DEAD)
			return;
	}
	if (fin) {
		tcp_fin_rcvd(c);
		return;
	}
	if (had_ooo) {
		c->flags |= TF_ACK_NOW; /* a gap was filled */
		tcp_ooo_pull(c);
		if (c->flags & TF_DEAD)
			return;
		tcp_sack_rcv_trim(c);
		if ((c->flags & TF_OOO_FIN) && c->ooo_fin_seq == c->rcv_nxt) {
			tcp_fin_rcvd(c);
			return;
		}
		if ((c->flags & TF_OOO_FIN) && SEQ_LT(c->ooo_fin_seq, c->rcv_nxt))
			c->flags &= ~TF_OOO_FIN; /* bogus: data went past the peer's FIN */
	}
	tcp_ack_policy(c);
}
