/* Stack internals shared by the net/ modules: the instance struct, wire helpers, tx builder. */
#ifndef TERN_NET_INTERNAL_H
#define TERN_NET_INTERNAL_H

#include "kernel/compiler.h"
#include "kernel/string.h"
#include "kernel/panic.h"
#include "net/net.h"

#define NET_MAX_IFS     4
#define NET_ARP_SETS    16 /* ARP cache: 16 sets x 4 ways */
#define NET_ARP_WAYS    4
#define NET_ARP_QMAX    4   /* frames queued per unresolved next hop */
#define NET_PING_SLOTS  16  /* outstanding echo requests remembered for RTT */
#define NET_TCP_HASH    512 /* connection hash buckets (power of two) */
#define NET_EPHEM_FIRST 49152
#define NET_EPHEM_LAST  65535

#define ETH_P_IP  0x0800
#define ETH_P_ARP 0x0806

#define IP_HLEN       20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17

/* Offsets of the headers inside struct net_tx.hdr. */
#define TX_ETH 0
#define TX_IP  NET_ETH_HLEN
#define TX_L4  (NET_ETH_HLEN + IP_HLEN)
#define TX_HDR 96 /* eth 14 + ip 20 + tcp 60 */
#define TX_IOV 8

/* ---- byte order on possibly unaligned wire bytes ----------------------------------------- */

/* get_be16: big-endian 16-bit load. */
static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* get_be32: big-endian 32-bit load. */
static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* put_be16: big-endian 16-bit store. */
static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* put_be32: big-endian 32-bit store. */
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- internet checksum (csum.c) --------------------------------------------------------- */

/* csum_partial: add len bytes (taken as starting at an even offset) to an unfolded sum. */
uint64_t csum_partial(const void *p, size_t len, uint64_t sum);
/* csum_fold: fold to 16 bits and complement; the result is stored with memcpy (wire order). */
uint16_t csum_fold(uint64_t sum);
/* csum_pseudo: unfolded sum of the IPv4 pseudo-header (RFC 793 3.1, RFC 768). */
uint64_t csum_pseudo(net_ip4 src, net_ip4 dst, uint8_t proto, uint32_t len);
/* csum_iov: add a gather list to sum; odd-length pieces are handled. */
uint64_t csum_iov(const struct net_iov *iov, unsigned n, uint64_t sum);

/* ---- keyed hash (hash.c) ---------------------------------------------------------------- */

/* net_siphash: SipHash-2-4 of len bytes under a 128-bit key. */
uint64_t net_siphash(const uint64_t key[2], const void *data, size_t len);

/* ---- rate limiting ---------------------------------------------------------------------- */

struct net_bucket {
	uint64_t last_us;
	uint32_t tokens;
	uint32_t rate; /* tokens per second, also the burst */
};

/* ---- ARP cache (arp.c) ------------------------------------------------------------------ */

struct arp_qframe {
	struct arp_qframe *next;
	size_t len;
	uint8_t data[];
};

struct arp_entry {
	net_ip4 ip;
	uint8_t mac[NET_ETH_ALEN];
	uint8_t state; /* enum net_arp_state */
	uint8_t retries;
	uint8_t ifindex;
	uint8_t qlen;
	uint64_t confirmed_us; /* last reply/learn */
	uint64_t used_us;      /* last transmit through it */
	uint64_t timer_us;     /* next retry or expiry; 0 = none */
	struct arp_qframe *qhead, *qtail;
};

/* ---- ICMP echo bookkeeping ---------------------------------------------------------------- */

struct ping_slot {
	net_ip4 dst;
	uint16_t id, seq;
	bool used;
	uint64_t sent_us;
};

struct tcp_conn;
struct tcp_listener;
struct net_services;

/* ---- the instance ----------------------------------------------------------------------- */

struct net_stack {
	struct net_alloc_ops mem;
	struct net_config cfg;
	struct net_stats stats;
	struct netif *ifs[NET_MAX_IFS];
	unsigned nifs;

	uint64_t now_us;   /* time of the current entry point (never goes backwards) */
	unsigned depth;    /* nesting of API entry points (callbacks re-enter) */
	uint64_t timer_lb; /* no timer anywhere is due before this */
	uint16_t ip_id;

	struct arp_entry arp[NET_ARP_SETS][NET_ARP_WAYS];
	struct ping_slot ping[NET_PING_SLOTS];
	unsigned ping_next;
	net_ping_fn ping_fn;
	void *ping_arg;

	struct udp_sock *udp_socks;

	/* TCP */
	struct tcp_conn **tcp_hash; /* NET_TCP_HASH chains */
	struct tcp_conn *conns;     /* every connection (timers, iteration) */
	struct tcp_conn *pending;   /* connections with output deferred to the outer call */
	struct tcp_listener *listeners;
	uint32_t nconns;
	uint32_t ephem_next;
	uint32_t hash_salt;
	bool reap_needed;

	struct net_bucket rst_bucket, chack_bucket, icmp_bucket;
	struct net_services *svc;
};

/* A frame under construction: headers in hdr (eth at 0, ip at 14, l4 at 34), payload by
 * reference in iov[1..]. */
struct net_tx {
	uint8_t hdr[TX_HDR];
	size_t l4_hlen;
	struct net_iov iov[TX_IOV];
	unsigned niov;
	size_t payload_len;
};

/* net_tx_init: empty builder (iov[0] reserved for the headers). */
static inline void net_tx_init(struct net_tx *tx)
{
	tx->l4_hlen = 0;
	tx->niov = 1;
	tx->payload_len = 0;
}

/* net_tx_add: append a payload piece; false if out of iov slots. */
static inline bool net_tx_add(struct net_tx *tx, const void *p, size_t len)
{
	if (len == 0)
		return true;
	if (tx->niov >= TX_IOV)
		return false;
	tx->iov[tx->niov].base = p;
	tx->iov[tx->niov].len = len;
	tx->niov++;
	tx->payload_len += len;
	return true;
}

/* ---- stack.c / buf.c ------------------------------------------------------------------- */

/* net_enter / net_leave: bracket every public entry point; the outermost leave flushes
 * deferred TCP output and frees dead connections. */
void net_enter(struct net_stack *s, uint64_t now_us);
void net_leave(struct net_stack *s);
/* net_timer_note: a timer was armed for when (keeps timer_lb a lower bound). */
static inline void net_timer_note(struct net_stack *s, uint64_t when)
{
	if (when < s->timer_lb)
		s->timer_lb = when;
}
/* net_drop: count a dropped packet (and on nif, if given, as an rx drop). */
void net_drop(struct net_stack *s, struct netif *nif, enum net_drop_reason r);
/* net_alloc: memory within the stack's limit (NULL on failure, counted). */
void *net_alloc(struct net_stack *s, size_t size);
/* net_zalloc: zeroed net_alloc. */
void *net_zalloc(struct net_stack *s, size_t size);
/* net_free: give back memory from net_alloc (NULL is ignored). */
void net_free(struct net_stack *s, void *p);
/* net_bucket_take: token-bucket rate limit; true if one token was available. */
bool net_bucket_take(struct net_bucket *b, uint64_t now_us);
/* net_proto_tx / net_proto_rx: count a packet in a protocol's counters. */
static inline void net_count(struct net_proto_stats *p, bool tx, size_t bytes)
{
	if (tx) {
		p->tx_packets++;
		p->tx_bytes += bytes;
	} else {
		p->rx_packets++;
		p->rx_bytes += bytes;
	}
}

/* ---- eth.c ------------------------------------------------------------------------------ */

/* eth_output: fill the Ethernet header of tx (hdr_len header bytes in use) and hand the frame
 * to the driver; src_mac NULL means the interface's address. */
int eth_output(struct net_stack *s, struct netif *nif, const uint8_t *dst, const uint8_t *src_mac,
               uint16_t type, struct net_tx *tx, size_t hdr_len);
/* eth_send_linear: send an already complete frame (queued ARP frames). */
int eth_send_linear(struct net_stack *s, struct netif *nif, const uint8_t *frame, size_t len);
/* eth_is_bcast: ff:ff:ff:ff:ff:ff. */
bool eth_is_bcast(const uint8_t *mac);

/* ---- arp.c ------------------------------------------------------------------------------ */

/* arp_input: process an ARP packet (RFC 826 merge and reply). */
void arp_input(struct net_stack *s, struct netif *nif, const uint8_t *p, size_t len);
/* arp_output: send an IPv4 frame to next hop nh, resolving or queueing as needed. */
int arp_output(struct net_stack *s, struct netif *nif, net_ip4 nh, struct net_tx *tx);
/* arp_suspect: re-verify the next hop towards dst (TCP retransmission timeout). */
void arp_suspect(struct net_stack *s, net_ip4 dst);
/* arp_timers: retries and expiries. */
void arp_timers(struct net_stack *s);
/* arp_flush_all: free queued frames (destroy). */
void arp_flush_all(struct net_stack *s);

/* ---- ipv4.c ----------------------------------------------------------------------------- */

/* What ip_input tells the transport protocols about a datagram. */
struct ip_info {
	struct netif *nif;
	net_ip4 src, dst;
	uint8_t proto, ttl;
	bool bcast; /* to a broadcast address */
};

/* ip_input: validate an IPv4 datagram (RFC 791, RFC 1122 3.2.1) and dispatch it. */
void ip_input(struct net_stack *s, struct netif *nif, const uint8_t *p, size_t len);
/* ip_route: interface and next hop for dst; NULL if unroutable. */
struct netif *ip_route(struct net_stack *s, net_ip4 dst, net_ip4 *nexthop);
/* ip_output: add the IPv4 header to tx (L4 header at TX_L4, l4_hlen set) and send it. src 0
 * means the interface address. */
int ip_output(struct net_stack *s, struct net_tx *tx, net_ip4 src, net_ip4 dst, uint8_t proto);
/* ip_is_local: dst is one of our unicast addresses. */
bool ip_is_local(struct net_stack *s, net_ip4 a);
/* ip_is_martian_src: a source address no real host has (broadcast, multicast, class E). */
bool ip_is_martian_src(net_ip4 a);

/* ---- icmp.c / udp.c / tcp ------------------------------------------------------------------ */

void icmp_input(struct net_stack *s, const struct ip_info *ip, const uint8_t *p, size_t len);
void udp_input(struct net_stack *s, const struct ip_info *ip, const uint8_t *p, size_t len);
void udp_close_all(struct net_stack *s);
void tcp_input(struct net_stack *s, const struct ip_info *ip, const uint8_t *p, size_t len);
int tcp_init(struct net_stack *s);
void tcp_destroy(struct net_stack *s);
void tcp_timers(struct net_stack *s);
void tcp_flush_pending(struct net_stack *s);
void tcp_reap(struct net_stack *s);
void services_destroy(struct net_stack *s);

#endif
