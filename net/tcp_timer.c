/*
 * TCP timers on a microsecond clock. Each connection keeps absolute deadlines (retransmit,
 * persist, delayed ACK, keepalive, close = TIME_WAIT / FIN_WAIT_2); arming one only lowers the
 * stack's timer_lb, so the per-packet cost is a compare. net_poll() scans the connections only
 * once timer_lb has passed, runs what is due and recomputes the bound.
 */
#include "net/tcp.h"

#define RTO_G_US 1000 /* RFC 6298 clock granularity G */

/* tcp_arm: set timer *t to fire delay_us from now. */
void tcp_arm(struct tcp_conn *c, uint64_t *t, uint64_t delay_us)
{
	*t = c->s->now_us + delay_us;
	net_timer_note(c->s, *t);
}

/* tcp_pto: RFC 8985 7.2 probe timeout (2 SRTT, plus a delayed-ACK allowance when one
 * segment is in flight), or 0 when no tail loss probe applies. */
static uint64_t tcp_pto(const struct tcp_conn *c)
{
	if (!(c->flags & TF_SACK) || (c->flags & (TF_RECOVERY | TF_TLP_DONE)) || !c->srtt8 ||
	    !tcp_is_synced(c->state) || c->state == TCP_TIME_WAIT)
		return 0;
	uint64_t pto = MAX(c->srtt8 >> 2, (uint64_t)RTO_G_US);
	if (tcp_flight(c) <= c->mss)
		pto += c->s->cfg.tcp_delack_us;
	return pto < c->rto ? pto : 0;
}

/* tcp_rexmit_restart: (re)start the retransmission timer: a tail loss probe first when it
 * applies, else the RTO. */
void tcp_rexmit_restart(struct tcp_conn *c)
{
	uint64_t pto = tcp_pto(c);
	if (pto) {
		c->flags |= TF_TLP;
		tcp_arm(c, &c->t_rexmit, pto);
	} else {
		c->flags &= ~TF_TLP;
		tcp_arm(c, &c->t_rexmit, c->rto);
	}
}

/* tcp_keep_restart: schedule the keepalive check idle time after the last segment. */
void tcp_keep_restart(struct tcp_conn *c)
{
	c->keep_sent = 0;
	if (c->keep_idle)
		tcp_arm(c, &c->t_keep, c->keep_idle);
	else
		c->t_keep = 0;
}

/* tcp_enter_time_wait: TIME_WAIT for 2 MSL (RFC 9293 3.6); restarts the timer if already. */
void tcp_enter_time_wait(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_TIME_WAIT);
	c->t_rexmit = c->t_persist = c->t_keep = c->t_delack = 0;
	c->flags &= ~(TF_DELACK | TF_PERSIST);
	tcp_arm(c, &c->t_close, 2 * c->s->cfg.tcp_msl_us);
}

/* tcp_rtt_sample: RFC 6298 2.2/2.3 estimator update and RTO (clamped to [min, max]). */
void tcp_rtt_sample(struct tcp_conn *c, uint64_t r)
{
	const struct net_config *cfg = &c->s->cfg;
	if (r == 0)
		r = 1;
	if (!c->srtt8) {
		c->srtt8 = r << 3;   /* SRTT = R */
		c->rttvar4 = r << 1; /* RTTVAR = R/2 */
	} else {
		uint64_t srtt = c->srtt8 >> 3;
		uint64_t err = r > srtt ? r - srtt : srtt - r;
		c->srtt8 = c->srtt8 - srtt + r; /* SRTT += (R - SRTT)/8 */
		c->rttvar4 =
		    c->rttvar4 - (c->rttvar4 >> 2) + err; /* RTTVAR += (|err| - RTTVAR)/4 */
	}
	uint64_t rto = (c->srtt8 >> 3) + MAX((uint64_t)RTO_G_US, c->rttvar4);
	c->rto = MIN(MAX(rto, cfg->tcp_rto_min_us), cfg->tcp_rto_max_us);
}

/* tcp_backoff: RFC 6298 5.5: double the RTO, up to the maximum. */
static void tcp_backoff(struct tcp_conn *c)
{
	c->rto = MIN(c->rto * 2, c->s->cfg.tcp_rto_max_us);
}

/* tcp_rexmit_timeout: RFC 6298 5.4-5.6 and RFC 5681 3.1 loss recovery. */
static void tcp_rexmit_timeout(struct tcp_conn *c)
{
	struct net_stack *s = c->s;
	c->flags &= ~TF_RTT;
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) {
		if (++c->nrexmit > s->cfg.tcp_syn_retries) {
			if (c->state == TCP_SYN_RCVD && (c->flags & TF_PASSIVE))
				tcp_free_silently(c);
			else
				tcp_drop(c, NET_ETIMEDOUT);
			return;
		}
		s->stats.tcpx.rto_timeouts++;
		s->stats.tcpx.retrans_segs++;
		c->retrans_total++;
		c->flags |= TF_SYN_RTO;
		arp_suspect(s, c->rip);
		tcp_backoff(c);
		tcp_send_syn(c);
		tcp_rexmit_restart(c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return;
	if (c->flags & TF_TLP) { /* RFC 8985 7.3: probe the tail instead of timing out */
		c->flags = (c->flags & ~TF_TLP) | TF_TLP_DONE;
		s->stats.tcpx.tlp_probes++;
		if (c->nsb)
			tcp_sack_enter_recovery(c); /* SACKs already show a hole: it is lost */
		else
			tcp_send_tlp(c);
		tcp_arm(c, &c->t_rexmit, c->rto);
		return;
	}
	if (++c->nrexmit > s->cfg.tcp_max_retries) {
		tcp_send_rst_conn(c);
		tcp_drop(c, NET_ETIMEDOUT);
		return;
	}
	s->stats.tcpx.rto_timeouts++;
	arp_suspect(s, c->rip);
	tcp_cc_rto(c);
	tcp_backoff(c);
	c->snd_nxt = c->snd_una; /* go back N: everything after snd_una is presumed lost */
	c->snd_nxt += tcp_rexmit_range(c, c->snd_una, c->mss);
	tcp_rexmit_restart(c);
}

/* tcp_persist_timeout: zero-window probe with exponential backoff (RFC 9293 3.8.6.1). */
static void tcp_persist_timeout(struct tcp_conn *c)
{
	struct net_stack *s = c->s;
	bool unsent = SEQ_LT(c->snd_nxt, c->sq_end);
	if (!(c->flags & TF_PERSIST) || !unsent || c->snd_una != c->snd_max) {
		c->flags &= ~TF_PERSIST;
		return;
	}
	if (c->last_rx_us > c->probe_us)
		c->probe_unans = 0; /* RFC 9293 3.8.6.1: never give up on a peer that answers */
	if (++c->probe_unans > s->cfg.tcp_max_retries) {
		tcp_send_rst_conn(c); /* probes went unanswered: the peer is gone */
		tcp_drop(c, NET_ETIMEDOUT);
		return;
	}
	c->probe_us = s->now_us;
	c->nprobe++;
	if (c->snd_wnd == 0) {
		s->stats.tcpx.zwin_probes++;
		tcp_send_probe(c);
	} else {
		tcp_send_forced(c); /* a small window SWS avoidance held back */
	}
	uint32_t shift = MIN(c->nprobe, 16u);
	uint64_t ivl = MIN(c->rto << shift, c->s->cfg.tcp_rto_max_us);
	if (c->snd_una == c->snd_max)
		tcp_arm(c, &c->t_persist, ivl);
	else
		c->flags &= ~TF_PERSIST;
}

/* tcp_keep_timeout: keepalive probe or abort (RFC 9293 3.8.4, RFC 1122 4.2.3.6). */
static void tcp_keep_timeout(struct tcp_conn *c)
{
	struct net_stack *s = c->s;
	if (!c->keep_idle)
		return;
	if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
	    c->state != TCP_FIN_WAIT_1 && c->state != TCP_FIN_WAIT_2)
		return;
	if (c->keep_sent && c->last_rx_us > c->keep_probe_us)
		c->keep_sent = 0; /* the peer answered */
	if (!c->keep_sent && s->now_us - c->last_rx_us < c->keep_idle) {
		c->t_keep = c->last_rx_us + c->keep_idle;
		net_timer_note(s, c->t_keep);
		return;
	}
	if (c->snd_una != c->snd_max) { /* data outstanding: the retransmit timer watches */
		tcp_arm(c, &c->t_keep, c->keep_idle);
		return;
	}
	if (c->keep_sent >= c->keep_cnt) {
		s->stats.tcpx.keepalive_drops++;
		tcp_send_rst_conn(c);
		tcp_drop(c, NET_ETIMEDOUT);
		return;
	}
	s->stats.tcpx.keepalive_probes++;
	c->keep_sent++;
	c->keep_probe_us = s->now_us;
	tcp_send_probe(c);
	tcp_arm(c, &c->t_keep, c->keep_intvl);
}

/* tcp_close_timeout: TIME_WAIT over, or an orphaned FIN_WAIT_2 gave up. */
static void tcp_close_timeout(struct tcp_conn *c)
{
	if (c->state == TCP_TIME_WAIT || c->state == TCP_FIN_WAIT_2)
		tcp_free_silently(c);
}

/* due: timer t is set and has expired (then clears it). */
static bool due(struct net_stack *s, uint64_t *t)
{
	if (!*t || *t > s->now_us)
		return false;
	*t = 0;
	return true;
}

/* note_timers: feed c's pending deadlines into timer_lb. */
static void note_timers(struct net_stack *s, const struct tcp_conn *c)
{
	const uint64_t *t[] = {&c->t_rexmit, &c->t_persist, &c->t_delack, &c->t_keep, &c->t_close};
	for (unsigned i = 0; i < ARRAY_SIZE(t); i++)
		if (*t[i])
			net_timer_note(s, *t[i]);
}

/* tcp_timers: run every expired TCP timer. */
void tcp_timers(struct net_stack *s)
{
	for (struct tcp_conn *c = s->conns; c; c = c->next) {
		if (c->flags & TF_DEAD)
			continue;
		if (due(s, &c->t_rexmit))
			tcp_rexmit_timeout(c);
		if (!(c->flags & TF_DEAD) && due(s, &c->t_persist))
			tcp_persist_timeout(c);
		if (!(c->flags & TF_DEAD) && due(s, &c->t_delack) && (c->flags & TF_DELACK)) {
			s->stats.tcpx.delayed_acks++;
			tcp_send_ack(c);
		}
		if (!(c->flags & TF_DEAD) && due(s, &c->t_keep))
			tcp_keep_timeout(c);
		if (!(c->flags & TF_DEAD) && due(s, &c->t_close))
			tcp_close_timeout(c);
		if (!(c->flags & TF_DEAD))
			note_timers(s, c);
	}
}
