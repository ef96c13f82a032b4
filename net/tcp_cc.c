/*
 * Congestion control: RFC 5681 slow start / congestion avoidance with RFC 3465 byte counting
 * (L = 2 SMSS), RFC 6928 initial window, RFC 3042 limited transmit, and RFC 6582 NewReno fast
 * recovery ("slow-but-steady": the retransmit timer restarts on every partial ACK) when the
 * peer does not do SACK; with SACK, recovery is tcp_sack.c's (RFC 6675).
 * recover holds the highest sequence number sent (snd_max - 1) when recovery began.
 */
#include "net/tcp.h"

#define CWND_MAX (1u << 30)

/* tcp_flight: FlightSize: sent but not cumulatively acknowledged. */
uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

/* tcp_iw: RFC 6928 initial window min(10 SMSS, max(2 SMSS, 14600)). */
static uint32_t tcp_iw(const struct tcp_conn *c)
{
	return MIN(10u * c->mss, MAX(2u * c->mss, 14600u));
}

/* tcp_cc_init: start of a connection's data transfer. */
void tcp_cc_init(struct tcp_conn *c)
{
	c->cwnd = tcp_iw(c);
	c->ssthresh = CWND_MAX; /* RFC 5681 3.1: arbitrarily high */
	c->recover = c->iss;    /* any ACK of data covers more than recover */
	c->dupacks = 0;
	c->ca_acked = 0;
	c->flags &= ~(TF_RECOVERY | TF_PARTIAL);
	tcp_sack_clear(c);
}

/* tcp_cc_window: how much may be outstanding: cwnd, plus up to 2 SMSS of limited transmit
 * on the first two duplicate ACKs (RFC 3042). */
uint32_t tcp_cc_window(const struct tcp_conn *c)
{
	uint32_t w = c->cwnd;
	if (!(c->flags & TF_RECOVERY) && c->dupacks && c->dupacks < 3)
		w += c->dupacks * c->mss;
	return w;
}

/* tcp_cc_ack: new data acknowledged (acked bytes of sequence space). */
void tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
	if (tcp_sack_recovery(c)) {
		if (SEQ_GT(c->snd_una, c->recover)) { /* RFC 6675 5: recovery ends */
			c->cwnd = c->ssthresh;
			c->flags &= ~(TF_RECOVERY | TF_PARTIAL);
			c->dupacks = 0;
			c->ca_acked = 0;
			c->rxq_n = 0;
		}
		return; /* partial ACKs: pipe accounting drives tcp_output */
	}
	if (c->flags & TF_RECOVERY) {
		if (SEQ_GT(c->snd_una, c->recover)) {
			/* RFC 6582 3.2 step 3: full acknowledgment, deflate and leave recovery */
			c->cwnd = MIN(c->ssthresh, MAX(tcp_flight(c), (uint32_t)c->mss) + c->mss);
			c->flags &= ~(TF_RECOVERY | TF_PARTIAL);
			c->dupacks = 0;
			c->ca_acked = 0;
			return;
		}
		/* step 4: partial acknowledgment: the next hole starts at snd_una */
		c->s->stats.tcpx.partial_acks++;
		c->flags |= TF_PARTIAL;
		tcp_rexmit_range(c, c->snd_una, c->mss);
		c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
		if (acked >= c->mss)
			c->cwnd += c->mss;
		c->cwnd = MAX(c->cwnd, (uint32_t)c->mss);
		return;
	}
	c->dupacks = 0;
	if (c->cwnd < c->ssthresh) {
		c->cwnd += MIN(acked, 2u * c->mss); /* slow start, RFC 3465 */
	} else {
		c->ca_acked += acked; /* congestion avoidance: one SMSS per cwnd acked */
		if (c->ca_acked >= c->cwnd) {
			c->ca_acked -= c->cwnd;
			c->cwnd += c->mss;
		}
	}
	if (c->cwnd > CWND_MAX)
		c->cwnd = CWND_MAX;
}

/* tcp_cc_dupack: a duplicate ACK (RFC 5681 3.2, RFC 6582 3.2 steps 1-3). */
void tcp_cc_dupack(struct tcp_conn *c)
{
	c->dupacks++;
	if (c->flags & TF_SACK)
		return; /* tcp_sack_on_ack decides (RFC 6675) */
	if (c->flags & TF_RECOVERY) {
		c->cwnd = MIN(c->cwnd + c->mss, CWND_MAX); /* each dupack: a segment left */
		return;
	}
	if (c->dupacks != 3)
		return;
	/* step 2: only if the ACK covers more than recover (no second reaction to one loss) */
	if (!SEQ_GT(c->snd_una, c->recover))
		return;
	c->ssthresh = MAX(tcp_flight(c) / 2, 2u * c->mss);
	c->recover = c->snd_max - 1;
	c->flags |= TF_RECOVERY;
	c->flags &= ~TF_PARTIAL;
	c->s->stats.tcpx.fast_retransmits++;
	tcp_rexmit_range(c, c->snd_una, c->mss);
	c->cwnd = c->ssthresh + 3u * c->mss;
}

/* tcp_cc_rto: retransmission timeout: loss window (RFC 5681 3.1 eq. 4; ssthresh kept on
 * repeated timeouts of the same data). */
void tcp_cc_rto(struct tcp_conn *c)
{
	if (c->nrexmit <= 1)
		c->ssthresh = MAX(tcp_flight(c) / 2, 2u * c->mss);
	c->cwnd = c->mss;
	c->recover = c->snd_max - 1;
	c->flags &= ~(TF_RECOVERY | TF_PARTIAL);
	c->dupacks = 0;
	c->ca_acked = 0;
	tcp_sack_clear(c); /* RFC 2018 8: SACKed data may have been discarded */
}
