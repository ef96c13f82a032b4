/* TCP internals (RFC 9293): connection block, send/receive queues, shared helpers. */
#ifndef TERN_NET_TCP_H
#define TERN_NET_TCP_H

#include "net/net_internal.h"

#define TCP_HLEN     20
#define TCP_OPTS_MAX 40

/* Control bits (RFC 9293 3.1) */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

/* Option kinds (RFC 9293 3.2, RFC 7323) */
#define TCPOPT_EOL    0
#define TCPOPT_NOP    1
#define TCPOPT_MSS    2
#define TCPOPT_WS     3
#define TCPOPT_SACKOK 4
#define TCPOPT_TS     8
#define TCPOPT_SACK   5
#define TCP_SB_MAX    64 /* scoreboard ranges kept by a sender */
#define TCP_RXQ_MAX   32 /* retransmissions remembered during one recovery */
#define TCPOLEN_TS    12 /* NOP NOP TS(10) on every segment once negotiated */

#define TCP_DEFAULT_MSS 536                           /* RFC 9293 3.7.1 / RFC 6691 */
#define TCP_MIN_MSS     64                            /* floor against tiny-MSS resource attacks */
#define TCP_MAX_WSCALE  14                            /* RFC 7323 2.3 */
#define TCP_TS_IDLE_US  (24ull * 24 * 3600 * 1000000) /* RFC 7323 5.5: 24 days */
#define TCP_QUICKACKS   16 /* immediate ACKs at start and after reordering/loss */

/* Modular sequence-number comparisons (RFC 9293 3.4). */
#define SEQ_LT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)

/* Connection flags */
#define TF_ACK_NOW    (1u << 0)  /* send an ACK at the end of this input/output pass */
#define TF_DELACK     (1u << 1)  /* an ACK is owed, the delayed-ACK timer runs */
#define TF_NODELAY    (1u << 2)  /* Nagle off */
#define TF_TS         (1u << 3)  /* timestamps negotiated */
#define TF_WS         (1u << 4)  /* window scaling negotiated */
#define TF_FIN_QUEUED (1u << 5)  /* app shut down: FIN follows the queued data at sq_end */
#define TF_DETACHED   (1u << 6)  /* app released the handle */
#define TF_DEAD       (1u << 7)  /* closed, waiting to be freed at the outer leave */
#define TF_PASSIVE    (1u << 8)  /* created by a listener */
#define TF_RECOVERY   (1u << 9)  /* NewReno fast recovery */
#define TF_PENDING    (1u << 10) /* on the deferred-output list */
#define TF_RCVD_FIN   (1u << 11) /* the peer's FIN was processed */
#define TF_SYN_RTO    (1u << 12) /* a SYN timed out: RTO restarts at 3 s (RFC 6298 5.7) */
#define TF_RTT        (1u << 13) /* a segment is being timed */
#define TF_OOO_FIN    (1u << 14) /* a FIN arrived out of order at ooo_fin_seq */
#define TF_PARTIAL    (1u << 15) /* a partial ACK was seen in this recovery */
#define TF_PERSIST    (1u << 16) /* zero-window probing */
#define TF_EOF_TOLD   (1u << 17) /* recv(NULL, 0) delivered */
#define TF_SACK       (1u << 18) /* SACK negotiated (RFC 2018) */
#define TF_TLP        (1u << 19) /* the retransmit timer is a tail loss probe (RFC 8985 7) */
#define TF_TLP_DONE   (1u << 20) /* a probe went out since the last new ACK */

/* A piece of the send stream: copied data (buf) or a zero-copy reference. */
struct tcp_chunk {
	struct tcp_chunk *next;
	uint32_t seq; /* sequence number of data[0] */
	uint32_t len;
	uint32_t cap; /* bytes of buf[] (copy chunks), 0 for references */
	const uint8_t *data;
	tcp_done_fn done;
	void *done_arg;
	uint8_t buf[];
};

/* A range of sequence space [start, end). */
struct tcp_range {
	uint32_t start, end;
};

/* Retransmissions during SACK recovery covering [lo, hi), sent when snd_max was mark. */
struct tcp_rxt {
	uint32_t lo, hi, mark;
};

/* An out-of-order segment kept for reassembly. */
struct tcp_ooo {
	struct tcp_ooo *next;
	uint32_t seq, len;
	uint8_t data[];
};

struct tcp_conn {
	struct net_stack *s;
	struct tcp_conn *hnext;        /* hash chain */
	struct tcp_conn *next, *prev;  /* s->conns */
	struct tcp_conn *pnext;        /* s->pending */
	struct tcp_listener *listener; /* SYN_RCVD from a passive open */
	enum tcp_state state;
	uint32_t flags;
	net_ip4 lip, rip;
	uint16_t lport, rport;
	struct tcp_callbacks cb;
	void *arg;

	/* send sequence variables (RFC 9293 3.3.1); snd_max = highest snd_nxt so far */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
	uint32_t snd_wnd, max_snd_wnd;
	uint8_t snd_wscale, rcv_wscale;
	uint16_t mss;     /* payload bytes per segment we send (options excluded) */
	uint16_t adv_mss; /* MSS option we sent */

	/* send queue: chunks from snd_una to sq_end; sq_cur caches the chunk at snd_nxt */
	struct tcp_chunk *sq_head, *sq_tail, *sq_cur;
	uint32_t sq_end;
	uint32_t sndbuf, sq_copy; /* copy-send limit; unacked copied bytes */
	uint32_t sq_head_acked;   /* bytes of sq_head already acked (and uncounted) */

	/* receive sequence variables; rcv_adv = right edge of the window we advertised */
	uint32_t irs, rcv_nxt, rcv_adv;
	uint32_t rcv_buf, rcv_unread, rcv_mss, rcv_since_ack;
	uint32_t quickack; /* in-order segments still to ACK at once */
	struct tcp_ooo *ooo_head, *ooo_tail;
	uint32_t ooo_bytes, ooo_count, ooo_fin_seq;

	/* SACK (RFC 2018): blocks we report as receiver, scoreboard as sender (RFC 6675) */
	struct tcp_range sack_rcv[4];
	uint8_t nsack_rcv, nsb, rxq_head, rxq_n;
	struct tcp_range sb[TCP_SB_MAX];
	uint32_t high_sacked, high_rxt, sacked_bytes;
	struct tcp_rxt rxq[TCP_RXQ_MAX];

	/* RFC 7323 timestamps (TSval clock: milliseconds + per-connection offset) */
	uint32_t ts_recent, ts_offset, last_ack_sent;
	uint64_t ts_recent_us;

	/* RFC 6298 estimator, microseconds (srtt * 8, rttvar * 4) */
	uint64_t srtt8, rttvar4, rto, rtt_start;
	uint32_t rtt_seq;

	/* congestion control (RFC 5681, RFC 6582) */
	uint32_t cwnd, ssthresh, recover, dupacks, ca_acked;

	/* timers: absolute deadlines in us, 0 = off */
	uint64_t t_rexmit, t_persist, t_delack, t_keep, t_close;
	uint32_t nrexmit, nprobe, probe_unans;
	uint64_t probe_us;
	uint64_t keep_idle, keep_intvl, keep_probe_us;
	uint32_t keep_cnt, keep_sent;
	uint64_t last_rx_us, last_data_us; /* last segment received; last data sent */
	uint32_t retrans_total;
};

struct tcp_listener {
	struct net_stack *s;
	struct tcp_listener *next;
	net_ip4 ip;
	uint16_t port;
	uint32_t backlog, half_open;
	struct tcp_opts opts;
	tcp_accept_fn fn;
	void *arg;
};

/* A parsed incoming segment. */
struct tcp_seg {
	const struct ip_info *ip;
	uint16_t sport, dport;
	uint32_t seq, ack, wnd;
	uint8_t flags;
	const uint8_t *data;
	uint32_t dlen;
	bool mss_ok, ws_ok, ts_ok, sackok;
	uint16_t mss;
	uint8_t ws, nsack;
	uint32_t tsval, tsecr;
	struct tcp_range sack[4];
};

/* seg_len: sequence space a segment occupies (data + SYN + FIN). */
static inline uint32_t seg_len(const struct tcp_seg *sg)
{
	return sg->dlen + !!(sg->flags & TH_SYN) + !!(sg->flags & TH_FIN);
}

/* tcp_ts_now: this connection's TSval clock (ms, offset per RFC 7323 5.4). */
static inline uint32_t tcp_ts_now(const struct tcp_conn *c)
{
	return (uint32_t)(c->s->now_us / 1000) + c->ts_offset;
}

/* tcp_fin_acked: our FIN was sent and acknowledged. */
static inline bool tcp_fin_acked(const struct tcp_conn *c)
{
	return (c->flags & TF_FIN_QUEUED) && SEQ_GT(c->snd_una, c->sq_end);
}

/* tcp_is_synced: a synchronized state (RFC 9293 3.5). */
static inline bool tcp_is_synced(enum tcp_state st)
{
	return st >= TCP_ESTABLISHED;
}

/* tcp_conn.c */
struct tcp_conn *tcp_conn_new(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip,
                              uint16_t rport, const struct tcp_opts *o);
void tcp_hash_insert(struct tcp_conn *c);
struct tcp_conn *tcp_lookup(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip,
                            uint16_t rport);
uint32_t tcp_isn(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip, uint16_t rport);
uint32_t tcp_ts_offset(struct net_stack *s, net_ip4 lip, uint16_t lport, net_ip4 rip,
                       uint16_t rport);
uint8_t tcp_wscale_for(uint32_t rcvbuf);
void tcp_set_mss(struct tcp_conn *c, uint16_t peer_mss);
void tcp_set_state(struct tcp_conn *c, enum tcp_state st);
void tcp_drop(struct tcp_conn *c, int err);
void tcp_free_silently(struct tcp_conn *c);
void tcp_mark_pending(struct tcp_conn *c);
void tcp_sq_ack(struct tcp_conn *c);
const struct tcp_chunk *tcp_sq_find(struct tcp_conn *c, uint32_t seq);

/* tcp_out.c */
void tcp_output(struct tcp_conn *c);
void tcp_send_ack(struct tcp_conn *c);
void tcp_send_syn(struct tcp_conn *c);
void tcp_send_probe(struct tcp_conn *c);
void tcp_send_forced(struct tcp_conn *c);
uint32_t tcp_rexmit_range(struct tcp_conn *c, uint32_t seq, uint32_t max);
void tcp_send_rst(struct net_stack *s, const struct tcp_seg *sg);
void tcp_send_rst_conn(struct tcp_conn *c);
void tcp_challenge_ack(struct tcp_conn *c);
uint32_t tcp_rcv_space(const struct tcp_conn *c);
int tcp_send_cookie_synack(struct net_stack *s, const struct tcp_seg *sg, uint32_t iss,
                           uint16_t mss, uint8_t rcv_ws, bool ws, bool ts, bool sack,
                           uint32_t tsval, uint32_t rcvbuf);

/* tcp_in.c / tcp_data.c */
void tcp_parse_options(struct tcp_seg *sg, const uint8_t *opt, size_t len);
void tcp_data(struct tcp_conn *c, struct tcp_seg *sg);
void tcp_deliver_eof(struct tcp_conn *c);
void tcp_ooo_free(struct tcp_conn *c);
void tcp_process_synced(struct tcp_conn *c, struct tcp_seg *sg);
void tcp_established(struct tcp_conn *c);

/* tcp_listen.c */
struct tcp_listener *tcp_find_listener(struct net_stack *s, net_ip4 ip, uint16_t port);
void tcp_listen_input(struct tcp_listener *l, struct tcp_seg *sg);
void tcp_listener_child_gone(struct tcp_conn *c);

/* tcp_timer.c */
void tcp_rtt_sample(struct tcp_conn *c, uint64_t rtt_us);
void tcp_arm(struct tcp_conn *c, uint64_t *t, uint64_t delay_us);
void tcp_rexmit_restart(struct tcp_conn *c);
void tcp_keep_restart(struct tcp_conn *c);
void tcp_enter_time_wait(struct tcp_conn *c);

/* tcp_sack.c */
void tcp_sack_rcv_add(struct tcp_conn *c, uint32_t start, uint32_t end);
void tcp_sack_rcv_trim(struct tcp_conn *c);
size_t tcp_sack_put(struct tcp_conn *c, uint8_t *o, size_t room);
void tcp_sack_update(struct tcp_conn *c, const struct tcp_seg *sg);
void tcp_sack_trim(struct tcp_conn *c);
void tcp_sack_clear(struct tcp_conn *c);
void tcp_sack_on_ack(struct tcp_conn *c);
uint32_t tcp_sack_pipe(const struct tcp_conn *c);
bool tcp_sack_next_hole(struct tcp_conn *c, uint32_t *seq, uint32_t *len);
void tcp_sack_sent_hole(struct tcp_conn *c, uint32_t seq, uint32_t n);
void tcp_sack_enter_recovery(struct tcp_conn *c);
void tcp_send_tlp(struct tcp_conn *c);

/* tcp_sack_recovery: SACK-based loss recovery is running. */
static inline bool tcp_sack_recovery(const struct tcp_conn *c)
{
	return (c->flags & (TF_SACK | TF_RECOVERY)) == (TF_SACK | TF_RECOVERY);
}

/* tcp_cc.c */
void tcp_cc_init(struct tcp_conn *c);
void tcp_cc_ack(struct tcp_conn *c, uint32_t acked);
void tcp_cc_dupack(struct tcp_conn *c);
void tcp_cc_rto(struct tcp_conn *c);
uint32_t tcp_cc_window(const struct tcp_conn *c);
uint32_t tcp_flight(const struct tcp_conn *c);

#endif
