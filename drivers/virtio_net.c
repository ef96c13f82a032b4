/* virtio-net host NIC driver (virtio v1.2 5.1), modern PCI interface, MSI-X interrupts. */
#include "drivers/nic.h"
#include "drivers/pci.h"
#include "drivers/virtio_pci.h"
#include "kernel/apic.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/trap.h"

#define RXQ     0
#define TXQ     1
#define QMAX    256
#define BUF_MIN 2048 /* one 1500-MTU frame + the 12-byte header fits */
#define HDR     sizeof(struct virtio_net_hdr)

struct vnet {
	struct nic nic;
	struct vio_dev dev;
	struct vio_queue rx, tx;
	uint8_t *rxbuf, *txbuf; /* QMAX buffers each, indexed by descriptor */
	uint64_t rxbuf_pa, txbuf_pa;
	uint32_t buf_size; /* per buffer: the header and the largest frame of nic.max_mtu */
};

/* post_rx: give a receive buffer back to the device. */
static void post_rx(struct vnet *v, uint16_t slot)
{
	(void)vio_add(&v->rx, v->rxbuf_pa + (uint64_t)slot * v->buf_size, v->buf_size, true);
}

/* reclaim_tx: free finished transmit descriptors. */
static void reclaim_tx(struct vnet *v)
{
	uint16_t id;
	uint32_t len;
	while (vio_get_used(&v->tx, &id, &len))
		;
}

static int vnet_send(struct nic *n, const struct net_iov *iov, unsigned iovcnt, size_t len)
{
	struct vnet *v = n->priv;
	reclaim_tx(v);
	if (len + HDR > v->buf_size) {
		n->stats.tx_dropped++;
		return NIC_TX_BAD;
	}
	if (v->tx.num_free == 0) {
		nic_tx_flush(n);    /* frames held back: let the device start on them */
		return NIC_TX_BUSY; /* the device has not consumed the ring yet */
	}
	uint16_t slot = v->tx.free_head; /* the descriptor vio_add will take */
	uint8_t *b = v->txbuf + (uint64_t)slot * v->buf_size;
	memset(b, 0, HDR);
	size_t off = HDR;
	for (unsigned i = 0; i < iovcnt; i++) {
		memcpy(b + off, iov[i].base, iov[i].len);
		off += iov[i].len;
	}
	if (vio_add(&v->tx, v->txbuf_pa + (uint64_t)slot * v->buf_size, (uint32_t)off, false) < 0) {
		n->stats.tx_dropped++;
		return NIC_TX_BAD;
	}
	nic_tx_queued(n);
	n->stats.tx_packets++;
	n->stats.tx_bytes += len;
	return 0;
}

static int vnet_poll_rx(struct nic *n, int budget)
{
	struct vnet *v = n->priv;
	int done = 0;
	uint16_t id;
	uint32_t len;
	while (done < budget && vio_get_used(&v->rx, &id, &len)) {
		if (len > HDR && len <= v->buf_size) {
			n->stats.rx_packets++;
			n->stats.rx_bytes += len - HDR;
			n->rx(n->owner, v->rxbuf + (uint64_t)id * v->buf_size + HDR, len - HDR);
		} else {
			n->stats.rx_dropped++;
		}
		post_rx(v, id);
		done++;
	}
	if (done)
		vio_kick(&v->rx);
	reclaim_tx(v);
	return done;
}

static bool vnet_link(struct nic *n)
{
	struct vnet *v = n->priv;
	if (!(v->dev.features & (1ULL << VIRTIO_NET_F_STATUS)))
		return true;
	return vio_cfg16(&v->dev, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP;
}

/* vnet_doorbell: notify the device of new transmit buffers (virtio 1.2 4.1.5.2). */
static void vnet_doorbell(struct nic *n)
{
	struct vnet *v = n->priv;
	vio_kick(&v->tx);
}

static const struct nic_ops vnet_ops = {
    .send = vnet_send, .poll_rx = vnet_poll_rx, .link = vnet_link, .tx_doorbell = vnet_doorbell};

/* vnet_irq: a queue has work: wake the owner (the queues are polled from its thread). */
static void vnet_irq(void *arg)
{
	nic_kick(arg);
}

/*
 * device_mtu: the MTU the device carries: 1500, or with VIRTIO_NET_F_MTU the config field
 * (5.1.4.1: the driver must post buffers that take a frame of that MTU and must not send
 * larger ones), capped at NIC_MTU_JUMBO.
 */
static uint32_t device_mtu(struct vio_dev *d)
{
	if (!(d->features & (1ULL << VIRTIO_NET_F_MTU)))
		return NIC_MTU_DEFAULT;
	uint32_t mtu = vio_cfg16(d, VIRTIO_NET_CFG_MTU);
	return mtu < 576 ? 576 : MIN(mtu, (uint32_t)NIC_MTU_JUMBO);
}

/* vnet_probe: virtio-net, transitional (0x1000) or modern (0x1041). */
static struct nic *vnet_probe(struct pci_dev *p)
{
	if (p->vendor != VIRTIO_PCI_VENDOR ||
	    (p->device != 0x1000 && p->device != VIRTIO_PCI_MODERN_DEV + VIRTIO_ID_NET))
		return NULL;
	if (p->device == 0x1000 && pci_read16(p, 0x2e) != VIRTIO_ID_NET)
		return NULL; /* transitional: the subsystem id says which device */
	struct vnet *v = kzalloc(sizeof(*v));
	if (!v)
		return NULL;
	uint64_t want =
	    (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_NET_F_MTU);
	if (!vio_init(&v->dev, p, want)) {
		klog("virtio-net %02x:%02x.%x: cannot initialise (no modern interface?)", p->bus,
		     p->dev, p->fn);
		return NULL;
	}
	v->nic.max_mtu = device_mtu(&v->dev);
	v->buf_size =
	    MAX((uint32_t)BUF_MIN, (uint32_t)ALIGN_UP(HDR + NIC_FRAME_MAX(v->nic.max_mtu), 64));
	uint64_t rx_pa = pmm_alloc_zeroed(pmm_order_for((uint64_t)QMAX * v->buf_size));
	uint64_t tx_pa = pmm_alloc_zeroed(pmm_order_for((uint64_t)QMAX * v->buf_size));
	if (!rx_pa || !tx_pa)
		return NULL;
	v->rxbuf_pa = rx_pa;
	v->txbuf_pa = tx_pa;
	v->rxbuf = P2V(rx_pa);
	v->txbuf = P2V(tx_pa);
	int vec = irq_alloc_vector();
	int vecs[2] = {vec, vec};
	bool msix = vec >= 0 && pci_msix_enable(p, 2, vecs, lapic_id());
	uint16_t qv = msix ? 0 : VIRTIO_MSI_NO_VECTOR;
	if (!vio_queue_setup(&v->dev, &v->rx, RXQ, QMAX, qv) ||
	    !vio_queue_setup(&v->dev, &v->tx, TXQ, QMAX, msix ? 1 : VIRTIO_MSI_NO_VECTOR))
		return NULL;
	for (uint16_t i = 0; i < v->rx.size; i++)
		post_rx(v, i);
	vio_driver_ok(&v->dev);
	vio_kick(&v->rx);
	struct nic *n = &v->nic;
	n->model = "virtio-net";
	n->pci = p;
	n->ops = &vnet_ops;
	n->priv = v;
	n->has_irq = msix;
	for (int i = 0; i < 6; i++)
		n->mac[i] =
		    (v->dev.features & (1ULL << VIRTIO_NET_F_MAC)) ? vio_cfg8(&v->dev, i) : 0;
	if (msix)
		irq_register(vec, vnet_irq, n);
	nic_register(n);
	return n;
}
NIC_DRIVER(virtio_net, "virtio-net", vnet_probe);
