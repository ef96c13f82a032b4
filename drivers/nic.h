/*
 * Host network interface cards. A driver is one file: it declares itself with NIC_DRIVER, its
 * probe claims PCI devices and registers a struct nic. Received frames are handed to whoever
 * owns the NIC (the host TCP/IP stack, or later the virtual switch) from the owner's thread:
 * the owner calls ops->poll_rx, and the driver calls nic->rx for each frame; an interrupt
 * only calls nic_kick() to wake the owner. Transmit copies the frame into the ring at once.
 */
#ifndef TERN_NIC_H
#define TERN_NIC_H

#include "kernel/compiler.h"
#include "net/netif.h"

struct pci_dev;
struct nic;

#define NIC_MTU_DEFAULT 1500
#define NIC_MTU_JUMBO   9000 /* the most any driver here supports (jumbo frames) */
/* the longest frame an IP MTU gives: Ethernet header and a VLAN tag, no FCS */
#define NIC_FRAME_MAX(mtu) ((mtu) + 18)

#define NIC_TX_BUSY (-1)
#define NIC_TX_BAD  (-2)

struct nic_ops {
	/* send: copy one frame (iov pieces, len bytes, no FCS) into the transmit ring; 0,
	 * NIC_TX_BUSY (the ring is full: try again after the device has sent some; not counted
	 * as a drop) or NIC_TX_BAD (the frame cannot be sent: dropped and counted) */
	int (*send)(struct nic *n, const struct net_iov *iov, unsigned iovcnt, size_t len);
	/* poll_rx: deliver up to budget received frames through n->rx; returns how many */
	int (*poll_rx)(struct nic *n, int budget);
	/* link: carrier state from the device */
	bool (*link)(struct nic *n);
	/* promisc: receive frames for every MAC (the NIC is a bridge uplink); NULL if the
	 * device always does (QEMU's virtio-net without VIRTIO_NET_F_CTRL_RX) */
	void (*promisc)(struct nic *n, bool on);
	/* tx_doorbell: tell the device about frames send queued while tx_hold was set */
	void (*tx_doorbell)(struct nic *n);
};

struct nic_stats {
	uint64_t rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped, irqs;
	uint64_t tx_doorbells; /* device notifications of new transmit frames */
};

struct nic {
	char name[16];     /* "eth0" */
	const char *model; /* "virtio-net", "e1000 (82540EM)", ... */
	uint8_t mac[6];
	struct pci_dev *pci;
	const struct nic_ops *ops;
	void *priv;
	bool has_irq;     /* interrupts wake the owner; otherwise the owner polls */
	uint32_t max_mtu; /* largest IP MTU the device carries (NIC_MTU_DEFAULT unless set) */
	struct nic_stats stats;
	/*
	 * Doorbell batching (like Linux's xmit_more): while the owner sets tx_hold, send queues
	 * frames in the ring without notifying the device and sets tx_pending; nic_tx_flush
	 * rings the doorbell once. A notification is an exit when Tern runs virtualised (and a
	 * PCIe write on hardware); a poll round that answers 30 segments with ACKs rang it up to
	 * 30 times. Both fields are under the owner's lock.
	 */
	bool tx_hold, tx_pending;
	/* set by the owner */
	void (*rx)(void *owner, const void *frame, size_t len);
	void (*kick)(void *owner);
	void *owner;
};

struct nic_driver {
	const char *name;
	/* probe: claim d if it is ours; returns a registered nic or NULL */
	struct nic *(*probe)(struct pci_dev *d);
};

#define NIC_DRIVER(id, nm, fn)                                                                     \
	static const struct nic_driver nic_driver_##id                                             \
	    __attribute__((used, section(".nic_drivers"), aligned(8))) = {nm, fn}

/* nic_probe_all: offer every PCI device to every driver (at boot). */
void nic_probe_all(void);
int nic_count(void);
struct nic *nic_get(int i);
/* nic_register: a probed NIC gets its name (eth0, eth1, ...). */
void nic_register(struct nic *n);
/* nic_tx_flush: ring the doorbell for frames queued under tx_hold. */
static inline void nic_tx_flush(struct nic *n)
{
	if (n->tx_pending) {
		n->tx_pending = false;
		n->stats.tx_doorbells++;
		n->ops->tx_doorbell(n);
	}
}
/* nic_tx_queued: a driver's send queued a frame: ring the doorbell now unless tx_hold. */
static inline void nic_tx_queued(struct nic *n)
{
	n->tx_pending = true;
	if (!n->tx_hold)
		nic_tx_flush(n);
}
/* nic_kick: from an interrupt handler: there is work; wake the owner. */
void nic_kick(struct nic *n);

#endif
