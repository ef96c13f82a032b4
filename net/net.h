/*
 * Tern's TCP/IP stack: public API (pure C; see docs/net.md).
 *
 * One struct net_stack per instance, memory through caller-provided allocator ops, time passed
 * in as now_us (monotonic microseconds) to every entry point. The stack is not thread-safe:
 * the caller serialises all calls on one stack (one lock). Callbacks run with that lock held,
 * inside the call that triggered them; they may call back into the API (tcp_write, tcp_recved,
 * tcp_close, tcp_abort, udp_sendto...) but must not block.
 */
#ifndef TERN_NET_NET_H
#define TERN_NET_NET_H

#include "net/netif.h"

/* Errors (negative return values). */
#define NET_OK           0
#define NET_ENOENT       (-2)
#define NET_EAGAIN       (-11)
#define NET_ENOMEM       (-12)
#define NET_EBUSY        (-16)
#define NET_EINVAL       (-22)
#define NET_ENOSPC       (-28)
#define NET_EPIPE        (-32)
#define NET_EMSGSIZE     (-90)
#define NET_EADDRINUSE   (-98)
#define NET_ENETUNREACH  (-101)
#define NET_ECONNABORTED (-103)
#define NET_ECONNRESET   (-104)
#define NET_ENOTCONN     (-107)
#define NET_ETIMEDOUT    (-110)
#define NET_ECONNREFUSED (-111)
#define NET_EHOSTUNREACH (-113)

/* net_strerror: short text for a NET_E* value. */
const char *net_strerror(int err);

/* ---- instance ------------------------------------------------------------------------- */

/* Memory for everything the stack keeps (connections, queued data, ARP queue). */
struct net_alloc_ops {
	void *(*alloc)(void *ctx, size_t size); /* NULL on failure; no alignment beyond 16 */
	void (*free)(void *ctx, void *p);
	void *ctx;
};

/* Tunables; net_config_default() fills sane values, the caller then overrides. */
struct net_config {
	uint64_t secret[2];           /* keys ISNs, SYN cookies, ports: MUST be random per boot */
	size_t mem_limit;             /* bytes the stack may hold through alloc (default 64 MiB) */
	uint32_t max_conns;           /* TCP connections incl. half-open and TIME_WAIT (1024) */
	uint8_t ttl;                  /* IPv4 TTL of sent datagrams (64) */
	uint64_t arp_timeout_us;      /* entry lifetime before re-verification (300 s) */
	uint64_t arp_retry_us;        /* request retry interval (1 s) */
	uint32_t arp_retries;         /* requests before giving up (3) */
	uint32_t tcp_rcvbuf;          /* default receive window (1 MiB) */
	uint32_t tcp_sndbuf;          /* default copy-send buffer (1 MiB) */
	uint64_t tcp_rto_init_us;     /* RFC 6298 2.1 initial RTO (1 s) */
	uint64_t tcp_rto_min_us;      /* lower bound of the RTO (200 ms; RFC 6298 says 1 s) */
	uint64_t tcp_rto_max_us;      /* upper bound of the RTO (60 s) */
	uint64_t tcp_delack_us;       /* delayed ACK timeout (40 ms; RFC 1122 max 500 ms) */
	uint64_t tcp_msl_us;          /* maximum segment lifetime; TIME_WAIT lasts 2*MSL (30 s) */
	uint64_t tcp_fin_wait2_us;    /* FIN_WAIT_2 timeout once the app has closed (60 s) */
	uint32_t tcp_syn_retries;     /* SYN / SYN-ACK retransmissions before giving up (6) */
	uint32_t tcp_max_retries;     /* data retransmissions / probes before aborting (12) */
	uint32_t tcp_syn_backlog;     /* default half-open connections per listener (128) */
	bool tcp_timestamps;          /* RFC 7323 timestamps (on) */
	bool tcp_wscale;              /* RFC 7323 window scaling (on) */
	bool tcp_sack;                /* RFC 2018 selective acknowledgments (on) */
	bool tcp_syncookies;          /* SYN cookies when a listener's backlog is full (on) */
	uint32_t challenge_ack_per_s; /* RFC 5961 section 7 rate limit (1000) */
	uint32_t rst_per_s;           /* RSTs sent for segments to closed ports (1000) */
	uint32_t icmp_per_s;          /* echo replies sent (1000) */
};

/* net_config_default: fill cfg with the defaults documented above (secret left zero). */
void net_config_default(struct net_config *cfg);
/* net_create: a new stack instance; mem is copied, cfg NULL means defaults. */
struct net_stack *net_create(const struct net_alloc_ops *mem, const struct net_config *cfg);
/* net_destroy: abort every connection (completions/err callbacks fire) and free everything. */
void net_destroy(struct net_stack *s);

/* net_if_add: attach a driver's interface (mtu/mac/ops set); returns 0 or NET_ENOSPC. */
int net_if_add(struct net_stack *s, struct netif *nif);
/* net_if_set_ipv4: address/prefix (0.0.0.0/0 clears) and default gateway (0 = none). */
int net_if_set_ipv4(struct netif *nif, net_ip4 addr, unsigned prefix_len, net_ip4 gateway,
                    uint64_t now_us);
/* net_if_get: the idx-th interface, or NULL. */
struct netif *net_if_get(struct net_stack *s, unsigned idx);

/* net_poll: run expired timers (cheap when none are due). */
void net_poll(struct net_stack *s, uint64_t now_us);
/* net_next_deadline: earliest time net_poll has work (may be early, never late); UINT64_MAX. */
uint64_t net_next_deadline(const struct net_stack *s);

/* ---- ARP (RFC 826, RFC 5227 announcements) --------------------------------------------- */

enum net_arp_state {
	NET_ARP_FREE,
	NET_ARP_INCOMPLETE,
	NET_ARP_REACHABLE,
	NET_ARP_PROBE,
	NET_ARP_STATIC
};

struct net_arp_info {
	net_ip4 ip;
	uint8_t mac[NET_ETH_ALEN];
	enum net_arp_state state;
	uint8_t ifindex;
	uint64_t age_us; /* since last confirmation */
	uint32_t queued; /* frames waiting for resolution */
};

/* net_arp_gratuitous: broadcast an ARP announcement that ip is at mac (mac NULL = nif's);
 * migration/HA use it when an address moves. */
int net_arp_gratuitous(struct netif *nif, net_ip4 ip, const uint8_t *mac, uint64_t now_us);
/* net_arp_add_static: a permanent entry (replaces a dynamic one). */
int net_arp_add_static(struct net_stack *s, struct netif *nif, net_ip4 ip, const uint8_t *mac);
/* net_arp_delete: forget ip (static or dynamic); NET_ENOENT if absent. */
int net_arp_delete(struct net_stack *s, net_ip4 ip);
/* net_arp_snapshot: copy up to max used entries into out; returns how many. */
size_t net_arp_snapshot(struct net_stack *s, struct net_arp_info *out, size_t max, uint64_t now_us);

/* ---- ICMP echo (RFC 792) ---------------------------------------------------------------- */

struct net_ping_reply {
	net_ip4 from;
	uint16_t id, seq;
	uint32_t len;    /* ICMP payload bytes */
	uint8_t ttl;     /* of the reply datagram */
	uint64_t rtt_us; /* from our send time (kept by the stack, not taken from the packet) */
};
typedef void (*net_ping_fn)(void *arg, const struct net_ping_reply *r);

/* net_ping_set_handler: where echo replies matching our requests go (one per stack). */
void net_ping_set_handler(struct net_stack *s, net_ping_fn fn, void *arg);
/* net_ping_send: send an echo request with payload_len bytes (<= MTU - 28). */
int net_ping_send(struct net_stack *s, net_ip4 dst, uint16_t id, uint16_t seq, size_t payload_len,
                  uint64_t now_us);

/* ---- UDP (RFC 768) ---------------------------------------------------------------------- */

struct udp_sock;
/* Datagram received; data valid only during the call. */
typedef void (*udp_recv_fn)(void *arg, struct udp_sock *u, net_ip4 src, uint16_t sport,
                            const void *data, size_t len);

/* udp_open: bind local ip (0 = any) and port (0 = ephemeral); NULL and *err on failure. */
struct udp_sock *udp_open(struct net_stack *s, net_ip4 ip, uint16_t port, udp_recv_fn fn, void *arg,
                          int *err);
/* udp_sendto: one datagram (<= MTU - 28 bytes; no fragmentation). 255.255.255.255 works. */
int udp_sendto(struct udp_sock *u, net_ip4 dst, uint16_t dport, const void *data, size_t len,
               uint64_t now_us);
/* udp_local_port: the bound port. */
uint16_t udp_local_port(const struct udp_sock *u);
/* udp_close: unbind and free. */
void udp_close(struct udp_sock *u);

/* ---- TCP (RFC 9293) ---------------------------------------------------------------------- */

enum tcp_state {
	TCP_CLOSED,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSING,
	TCP_TIME_WAIT,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
};

struct tcp_conn;
struct tcp_listener;

/*
 * Connection callbacks (all optional). A tcp_conn handle stays valid until the app calls
 * tcp_close()/tcp_abort(), or until the stack calls err (the handle is gone after it returns).
 */
struct tcp_callbacks {
	/* recv: in-order data (valid only during the call; the app must take all len bytes and
	 * later call tcp_recved() to reopen the window). data NULL, len 0: the peer sent FIN.
	 * With recv NULL the stack discards data and reopens the window itself. */
	void (*recv)(void *arg, struct tcp_conn *c, const void *data, size_t len);
	/* sent: acked bytes left the send queue (room for tcp_write). */
	void (*sent)(void *arg, struct tcp_conn *c, size_t acked);
	/* connected: an active open (tcp_connect) reached ESTABLISHED. */
	void (*connected)(void *arg, struct tcp_conn *c);
	/* err: the connection died (NET_ECONNRESET, NET_ECONNREFUSED, NET_ETIMEDOUT,
	 * NET_ECONNABORTED); all zero-copy completions have fired before this. */
	void (*err)(void *arg, struct tcp_conn *c, int err);
};

/* Zero-copy completion: called exactly once per tcp_write_ref(); err 0 = all bytes acked,
 * else the connection died first (the buffer is released either way). */
typedef void (*tcp_done_fn)(void *arg, int err);

/* accept: a passive open completed; set callbacks with tcp_set_callbacks() and return 0, or
 * return < 0 to refuse (the peer gets a RST). */
typedef int (*tcp_accept_fn)(void *arg, struct tcp_listener *l, struct tcp_conn *c);

/* Per-connection options (NULL = stack defaults). */
struct tcp_opts {
	uint32_t rcvbuf; /* receive window in bytes (0 = default); sets the window scale */
	uint32_t sndbuf; /* copy-send limit (0 = default) */
	bool nodelay;    /* disable Nagle */
};

/* tcp_listen: passive open on ip (0 = any):port; backlog bounds half-open conns (0 = cfg). */
struct tcp_listener *tcp_listen(struct net_stack *s, net_ip4 ip, uint16_t port, unsigned backlog,
                                const struct tcp_opts *o, tcp_accept_fn fn, void *arg, int *err);
/* tcp_listen_close: stop listening; half-open conns are dropped, accepted ones live on. */
void tcp_listen_close(struct tcp_listener *l);

/* tcp_connect: active open; the connected or err callback reports the outcome. */
struct tcp_conn *tcp_connect(struct net_stack *s, net_ip4 dst, uint16_t dport,
                             const struct tcp_opts *o, const struct tcp_callbacks *cb, void *arg,
                             uint64_t now_us, int *err);
/* tcp_set_callbacks: (re)set callbacks and their argument. */
void tcp_set_callbacks(struct tcp_conn *c, const struct tcp_callbacks *cb, void *arg);

/* tcp_write: copy up to len bytes into the send buffer; returns bytes taken (may be less,
 * 0 when full) or < 0 (NET_ENOTCONN, NET_EPIPE after shutdown). */
long tcp_write(struct tcp_conn *c, const void *data, size_t len, uint64_t now_us);
/* tcp_write_ref: queue len bytes by reference (no copy); data must stay untouched until
 * done(done_arg, err) runs (exactly once; done may be NULL for static data). Returns 0 or
 * < 0 (then done is NOT called). */
int tcp_write_ref(struct tcp_conn *c, const void *data, size_t len, tcp_done_fn done,
                  void *done_arg, uint64_t now_us);
/* tcp_sndbuf_size: the copy-send limit (tcp_sndbuf_space when nothing is queued). */
size_t tcp_sndbuf_size(const struct tcp_conn *c);
/* tcp_sndbuf_space: bytes tcp_write would accept now. */
size_t tcp_sndbuf_space(const struct tcp_conn *c);
/* tcp_recved: the app consumed len delivered bytes; reopens the receive window. */
void tcp_recved(struct tcp_conn *c, size_t len, uint64_t now_us);
/* tcp_shutdown: half-close (send FIN after queued data), keep receiving. */
int tcp_shutdown(struct tcp_conn *c, uint64_t now_us);
/* tcp_close: graceful close (FIN after queued data) and release the handle: no more
 * callbacks except zero-copy completions; later data from the peer is discarded. */
int tcp_close(struct tcp_conn *c, uint64_t now_us);
/* tcp_abort: send RST, drop everything, release the handle (completions fire with
 * NET_ECONNABORTED, err does not). */
void tcp_abort(struct tcp_conn *c, uint64_t now_us);
/* tcp_set_nodelay: Nagle off (true) or on. */
void tcp_set_nodelay(struct tcp_conn *c, bool on);
/* tcp_set_keepalive: probes after idle_us of silence, every intvl_us, abort after cnt
 * unanswered (RFC 9293 3.8.4); idle_us 0 turns keepalive off. */
void tcp_set_keepalive(struct tcp_conn *c, uint64_t idle_us, uint64_t intvl_us, uint32_t cnt);
/* tcp_get_state: current state. */
enum tcp_state tcp_get_state(const struct tcp_conn *c);
/* tcp_state_name: "ESTABLISHED" etc. */
const char *tcp_state_name(enum tcp_state st);

/* One row of the `tcp` console command. */
struct tcp_conn_info {
	net_ip4 local_ip, remote_ip;
	uint16_t local_port, remote_port;
	enum tcp_state state;
	uint32_t snd_queue; /* bytes queued, unacked or unsent */
	uint32_t rcv_queue; /* delivered but not tcp_recved, plus out-of-order */
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t cwnd, ssthresh, snd_wnd, rcv_wnd, mss;
	uint32_t snd_una, snd_nxt, rcv_nxt; /* absolute sequence numbers */
	uint8_t snd_wscale, rcv_wscale;
	bool timestamps, sack, in_recovery, detached;
	uint32_t retransmits;
};
/* tcp_get_info: fill one row for c. */
void tcp_get_info(const struct tcp_conn *c, struct tcp_conn_info *info);
/* tcp_snapshot: rows for up to max connections (listeners are not included); returns count. */
size_t tcp_snapshot(struct net_stack *s, struct tcp_conn_info *out, size_t max);

/* ---- counters ---------------------------------------------------------------------------- */

enum net_drop_reason {
	NET_DROP_TRUNCATED,     /* shorter than its headers/length fields say */
	NET_DROP_BAD_CSUM,      /* IPv4/ICMP/UDP/TCP checksum */
	NET_DROP_BAD_HEADER,    /* malformed field (version, IHL, offsets, ARP sizes...) */
	NET_DROP_NOT_FOR_US,    /* other MAC/IP, multicast */
	NET_DROP_UNSUPPORTED,   /* ethertype / IP protocol / ICMP type we do not handle */
	NET_DROP_FRAGMENT,      /* IPv4 fragments are not reassembled */
	NET_DROP_MARTIAN,       /* broadcast/multicast source, port 0 */
	NET_DROP_NO_LISTENER,   /* no socket/connection/listener */
	NET_DROP_BAD_STATE,     /* segment not valid in the connection's state */
	NET_DROP_OUT_OF_WINDOW, /* TCP sequence number outside the receive window */
	NET_DROP_BAD_ACK,       /* TCP ack of unsent or too old data */
	NET_DROP_PAWS,          /* RFC 7323 timestamp check */
	NET_DROP_RST_IGNORED,   /* RST that did not match exactly (RFC 5961) */
	NET_DROP_SYN_BACKLOG,   /* listener half-open queue full (no cookies) */
	NET_DROP_BAD_COOKIE,    /* ACK to a listener with an invalid SYN cookie */
	NET_DROP_OOO_LIMIT,     /* out-of-order queue full */
	NET_DROP_NO_BUFFER,     /* allocation failed / memory limit */
	NET_DROP_RATE_LIMIT,    /* RST / challenge ACK / ICMP reply rate limit */
	NET_DROP_NO_ROUTE,      /* no interface or gateway for the destination */
	NET_DROP_ARP_FAILED,    /* next hop did not answer ARP */
	NET_DROP_ARP_QUEUE,     /* too many frames waiting for one ARP resolution */
	NET_DROP_LINK_DOWN,     /* interface down */
	NET_DROP_TX_ERROR,      /* driver send failed */
	NET_DROP_TOO_BIG,       /* datagram larger than the MTU */
	NET_DROP__COUNT
};
/* net_drop_name: "bad_csum" etc. */
const char *net_drop_name(enum net_drop_reason r);

struct net_proto_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};

struct net_tcp_stats {
	uint64_t active_opens, passive_opens, attempt_fails, estab_resets, conns_now;
	uint64_t retrans_segs, fast_retransmits, partial_acks, rto_timeouts, dupacks;
	uint64_t rst_sent, rst_rcvd, challenge_acks, syncookies_sent, syncookies_ok;
	uint64_t zwin_probes, keepalive_probes, keepalive_drops, delayed_acks, ooo_segs;
	uint64_t time_wait_reuse, sack_recoveries, sack_rexmits, lost_rexmits, tlp_probes;
};

struct net_stats {
	struct net_proto_stats eth, arp, ip, icmp, udp, tcp;
	uint64_t drops[NET_DROP__COUNT];
	struct net_tcp_stats tcpx;
	uint64_t arp_requests_sent, arp_replies_sent, arp_gratuitous_sent, arp_conflicts;
	uint64_t icmp_echo_req_rcvd, icmp_echo_rep_sent, icmp_echo_req_sent, icmp_echo_rep_rcvd;
	uint64_t mem_used, mem_peak, alloc_failures;
};
/* net_get_stats: copy the counters. */
void net_get_stats(const struct net_stack *s, struct net_stats *out);

/* ---- built-in services (on the raw API) ------------------------------------------------- */

#define NET_SVC_ECHO    (1u << 0) /* TCP and UDP port 7, RFC 862 */
#define NET_SVC_DISCARD (1u << 1) /* TCP and UDP port 9, RFC 863 */
#define NET_SVC_CHARGEN (1u << 2) /* TCP port 19, RFC 864 (zero-copy from a pattern buffer) */

/* net_services_set: enable exactly the services in mask (others are closed). */
int net_services_set(struct net_stack *s, unsigned mask);
/* net_services_get: the enabled mask. */
unsigned net_services_get(const struct net_stack *s);

#endif
