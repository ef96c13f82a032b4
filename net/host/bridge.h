/*
 * The host bridge, like Proxmox's vmbr0: the uplink NIC (eth0 by default, tern.conf
 * `bridge = ethN|none`) and the host's own IP stack become ports of the host's virtual switch
 * (vmm/dev/hostswitch.h), so guests on this host reach the physical network, other hosts'
 * guests and Tern itself.
 *
 * Fast paths keep the host's own traffic (migration, HA) off the switch: a received frame
 * addressed to the host's MAC goes straight to the stack, and a unicast frame the stack sends
 * to a MAC that is not a local guest's goes straight to the NIC. Everything else crosses the
 * switch: frames for guests or for everyone (broadcast, multicast, unknown unicast) from the
 * wire enter through the uplink port; the stack's broadcasts and frames for local guests
 * enter through the host port.
 *
 * Locking: holders of netd.lock never take the switch lock, and the switch's port callbacks
 * never process frames in place. Both sides hand frames over in two rings (to the switch,
 * from the switch) under a leaf lock; the network daemon drains them, entering frames into
 * the switch with netd.lock released.
 */
#ifndef TERN_BRIDGE_H
#define TERN_BRIDGE_H

#include "kernel/compiler.h"
#include "net/netif.h"

/* bridge_start: attach the configured uplink NIC and the host stack to the switch. */
void bridge_start(void);
/* bridge_nic_rx: a frame from interface ifindex (netd.lock held); true if the bridge took it
 * (the stack must not see it). */
bool bridge_nic_rx(int ifindex, const void *frame, size_t len);
/* bridge_host_tx: the stack sends on ifindex (netd.lock held); true if the bridge took it. */
bool bridge_host_tx(int ifindex, const struct net_iov *iov, unsigned iovcnt, size_t len);
/* bridge_poll: move frames between the rings, the NIC, the stack and the switch (netd thread,
 * netd.lock held; released while frames enter the switch); returns frames moved. */
int bridge_poll(void);
/* bridge_print: the `net stats` line: frames through the rings, drops. */
void bridge_print(void);

#endif
