/*
 * Intel 8254x/8257x gigabit NICs: 82540EM ("e1000", 8086:100e) and 82574L ("e1000e",
 * 8086:10d3), the models most servers and QEMU provide. Legacy descriptors on both (PCI/PCI-X
 * Family of Gigabit Ethernet Controllers SDM rev 4.0, ch. 3 and 13; 82574 datasheet 7.1, 10).
 * Polled: the owner's thread calls poll_rx (no INTx routing needed).
 */
#include "drivers/nic.h"
#include "drivers/pci.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"

/* Registers (byte offsets in BAR 0). */
#define E_CTRL   0x0000
#define E_STATUS 0x0008
#define E_EERD   0x0014
#define E_ICR    0x00c0
#define E_IMC    0x00d8
#define E_RCTL   0x0100
#define E_TCTL   0x0400
#define E_TIPG   0x0410
#define E_RDBAL  0x2800
#define E_RDBAH  0x2804
#define E_RDLEN  0x2808
#define E_RDH    0x2810
#define E_RDT    0x2818
#define E_TDBAL  0x3800
#define E_TDBAH  0x3804
#define E_TDLEN  0x3808
#define E_TDH    0x3810
#define E_TDT    0x3818
#define E_MTA    0x5200
#define E_RAL0   0x5400
#define E_RAH0   0x5404

#define CTRL_SLU   (1u << 6)
#define CTRL_RST   (1u << 26)
#define STATUS_LU  (1u << 1)
#define RCTL_EN    (1u << 1)
#define RCTL_UPE   (1u << 3)  /* unicast promiscuous */
#define RCTL_MPE   (1u << 4)  /* multicast promiscuous */
#define RCTL_BAM   (1u << 15) /* accept broadcast */
#define RCTL_SECRC (1u << 26) /* strip the CRC */
#define TCTL_EN    (1u << 1)
#define TCTL_PSP   (1u << 3)
#define RAH_AV     (1u << 31)
#define TXD_EOP    (1u << 0)
#define TXD_IFCS   (1u << 1)
#define TXD_RS     (1u << 3)
#define DESC_DD    (1u << 0)
#define RXD_EOP    (1u << 1)

#define NDESC    256
#define BUF_SIZE 2048

struct e1000_rx_desc {
	uint64_t addr;
	uint16_t length, csum;
	uint8_t status, errors;
	uint16_t special;
} __packed;

struct e1000_tx_desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso, cmd, status, css;
	uint16_t special;
} __packed;

struct e1000 {
	struct nic nic;
	volatile uint8_t *regs;
	volatile struct e1000_rx_desc *rx;
	volatile struct e1000_tx_desc *tx;
	uint8_t *rxbuf, *txbuf;
	uint64_t rxbuf_pa, txbuf_pa;
	uint32_t rx_next, tx_next;
};

static uint32_t rd(struct e1000 *e, uint32_t r)
{
	return *(volatile uint32_t *)(e->regs + r);
}

static void wr(struct e1000 *e, uint32_t r, uint32_t v)
{
	*(volatile uint32_t *)(e->regs + r) = v;
}

static int e1000_send(struct nic *n, const struct net_iov *iov, unsigned iovcnt, size_t len)
{
	struct e1000 *e = n->priv;
	volatile struct e1000_tx_desc *d = &e->tx[e->tx_next];
	if (len > BUF_SIZE) {
		n->stats.tx_dropped++;
		return NIC_TX_BAD;
	}
	/* the ring is full when the slot after this one is still the device's: one slot always
	 * stays empty, because TDT == TDH means "nothing to send" (8254x SDM 3.4) */
	volatile struct e1000_tx_desc *after = &e->tx[(e->tx_next + 1) % NDESC];
	if ((d->cmd && !(d->status & DESC_DD)) || (after->cmd && !(after->status & DESC_DD))) {
		nic_tx_flush(n);    /* frames held back: let the device start on them */
		return NIC_TX_BUSY; /* the device has not sent those slots yet */
	}
	uint8_t *b = e->txbuf + (uint64_t)e->tx_next * BUF_SIZE;
	size_t off = 0;
	for (unsigned i = 0; i < iovcnt; i++) {
		memcpy(b + off, iov[i].base, iov[i].len);
		off += iov[i].len;
	}
	d->addr = e->txbuf_pa + (uint64_t)e->tx_next * BUF_SIZE;
	d->length = (uint16_t)off;
	d->status = 0;
	d->cmd = TXD_EOP | TXD_IFCS | TXD_RS;
	e->tx_next = (e->tx_next + 1) % NDESC;
	nic_tx_queued(n);
	n->stats.tx_packets++;
	n->stats.tx_bytes += len;
	return 0;
}

static int e1000_poll_rx(struct nic *n, int budget)
{
	struct e1000 *e = n->priv;
	int done = 0;
	while (done < budget) {
		volatile struct e1000_rx_desc *d = &e->rx[e->rx_next];
		if (!(d->status & DESC_DD))
			break;
		barrier();
		uint16_t len = d->length;
		if ((d->status & RXD_EOP) && !d->errors && len >= 14 && len <= BUF_SIZE) {
			n->stats.rx_packets++;
			n->stats.rx_bytes += len;
			n->rx(n->owner, e->rxbuf + (uint64_t)e->rx_next * BUF_SIZE, len);
		} else {
			n->stats.rx_dropped++;
		}
		d->status = 0;
		uint32_t give = e->rx_next;
		e->rx_next = (e->rx_next + 1) % NDESC;
		wr(e, E_RDT, give); /* the slot just emptied goes back to the device */
		done++;
	}
	return done;
}

static bool e1000_link(struct nic *n)
{
	return rd(n->priv, E_STATUS) & STATUS_LU;
}

/* e1000_promisc: RCTL.UPE/MPE (8254x SDM 13.4.22): accept every unicast and multicast. */
static void e1000_promisc(struct nic *n, bool on)
{
	struct e1000 *e = n->priv;
	uint32_t r = rd(e, E_RCTL) & ~(RCTL_UPE | RCTL_MPE);
	wr(e, E_RCTL, r | (on ? RCTL_UPE | RCTL_MPE : 0));
}

/* e1000_doorbell: move the transmit tail past the queued descriptors (8254x SDM 3.4). */
static void e1000_doorbell(struct nic *n)
{
	struct e1000 *e = n->priv;
	barrier(); /* descriptors before the tail */
	wr(e, E_TDT, e->tx_next);
}

static const struct nic_ops e1000_ops = {e1000_send, e1000_poll_rx, e1000_link, e1000_promisc,
                                         e1000_doorbell};

/* read_mac: the receive address the EEPROM loaded into RAL0/RAH0 at reset. */
static bool read_mac(struct e1000 *e, uint8_t mac[6])
{
	uint32_t lo = rd(e, E_RAL0), hi = rd(e, E_RAH0);
	if (!(hi & RAH_AV))
		return false;
	for (int i = 0; i < 4; i++)
		mac[i] = (uint8_t)(lo >> (8 * i));
	mac[4] = (uint8_t)hi;
	mac[5] = (uint8_t)(hi >> 8);
	return true;
}

/* setup_rings: descriptors and buffers, receive and transmit enabled. */
static bool setup_rings(struct e1000 *e)
{
	uint64_t rxd = pmm_alloc_zeroed(pmm_order_for(NDESC * 16));
	uint64_t txd = pmm_alloc_zeroed(pmm_order_for(NDESC * 16));
	e->rxbuf_pa = pmm_alloc_zeroed(pmm_order_for(NDESC * BUF_SIZE));
	e->txbuf_pa = pmm_alloc_zeroed(pmm_order_for(NDESC * BUF_SIZE));
	if (!rxd || !txd || !e->rxbuf_pa || !e->txbuf_pa)
		return false;
	e->rx = P2V(rxd);
	e->tx = P2V(txd);
	e->rxbuf = P2V(e->rxbuf_pa);
	e->txbuf = P2V(e->txbuf_pa);
	for (int i = 0; i < NDESC; i++)
		e->rx[i].addr = e->rxbuf_pa + (uint64_t)i * BUF_SIZE;
	for (int i = 0; i < 128; i++)
		wr(e, E_MTA + 4 * i, 0);
	wr(e, E_RDBAL, (uint32_t)rxd);
	wr(e, E_RDBAH, (uint32_t)(rxd >> 32));
	wr(e, E_RDLEN, NDESC * 16);
	wr(e, E_RDH, 0);
	wr(e, E_RDT, NDESC - 1);
	wr(e, E_RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC); /* BSIZE 00 = 2048 bytes */
	wr(e, E_TDBAL, (uint32_t)txd);
	wr(e, E_TDBAH, (uint32_t)(txd >> 32));
	wr(e, E_TDLEN, NDESC * 16);
	wr(e, E_TDH, 0);
	wr(e, E_TDT, 0);
	wr(e, E_TIPG, 0x0060200a); /* IPGT 10, IPGR1 8, IPGR2 6 (SDM 13.4.34) */
	wr(e, E_TCTL, TCTL_EN | TCTL_PSP | (0x0f << 4) | (0x40 << 12));
	return true;
}

static struct nic *e1000_probe(struct pci_dev *p)
{
	if (p->vendor != 0x8086 || (p->device != 0x100e && p->device != 0x10d3))
		return NULL;
	struct e1000 *e = kzalloc(sizeof(*e));
	if (!e)
		return NULL;
	pci_enable(p);
	e->regs = pci_bar_map(p, 0);
	if (!e->regs)
		return NULL;
	wr(e, E_IMC, 0xffffffff); /* no interrupts: polled */
	wr(e, E_CTRL, rd(e, E_CTRL) | CTRL_RST);
	udelay(20000);
	for (int i = 0; i < 1000 && (rd(e, E_CTRL) & CTRL_RST); i++)
		udelay(100);
	wr(e, E_IMC, 0xffffffff);
	(void)rd(e, E_ICR);
	wr(e, E_CTRL, rd(e, E_CTRL) | CTRL_SLU);
	struct nic *n = &e->nic;
	if (!read_mac(e, n->mac) || !setup_rings(e)) {
		klog("e1000 %02x:%02x.%x: no MAC address or no memory", p->bus, p->dev, p->fn);
		return NULL;
	}
	n->model = p->device == 0x100e ? "e1000 (82540EM)" : "e1000e (82574L)";
	n->pci = p;
	n->ops = &e1000_ops;
	n->priv = e;
	n->has_irq = false;
	nic_register(n);
	return n;
}
NIC_DRIVER(e1000, "e1000", e1000_probe);
