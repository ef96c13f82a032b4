/* Virtio PCI transport and split-ring driver helpers; see virtio_pci.h. */
#include "drivers/virtio_pci.h"
#include "drivers/pci.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"

#define PCI_CAP_VENDOR 0x09

static uint8_t rd8(volatile uint8_t *b, unsigned o)
{
	return b[o];
}
static uint16_t rd16(volatile uint8_t *b, unsigned o)
{
	return *(volatile uint16_t *)(b + o);
}
static uint32_t rd32(volatile uint8_t *b, unsigned o)
{
	return *(volatile uint32_t *)(b + o);
}
static void wr8(volatile uint8_t *b, unsigned o, uint8_t v)
{
	b[o] = v;
}
static void wr16(volatile uint8_t *b, unsigned o, uint16_t v)
{
	*(volatile uint16_t *)(b + o) = v;
}
static void wr32(volatile uint8_t *b, unsigned o, uint32_t v)
{
	*(volatile uint32_t *)(b + o) = v;
}
static void wr64(volatile uint8_t *b, unsigned o, uint64_t v)
{
	wr32(b, o, (uint32_t)v);
	wr32(b, o + 4, (uint32_t)(v >> 32));
}

/* find_caps: map the common, notify, ISR and device-config regions (4.1.4). */
static bool find_caps(struct vio_dev *d)
{
	struct pci_dev *p = d->pci;
	volatile uint8_t *bars[6] = {0};
	for (uint8_t c = pci_find_cap(p, PCI_CAP_VENDOR, 0); c;
	     c = pci_find_cap(p, PCI_CAP_VENDOR, c)) {
		uint8_t type = pci_read8(p, c + 3), bar = pci_read8(p, c + 4);
		uint32_t off = pci_read32(p, c + 8), len = pci_read32(p, c + 12);
		if (bar > 5 || !p->bar_size[bar] || p->bar_io[bar] ||
		    (uint64_t)off + len > p->bar_size[bar])
			continue;
		if (!bars[bar] && !(bars[bar] = pci_bar_map(p, bar)))
			continue;
		volatile uint8_t *at = bars[bar] + off;
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !d->common && len >= VIRTIO_CC_SIZE)
			d->common = at;
		else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !d->notify) {
			d->notify = at;
			d->notify_mult = pci_read32(p, c + 16);
		} else if (type == VIRTIO_PCI_CAP_ISR_CFG && !d->isr)
			d->isr = at;
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !d->device)
			d->device = at;
	}
	return d->common && d->notify && d->isr;
}

bool vio_init(struct vio_dev *d, struct pci_dev *pci, uint64_t wanted)
{
	memset(d, 0, sizeof(*d));
	d->pci = pci;
	pci_enable(pci);
	if (!find_caps(d))
		return false;
	wr8(d->common, VIRTIO_CC_STATUS, 0); /* reset, and wait for it to finish */
	for (int i = 0; i < 100000 && rd8(d->common, VIRTIO_CC_STATUS); i++)
		cpu_relax();
	wr8(d->common, VIRTIO_CC_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr8(d->common, VIRTIO_CC_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t offered = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr32(d->common, VIRTIO_CC_DFSELECT, sel);
		offered |= (uint64_t)rd32(d->common, VIRTIO_CC_DF) << (32 * sel);
	}
	wanted |= 1ULL << VIRTIO_F_VERSION_1;
	d->features = offered & wanted;
	if (!(d->features & (1ULL << VIRTIO_F_VERSION_1)))
		return false;
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr32(d->common, VIRTIO_CC_GFSELECT, sel);
		wr32(d->common, VIRTIO_CC_GF, (uint32_t)(d->features >> (32 * sel)));
	}
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	wr8(d->common, VIRTIO_CC_STATUS, st);
	return (rd8(d->common, VIRTIO_CC_STATUS) & VIRTIO_STATUS_FEATURES_OK) != 0;
}

bool vio_queue_setup(struct vio_dev *d, struct vio_queue *q, uint16_t idx, uint16_t max,
                     uint16_t msix_vector)
{
	memset(q, 0, sizeof(*q));
	wr16(d->common, VIRTIO_CC_Q_SELECT, idx);
	uint16_t size = rd16(d->common, VIRTIO_CC_Q_SIZE);
	if (!size)
		return false;
	while (size > max)
		size /= 2; /* sizes are powers of two */
	uint64_t desc_pa = pmm_alloc_zeroed(pmm_order_for(16ULL * size));
	uint64_t avail_pa = pmm_alloc_zeroed(pmm_order_for(6 + 2ULL * size));
	uint64_t used_pa = pmm_alloc_zeroed(pmm_order_for(6 + 8ULL * size));
	if (!desc_pa || !avail_pa || !used_pa)
		return false;
	q->index = idx;
	q->size = size;
	q->desc = P2V(desc_pa);
	q->avail = P2V(avail_pa);
	q->used = P2V(used_pa);
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->num_free = size;
	wr16(d->common, VIRTIO_CC_Q_SIZE, size);
	wr16(d->common, VIRTIO_CC_Q_MSIX, msix_vector);
	wr64(d->common, VIRTIO_CC_Q_DESC, desc_pa);
	wr64(d->common, VIRTIO_CC_Q_DRIVER, avail_pa);
	wr64(d->common, VIRTIO_CC_Q_DEVICE, used_pa);
	uint16_t noff = rd16(d->common, VIRTIO_CC_Q_NOTIFY_OFF);
	q->notify_addr = (volatile uint16_t *)(d->notify + (uint64_t)noff * d->notify_mult);
	wr16(d->common, VIRTIO_CC_Q_ENABLE, 1);
	return true;
}

void vio_driver_ok(struct vio_dev *d)
{
	wr8(d->common, VIRTIO_CC_STATUS,
	    rd8(d->common, VIRTIO_CC_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

int vio_add(struct vio_queue *q, uint64_t pa, uint32_t len, bool device_writes)
{
	if (!q->num_free)
		return -1;
	uint16_t i = q->free_head;
	q->free_head = q->desc[i].next;
	q->num_free--;
	q->desc[i].addr = pa;
	q->desc[i].len = len;
	q->desc[i].flags = device_writes ? VIRTQ_DESC_F_WRITE : 0;
	q->avail[2 + (q->avail_idx % q->size)] = i;
	barrier(); /* descriptor and ring entry before the index (x86 keeps stores in order) */
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	return i;
}

#define VIRTQ_USED_F_NO_NOTIFY 1 /* used ring flags: the device needs no notification */

void vio_kick(struct vio_queue *q)
{
	/* the new avail index must be visible before we read the device's flags (virtio 1.2
	 * 2.7.13.4); VIRTQ_USED_F_NO_NOTIFY (2.7.10): the device is already processing the
	 * queue and will see the buffer, so the notification (an exit) can be skipped */
	__asm__ volatile("mfence" ::: "memory");
	if (*(volatile uint16_t *)q->used & VIRTQ_USED_F_NO_NOTIFY)
		return;
	*q->notify_addr = q->index;
}

bool vio_get_used(struct vio_queue *q, uint16_t *id, uint32_t *len)
{
	uint16_t used_idx = *(volatile uint16_t *)(q->used + 2);
	if (used_idx == q->last_used)
		return false;
	barrier();
	const volatile struct virtq_used_elem *e =
	    (const volatile struct virtq_used_elem *)(q->used + 4) + (q->last_used % q->size);
	uint32_t i = e->id;
	*len = e->len;
	q->last_used++;
	if (i >= q->size)
		return false; /* a broken device: ignore the entry */
	*id = (uint16_t)i;
	q->desc[i].next = q->free_head;
	q->free_head = (uint16_t)i;
	q->num_free++;
	return true;
}

uint8_t vio_cfg8(struct vio_dev *d, unsigned off)
{
	return d->device ? rd8(d->device, off) : 0;
}

uint16_t vio_cfg16(struct vio_dev *d, unsigned off)
{
	return d->device ? rd16(d->device, off) : 0;
}
