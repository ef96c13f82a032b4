/*
 * Network interface: what a NIC driver fills in and calls. A driver is one file: it embeds a
 * struct netif, sets ops/mac/mtu/name, registers it with net_if_add() and then calls net_rx()
 * for every received frame and net_if_set_link() on link changes. Frames leave through
 * ops->send as a gather list (headers + payload references, no copy in the stack).
 * Pure header (no kernel services).
 */
#ifndef TERN_NET_NETIF_H
#define TERN_NET_NETIF_H

#include "kernel/compiler.h"

/* IPv4 addresses are host byte order everywhere in the API (10.0.0.1 == 0x0a000001). */
typedef uint32_t net_ip4;
#define NET_IP4(a, b, c, d)                                                                        \
	((net_ip4)(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d)))

#define NET_ETH_ALEN   6
#define NET_ETH_HLEN   14
#define NET_ETH_MINLEN 60 /* without FCS; the stack pads shorter frames */

/* One piece of a frame being transmitted. */
struct net_iov {
	const void *base;
	size_t len;
};

struct netif;
struct net_stack;

struct netif_ops {
	/*
	 * send: transmit one Ethernet frame (no FCS) made of iovcnt pieces totalling len bytes.
	 * The pieces are only valid during the call: the driver copies them into its ring (or
	 * completes DMA) before returning. Returns 0, or a negative NET_E* error (frame dropped;
	 * TCP retransmits). Called with the stack's lock held: must not block or call back in.
	 */
	int (*send)(struct netif *nif, const struct net_iov *iov, unsigned iovcnt, size_t len);
};

/* Per-interface counters (a frame counted here is also counted per protocol in net_stats). */
struct netif_stats {
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_broadcast;
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
};

struct netif {
	/* set by the driver before net_if_add() */
	const struct netif_ops *ops;
	void *priv;                /* driver private */
	char name[16];             /* "eth0" */
	uint8_t mac[NET_ETH_ALEN]; /* station address */
	uint32_t mtu;              /* IP MTU, normally 1500; at least 576 */

	/* owned by the stack (read-only for the driver and console) */
	struct net_stack *stack;
	bool link_up;
	net_ip4 addr, mask, gw; /* 0 = unset */
	uint8_t prefix_len;
	uint8_t index;
	struct netif_stats stats;
};

/* net_rx: hand one received Ethernet frame (no FCS) to the stack; frame is only read during
 * the call. now_us: monotonic microseconds. */
void net_rx(struct netif *nif, const void *frame, size_t len, uint64_t now_us);
/* net_if_set_link: report carrier up/down; going up announces the address (gratuitous ARP). */
void net_if_set_link(struct netif *nif, bool up, uint64_t now_us);

#endif
