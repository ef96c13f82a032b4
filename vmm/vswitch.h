/*
 * A virtual Ethernet (L2) switch (pure; host-tested). Tern runs one per host (vmm/dev/
 * hostswitch.c); every guest NIC is a port, and the host NIC and the host's own IP stack
 * attach as further ports through the same API.
 *
 * Forwarding: the source MAC of every frame is learned on its ingress port (entries age out
 * after age_ns without traffic, and move when a MAC shows up on another port); a known unicast
 * destination goes to its port only (dropped if that is the ingress port), broadcast,
 * multicast and unknown unicast are flooded to every other port. Frames are gather lists so a
 * frame is copied once, by the receiving port, straight from the sender's buffers.
 *
 * Port flags: VSW_PORT_LOCK_MAC drops frames whose source is not the port's own MAC (a guest
 * cannot spoof another guest's address or poison the table), and frames from other ports that
 * carry a locked port's (learned) MAC as their source; VSW_PORT_UPLINK marks the port
 * to the physical network (informational: shown in listings; forwarding is the same).
 * Frames with a multicast source, shorter than 14 bytes or longer than VSW_MAX_FRAME are
 * dropped at ingress. Per-port counters count both directions and drops.
 *
 * Not thread-safe: the caller serialises all calls on one switch (one lock). A port's rx
 * callback runs inside vswitch_input with that serialisation in force, so it must not call
 * back into the switch and must not block: it copies the frame (or queues it) and returns.
 */
#ifndef TERN_VSWITCH_H
#define TERN_VSWITCH_H

#include "kernel/compiler.h"

#define VSW_MAX_PORTS      32
#define VSW_TABLE          256 /* MAC table entries */
#define VSW_PROBE          8   /* slots probed per MAC (the oldest is replaced when all are used) */
#define VSW_MAX_FRAME      1518 /* Ethernet + VLAN tag, no FCS */
#define VSW_MIN_FRAME      14
#define VSW_DEFAULT_AGE_NS (300ULL * 1000000000ULL)
#define VSW_PORT_NAME      16

#define VSW_PORT_LOCK_MAC (1u << 0)
#define VSW_PORT_UPLINK   (1u << 1)

struct vsw_iov {
	const void *base;
	size_t len;
};

struct vsw_port_ops {
	/* rx: deliver a frame leaving the switch through this port; false if it was dropped
	 * (counted as tx_dropped of the port) */
	bool (*rx)(void *priv, const struct vsw_iov *iov, unsigned iovcnt, size_t len);
};

struct vsw_port_stats {
	uint64_t in_packets, in_bytes;   /* frames the port's owner sent into the switch */
	uint64_t out_packets, out_bytes; /* frames the switch delivered to the owner */
	uint64_t in_dropped;             /* runt/oversize/spoofed/multicast-source at ingress */
	uint64_t out_dropped;            /* the owner could not take the frame */
	uint64_t flooded;                /* ingress frames flooded */
};

struct vsw_port {
	bool used;
	char name[VSW_PORT_NAME];
	uint32_t flags;
	uint8_t mac[6]; /* the owner's MAC (VSW_PORT_LOCK_MAC) */
	const struct vsw_port_ops *ops;
	void *priv;
	struct vsw_port_stats st;
};

struct vsw_mac {
	uint8_t mac[6];
	int16_t port; /* -1: free */
	uint64_t seen_ns;
};

struct vswitch {
	uint64_t age_ns;
	struct vsw_port port[VSW_MAX_PORTS];
	struct vsw_mac table[VSW_TABLE];
	uint64_t learned, moved, evicted;
};

void vswitch_init(struct vswitch *sw, uint64_t age_ns);
/* vswitch_port_add: a new port; returns its number or -1 if all are in use. */
int vswitch_port_add(struct vswitch *sw, const char *name, const struct vsw_port_ops *ops,
                     void *priv, uint32_t flags, const uint8_t mac[6]);
/* vswitch_port_del: remove a port and forget the MACs learned on it. */
void vswitch_port_del(struct vswitch *sw, int port);
/* vswitch_input: a frame from port's owner (gather list of iovcnt pieces totalling len). */
void vswitch_input(struct vswitch *sw, int port, const struct vsw_iov *iov, unsigned iovcnt,
                   size_t len, uint64_t now_ns);
/* vswitch_lookup: the port a unicast MAC was last seen on (and not aged out), or -1. */
int vswitch_lookup(const struct vswitch *sw, const uint8_t mac[6], uint64_t now_ns);

#endif
