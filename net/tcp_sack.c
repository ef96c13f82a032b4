/*
 * Selective acknowledgments (RFC 2018) and SACK-based loss recovery (RFC 6675, with the
 * FACK-style simplification that every unSACKed byte below the highest SACKed one that has
 * not been retransmitted is lost). As receiver we report up to four blocks, the one holding
 * the newest segment first. As sender we keep a small scoreboard of SACKed ranges, fill the
 * holes in one round trip, and detect lost retransmissions RACK-style: a retransmission is
 * lost when data sent after it is SACKed while it is not. Loss is declared on three
 * duplicate ACKs, more than two segments SACKed, or any SACK after a tail loss probe.
 */
#include "net/tcp.h"

/* tcp_sack_rcv_add: a new out-of-order range arrived: report it first, merged with the
 * blocks it touches, then the other most recent blocks (RFC 2018 4). */
void tcp_sack_rcv_add(struct tcp_conn *c, uint32_t start, uint32_t end)
{
	if (!(c->flags & TF_SACK))
		return;
	struct tcp_range keep[4];
	unsigned n = 0;
	bool merged = true;
	struct tcp_range cur[4];
	unsigned ncur = c->nsack_rcv;
	memcpy(cur, c->sack_rcv, sizeof(cur));
	while (merged) { /* repeat: a merge can make the block touch an earlier one */
		merged = false;
		n = 0;
		for (unsigned i = 0; i < ncur; i++) {
			struct tcp_range b = cur[i];
			if (SEQ_LEQ(b.start, end) && SEQ_GEQ(b.end, start)) {
				start = SEQ_LT(b.start, start) ? b.start : start;
				end = SEQ_GT(b.end, end) ? b.end : end;
				merged = true;
			} else if (n < 3) {
				keep[n++] = b;
			}
		}
		memcpy(cur, keep, n * sizeof(keep[0]));
		ncur = n;
	}
	c->sack_rcv[0] = (struct tcp_range){start, end};
	memcpy(c->sack_rcv + 1, keep, n * sizeof(keep[0]));
	c->nsack_rcv = (uint8_t)(n + 1);
}

/* tcp_sack_rcv_trim: rcv_nxt advanced: forget blocks it covers. */
void tcp_sack_rcv_trim(struct tcp_conn *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->nsack_rcv; i++) {
		struct tcp_range b = c->sack_rcv[i];
		if (SEQ_LEQ(b.end, c->rcv_nxt))
			continue;
		if (SEQ_LT(b.start, c->rcv_nxt))
			b.start = c->rcv_nxt;
		c->sack_rcv[n++] = b;
	}
	c->nsack_rcv = (uint8_t)n;
}

/* tcp_sack_put: append the SACK option (NOP NOP kind len blocks) if we have blocks and room;
 * returns its length. */
size_t tcp_sack_put(struct tcp_conn *c, uint8_t *o, size_t room)
{
	if (!(c->flags & TF_SACK) || !c->nsack_rcv || room < 12)
		return 0;
	unsigned n = MIN((unsigned)c->nsack_rcv, (unsigned)((room - 4) / 8));
	o[0] = TCPOPT_NOP;
	o[1] = TCPOPT_NOP;
	o[2] = TCPOPT_SACK;
	o[3] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < n; i++) {
		put_be32(o + 4 + 8 * i, c->sack_rcv[i].start);
		put_be32(o + 8 + 8 * i, c->sack_rcv[i].end);
	}
	return 4 + 8 * n;
}

/* sb_recount: sacked_bytes from the scoreboard; high_sacked (the highest SACKed sequence
 * ever seen, kept even when its range did not fit) never below SND.UNA. */
static void sb_recount(struct tcp_conn *c)
{
	uint32_t sum = 0;
	for (unsigned i = 0; i < c->nsb; i++)
		sum += c->sb[i].end - c->sb[i].start;
	c->sacked_bytes = sum;
	if (c->nsb && SEQ_GT(c->sb[c->nsb - 1].end, c->high_sacked))
		c->high_sacked = c->sb[c->nsb - 1].end;
	if (SEQ_LT(c->high_sacked, c->snd_una))
		c->high_sacked = c->snd_una;
}

/* sb_insert: add [s, e) to the sorted, disjoint scoreboard, merging neighbours; when full,
 * the highest range is given up (we then merely retransmit more than needed). */
static void sb_insert(struct tcp_conn *c, uint32_t s, uint32_t e)
{
	unsigned i = 0, j;
	while (i < c->nsb && SEQ_LT(c->sb[i].end, s))
		i++;
	for (j = i; j < c->nsb && SEQ_LEQ(c->sb[j].start, e); j++) {
		if (SEQ_LT(c->sb[j].start, s))
			s = c->sb[j].start;
		if (SEQ_GT(c->sb[j].end, e))
			e = c->sb[j].end;
	}
	if (j == i) {
		if (c->nsb == TCP_SB_MAX) {
			if (i == c->nsb)
				return;
			c->nsb--;
		}
		memmove(c->sb + i + 1, c->sb + i, (c->nsb - i) * sizeof(c->sb[0]));
		c->nsb++;
	} else {
		memmove(c->sb + i + 1, c->sb + j, (c->nsb - j) * sizeof(c->sb[0]));
		c->nsb = (uint8_t)(c->nsb - (j - i - 1));
	}
	c->sb[i] = (struct tcp_range){s, e};
}

/* tcp_sack_update: merge the blocks of an incoming ACK (only those inside
 * (SND.UNA, SND.MAX]; D-SACKs and bogus blocks are ignored). */
void tcp_sack_update(struct tcp_conn *c, const struct tcp_seg *sg)
{
	if (!(c->flags & TF_SACK))
		return;
	uint32_t una =
	    SEQ_GT(sg->ack, c->snd_una) && SEQ_LEQ(sg->ack, c->snd_max) ? sg->ack : c->snd_una;
	for (unsigned k = 0; k < sg->nsack; k++) {
		uint32_t s = sg->sack[k].start, e = sg->sack[k].end;
		if (!SEQ_LT(s, e) || SEQ_LEQ(e, una) || SEQ_GT(e, c->snd_max))
			continue;
		if (SEQ_LT(s, una))
			s = una;
		if (SEQ_GT(e, c->high_sacked))
			c->high_sacked = e;
		sb_insert(c, s, e);
	}
	sb_recount(c);
}

/* tcp_sack_trim: SND.UNA advanced: drop what it covers. */
void tcp_sack_trim(struct tcp_conn *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->nsb; i++) {
		struct tcp_range r = c->sb[i];
		if (SEQ_LEQ(r.end, c->snd_una))
			continue;
		if (SEQ_LT(r.start, c->snd_una))
			r.start = c->snd_una;
		c->sb[n++] = r;
	}
	c->nsb = (uint8_t)n;
	sb_recount(c);
}

/* tcp_sack_clear: forget SACK state (after a timeout, RFC 2018 8). */
void tcp_sack_clear(struct tcp_conn *c)
{
	c->nsb = 0;
	c->rxq_n = 0;
	c->high_rxt = c->high_sacked = c->snd_una;
	sb_recount(c);
}

/* sb_covers: seq is SACKed. */
static bool sb_covers(const struct tcp_conn *c, uint32_t seq)
{
	for (unsigned i = 0; i < c->nsb; i++)
		if (SEQ_LEQ(c->sb[i].start, seq) && SEQ_LT(seq, c->sb[i].end))
			return true;
	return false;
}

/* sacked_in: SACKed bytes inside [a, b). */
static uint32_t sacked_in(const struct tcp_conn *c, uint32_t a, uint32_t b)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < c->nsb; i++) {
		uint32_t s = SEQ_GT(c->sb[i].start, a) ? c->sb[i].start : a;
		uint32_t e = SEQ_LT(c->sb[i].end, b) ? c->sb[i].end : b;
		if (SEQ_LT(s, e))
			n += e - s;
	}
	return n;
}

/* hole_len: bytes from seq to the next SACKed range (at most one MSS). */
static uint32_t hole_len(const struct tcp_conn *c, uint32_t seq)
{
	for (unsigned i = 0; i < c->nsb; i++)
		if (SEQ_GT(c->sb[i].start, seq))
			return MIN(c->sb[i].start - seq, (uint32_t)c->mss);
	return c->mss;
}

/* tcp_sack_pipe: RFC 6675 pipe: bytes beyond the highest SACK, plus retransmissions not
 * yet SACKed; holes below high_sacked not retransmitted count as lost. */
uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
	uint32_t hs = c->high_sacked;
	uint32_t pipe = SEQ_GT(c->snd_max, hs) ? c->snd_max - hs : 0;
	uint32_t lim = SEQ_LT(c->high_rxt, hs) ? c->high_rxt : hs;
	if (SEQ_GT(lim, c->snd_una))
		pipe += (lim - c->snd_una) - sacked_in(c, c->snd_una, lim);
	return pipe;
}

/* tcp_sack_next_hole: RFC 6675 NextSeg() rule 1: first lost, not yet retransmitted byte
 * (space above the tracked ranges but below high_sacked counts as a hole). */
bool tcp_sack_next_hole(struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	uint32_t s = SEQ_GT(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
	for (unsigned i = 0; i < c->nsb; i++) {
		if (SEQ_LEQ(c->sb[i].end, s))
			continue;
		if (SEQ_LEQ(c->sb[i].start, s)) {
			s = c->sb[i].end;
			continue;
		}
		*seq = s;
		*len = MIN(c->sb[i].start - s, (uint32_t)c->mss);
		return true;
	}
	if (!SEQ_LT(s, c->high_sacked))
		return false;
	*seq = s;
	*len = MIN(c->high_sacked - s, (uint32_t)c->mss);
	return true;
}

/* rxq_push: log a retransmission of [seq, seq+n) and what had been sent by then. Holes are
 * retransmitted in ascending order, so runs with the same mark merge into one entry; when the
 * log is full the newest entry absorbs it (detection gets later, never lost). */
static void rxq_push(struct tcp_conn *c, uint32_t seq, uint32_t n)
{
	struct tcp_rxt *t = c->rxq_n ? &c->rxq[(c->rxq_head + c->rxq_n - 1) % TCP_RXQ_MAX] : NULL;
	if (t && SEQ_GEQ(seq, t->lo) && (t->mark == c->snd_max || c->rxq_n == TCP_RXQ_MAX)) {
		if (SEQ_GT(seq + n, t->hi))
			t->hi = seq + n;
		t->mark = c->snd_max;
		return;
	}
	if (c->rxq_n == TCP_RXQ_MAX) { /* out of order and full: widen the newest entry */
		t->lo = SEQ_LT(seq, t->lo) ? seq : t->lo;
		t->hi = SEQ_GT(seq + n, t->hi) ? seq + n : t->hi;
		t->mark = c->snd_max;
		return;
	}
	c->rxq[(c->rxq_head + c->rxq_n) % TCP_RXQ_MAX] = (struct tcp_rxt){seq, seq + n, c->snd_max};
	c->rxq_n++;
}

/* tcp_sack_sent_hole: a hole at seq was retransmitted (n bytes of sequence space). */
void tcp_sack_sent_hole(struct tcp_conn *c, uint32_t seq, uint32_t n)
{
	if (SEQ_GT(seq + n, c->high_rxt))
		c->high_rxt = seq + n;
	c->s->stats.tcpx.sack_rexmits++;
	rxq_push(c, seq, n);
}

/* tcp_sack_lost_rexmits: retransmissions overtaken by data sent after them (SACKed beyond
 * their mark) were lost too: resend their still unSACKed parts now, not after an RTO. */
static void tcp_sack_lost_rexmits(struct tcp_conn *c)
{
	while (c->rxq_n) {
		struct tcp_rxt e = c->rxq[c->rxq_head];
		if (SEQ_LT(e.lo, c->snd_una))
			e.lo = c->snd_una;
		bool done = !SEQ_LT(e.lo, e.hi);
		if (!done && !SEQ_GT(c->high_sacked, e.mark))
			break; /* marks only grow: later entries are younger */
		c->rxq_head = (uint8_t)((c->rxq_head + 1) % TCP_RXQ_MAX);
		c->rxq_n--;
		for (uint32_t s = e.lo; !done && SEQ_LT(s, e.hi);) {
			if (sb_covers(c, s)) {
				s++;
				for (unsigned i = 0; i < c->nsb; i++) /* skip the whole range */
					if (SEQ_LEQ(c->sb[i].start, s) && SEQ_LT(s, c->sb[i].end))
						s = c->sb[i].end;
				continue;
			}
			uint32_t len = MIN(hole_len(c, s), e.hi - s);
			uint32_t n = tcp_rexmit_range(c, s, len);
			if (!n)
				break;
			c->s->stats.tcpx.lost_rexmits++;
			rxq_push(c, s, n);
			s += n;
		}
	}
}

/* tcp_sack_on_ack: after every ACK: enter SACK recovery on loss (RFC 6675 5: three
 * duplicate ACKs or more than two segments SACKed above SND.UNA), or, in recovery, look for
 * lost retransmissions. tcp_output then fills holes while pipe < cwnd. */
void tcp_sack_on_ack(struct tcp_conn *c)
{
	if (!(c->flags & TF_SACK) || c->snd_una == c->snd_max)
		return;
	if (c->flags & TF_RECOVERY) {
		tcp_sack_lost_rexmits(c);
		return;
	}
	if (!SEQ_GT(c->snd_una, c->recover))
		return; /* RFC 6582-style guard: one reaction per loss episode */
	if (c->dupacks < 3 && c->sacked_bytes <= 2u * c->mss &&
	    !((c->flags & TF_TLP_DONE) && c->nsb))
		return;
	tcp_sack_enter_recovery(c);
}

/* tcp_sack_enter_recovery: RFC 6675 5 (4): halve, retransmit the first hole. */
void tcp_sack_enter_recovery(struct tcp_conn *c)
{
	c->ssthresh = MAX(tcp_flight(c) / 2, 2u * c->mss);
	c->cwnd = c->ssthresh;
	c->recover = c->snd_max - 1;
	c->flags |= TF_RECOVERY;
	c->high_rxt = c->snd_una;
	c->rxq_n = 0;
	c->s->stats.tcpx.fast_retransmits++;
	c->s->stats.tcpx.sack_recoveries++;
	uint32_t n = tcp_rexmit_range(c, c->snd_una, hole_len(c, c->snd_una));
	if (n)
		tcp_sack_sent_hole(c, c->snd_una, n);
}
