/* Virtio over PCI, device side; see virtio_pci.h. */
#include "vmm/dev/virtio_pci.h"
#include "kernel/endian.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "vmm/msi.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

/* PCI configuration space (PCI 3.0 6.1, 6.8.2) and the capability chain at 0x40. */
#define CFG_COMMAND      0x04
#define CFG_STATUS       0x06
#define CFG_CAP_PTR      0x34
#define CFG_INT_PIN      0x3d
#define CMD_MEM          (1u << 1)
#define CMD_MASTER       (1u << 2)
#define STATUS_CAP_LIST  0x10
#define CAP_ID_MSIX      0x11
#define CAP_ID_VENDOR    0x09
#define CAP_MSIX         0x40 /* 12 bytes */
#define CAP_COMMON       0x4c /* 16 */
#define CAP_NOTIFY       0x5c /* 20 */
#define CAP_ISR          0x70 /* 16 */
#define CAP_DEVICE       0x80 /* 16 */
#define CAP_PCICFG       0x90 /* 20: virtio_pci_cfg_cap */
#define MSIX_CTL_HI      (CAP_MSIX + 3)
#define MSIX_ENABLE      0x80 /* bit 15 of Message Control, in its high byte */
#define MSIX_FMASK       0x40 /* bit 14: function mask */
#define MSIX_CTRL_MASKED 1u
#define PCICFG_BAR       (CAP_PCICFG + 4)
#define PCICFG_OFF       (CAP_PCICFG + 8)
#define PCICFG_LEN       (CAP_PCICFG + 12)
#define PCICFG_DATA      (CAP_PCICFG + 16)

#define ALWAYS_FEATURES                                                                            \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |                         \
	 (1ULL << VIRTIO_F_EVENT_IDX))
#define LOG_FREE 16 /* messages per device before rate limiting sets in */

/* ---- helpers ---------------------------------------------------------------------------- */

void vdev_log(struct vdev *d, const char *fmt, ...)
{
	uint32_t n = __atomic_fetch_add(&d->logged, 1, __ATOMIC_RELAXED);
	if (n >= LOG_FREE && n % 1024)
		return; /* after LOG_FREE lines, one in 1024 */
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	klog_quiet("vm %s: %s %d: %s%s", d->vm->cfg.name, d->ops->name, d->index, buf,
	           n >= LOG_FREE ? " (rate-limited)" : "");
}

static uint16_t nvec(const struct vdev *d)
{
	return (uint16_t)(d->ops->nqueues + 1);
}

bool vdev_live(const struct vdev *d)
{
	uint8_t need = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
	uint8_t s = READ_ONCE(d->status);
	return (s & need) == need && !(s & VIRTIO_STATUS_FAILED) && !READ_ONCE(d->broken) &&
	       (d->pci.cfg[CFG_COMMAND] & CMD_MASTER);
}

bool vdev_stopping(const struct vdev *d)
{
	return READ_ONCE(d->vm->pause_requested) || READ_ONCE(d->vm->stop_requested);
}

/* lock_queues / unlock_queues: every queue lock, in order (with d->lock held). */
static void lock_queues(struct vdev *d)
{
	for (unsigned q = 0; q < d->ops->nqueues; q++)
		spin_lock(&d->qlock[q]);
}

static void unlock_queues(struct vdev *d)
{
	for (unsigned q = d->ops->nqueues; q-- > 0;)
		spin_unlock(&d->qlock[q]);
}

/* ---- MSI-X (PCI 3.0 6.8.2) ---------------------------------------------------------------- */

/* irq: send vector vec, or leave it pending while it (or the function) is masked. */
static void irq(struct vdev *d, uint16_t vec)
{
	if (vec >= nvec(d))
		return; /* VIRTIO_MSI_NO_VECTOR or garbage: no interrupt (there is no INTx) */
	uint64_t addr = 0;
	uint32_t data = 0;
	bool send = false;
	spin_lock(&d->irq_lock);
	uint8_t ctl = d->pci.cfg[MSIX_CTL_HI];
	if (ctl & MSIX_ENABLE) {
		struct vdev_msix *e = &d->msix[vec];
		if ((ctl & MSIX_FMASK) || (e->ctrl & MSIX_CTRL_MASKED)) {
			d->pba |= 1ULL << vec;
		} else {
			addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
			data = e->data;
			send = true;
		}
	}
	spin_unlock(&d->irq_lock);
	if (send) {
		d->st.irqs++;
		if (!vm_msi(d->vm, addr, data))
			vdev_log(d, "MSI-X vector %u has a bad address %#llx", vec,
			         (unsigned long long)addr);
	}
}

/* msix_unmasked: deliver pending vectors whose masks are now clear. */
static void msix_unmasked(struct vdev *d)
{
	uint16_t pending[VDEV_MAX_VECTORS];
	unsigned n = 0;
	spin_lock(&d->irq_lock);
	uint8_t ctl = d->pci.cfg[MSIX_CTL_HI];
	if ((ctl & MSIX_ENABLE) && !(ctl & MSIX_FMASK)) {
		for (uint16_t v = 0; v < nvec(d); v++) {
			if ((d->pba >> v) & 1 && !(d->msix[v].ctrl & MSIX_CTRL_MASKED)) {
				d->pba &= ~(1ULL << v);
				pending[n++] = v;
			}
		}
	}
	spin_unlock(&d->irq_lock);
	for (unsigned i = 0; i < n; i++)
		irq(d, pending[i]);
}

/* msix_access: the table (dword/qword registers, only the mask bit of Vector Control is
 * writable) and the read-only pending-bit array. */
static void msix_access(struct vdev *d, uint64_t off, unsigned size, bool write, uint64_t *val)
{
	uint64_t tbytes = (uint64_t)nvec(d) * sizeof(struct vdev_msix);
	if (off >= VDEV_OFF_PBA) {
		uint64_t o = off - VDEV_OFF_PBA;
		if (!write && o < 8)
			*val = (d->pba >> (8 * o)) & (size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1);
		return;
	}
	uint64_t o = off - VDEV_OFF_MSIX;
	if (o + size > tbytes)
		return;
	bool unmask = false;
	spin_lock(&d->irq_lock);
	uint8_t *t = (uint8_t *)d->msix;
	if (!write) {
		uint64_t v = 0;
		memcpy(&v, t + o, size);
		*val = v;
	} else {
		for (unsigned i = 0; i < size; i++)
			t[o + i] = (uint8_t)(*val >> (8 * i));
		for (uint16_t v = 0; v < nvec(d); v++) {
			d->msix[v].ctrl &= MSIX_CTRL_MASKED; /* reserved bits read as zero */
			d->msix[v].addr_lo &= ~3u;
		}
		unmask = d->pba != 0; /* an entry may have been unmasked: send what waited */
	}
	spin_unlock(&d->irq_lock);
	if (unmask)
		msix_unmasked(d);
}

/* ---- queue work ---------------------------------------------------------------------------- */

void vdev_queue_done(struct vdev *d, unsigned q)
{
	if (virtq_flush(&d->vq[q])) {
		__atomic_or_fetch(&d->isr, 1, __ATOMIC_RELAXED);
		irq(d, d->qvec[q]);
	}
}

void vdev_fail(struct vdev *d, unsigned q, int err)
{
	d->st.failures++;
	vdev_log(d, "queue %u: %s: device needs reset", q, virtq_strerror(err));
	d->broken = true;
	__atomic_or_fetch(&d->status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_RELAXED);
	__atomic_or_fetch(&d->isr, 2, __ATOMIC_RELAXED);
	irq(d, d->msix_config);
}

void vdev_process(struct vdev *d, unsigned q, vdev_chain_fn fn)
{
	struct virtq *vq = &d->vq[q];
	struct virtq_chain *c = &d->chain[q];
	spin_lock(&d->qlock[q]);
	while (vdev_live(d) && vq->ready && !vdev_stopping(d)) {
		int rc = 0;
		unsigned n = 0;
		while (n < vq->size && (rc = virtq_pop(vq, c)) > 0) {
			virtq_push(vq, c->head, fn(d, q, c));
			n++;
		}
		if (rc < 0) {
			vdev_fail(d, q, rc);
			break;
		}
		if (n == vq->size) {
			vdev_queue_done(d, q); /* a full ring's worth: let the driver see it */
			continue;
		}
		if (!virtq_arm(vq))
			break;
	}
	vdev_queue_done(d, q);
	spin_unlock(&d->qlock[q]);
}

/* notify: the driver wrote queue index qi to the notification area. */
static void notify(struct vdev *d, uint64_t qi)
{
	if (qi >= d->ops->nqueues) {
		d->st.bad_notifies++;
		vdev_log(d, "notify for queue %llu, which does not exist (ignored)",
		         (unsigned long long)qi);
		return;
	}
	d->st.notifies++;
	d->ops->notify(d, (unsigned)qi);
}

void vdev_kick_all(struct vdev *d)
{
	for (unsigned q = 0; q < d->ops->nqueues; q++)
		if (d->vq[q].ready)
			d->ops->notify(d, q);
}

/* ---- common configuration (4.1.4.3) --------------------------------------------------------- */

/* reset: status 0; every queue, feature and vector forgotten (d->lock and all qlocks held). */
static void reset(struct vdev *d)
{
	d->guest_features = 0;
	d->dfselect = d->gfselect = 0;
	d->msix_config = VIRTIO_MSI_NO_VECTOR;
	d->queue_select = 0;
	d->status = 0;
	d->isr = 0;
	d->broken = false;
	for (unsigned q = 0; q < VDEV_MAX_QUEUES; q++) {
		virtq_reset(&d->vq[q], d->ops->qsize);
		d->vq[q].mem = &d->vm->mem;
		d->qvec[q] = VIRTIO_MSI_NO_VECTOR;
	}
	if (d->ops->reset)
		d->ops->reset(d);
}

/* sel: the selected queue, or NULL if queue_select names none. */
static struct virtq *sel(struct vdev *d)
{
	return d->queue_select < d->ops->nqueues ? &d->vq[d->queue_select] : NULL;
}

/* common_image: the structure as the driver would read it now. */
static void common_image(struct vdev *d, uint8_t *b)
{
	memset(b, 0, VIRTIO_CC_SIZE);
	le32_store(b + VIRTIO_CC_DFSELECT, d->dfselect);
	uint64_t f = d->host_features;
	le32_store(b + VIRTIO_CC_DF, d->dfselect == 0   ? (uint32_t)f
	                             : d->dfselect == 1 ? (uint32_t)(f >> 32)
	                                                : 0);
	le32_store(b + VIRTIO_CC_GFSELECT, d->gfselect);
	f = d->guest_features;
	le32_store(b + VIRTIO_CC_GF, d->gfselect == 0   ? (uint32_t)f
	                             : d->gfselect == 1 ? (uint32_t)(f >> 32)
	                                                : 0);
	le16_store(b + VIRTIO_CC_MSIX_CONFIG, d->msix_config);
	le16_store(b + VIRTIO_CC_NUM_QUEUES, d->ops->nqueues);
	b[VIRTIO_CC_STATUS] = READ_ONCE(d->status);
	b[VIRTIO_CC_CFG_GEN] = 0;
	le16_store(b + VIRTIO_CC_Q_SELECT, d->queue_select);
	struct virtq *q = sel(d);
	if (!q)
		return; /* size 0: no such queue */
	le16_store(b + VIRTIO_CC_Q_SIZE, q->size);
	le16_store(b + VIRTIO_CC_Q_MSIX, d->qvec[d->queue_select]);
	le16_store(b + VIRTIO_CC_Q_ENABLE, q->ready);
	le16_store(b + VIRTIO_CC_Q_NOTIFY_OFF, d->queue_select);
	le64_store(b + VIRTIO_CC_Q_DESC, q->desc);
	le64_store(b + VIRTIO_CC_Q_DRIVER, q->avail);
	le64_store(b + VIRTIO_CC_Q_DEVICE, q->used);
}

/* set_status: the driver's status write; returns true if queues should be kicked. */
static bool set_status(struct vdev *d, uint8_t v)
{
	uint8_t old = d->status;
	if (v == 0) {
		reset(d);
		return false;
	}
	uint8_t nv = (uint8_t)(v | (old & VIRTIO_STATUS_NEEDS_RESET));
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t g = d->guest_features;
		if ((g & ~d->host_features) || !(g & (1ULL << VIRTIO_F_VERSION_1))) {
			vdev_log(d, "driver features %#llx refused", (unsigned long long)g);
			nv &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	d->status = nv;
	return (nv & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK);
}

/* queue_enable: validate the selected queue's rings and make it live. */
static void queue_enable(struct vdev *d, struct virtq *q, unsigned qi)
{
	if (q->ready)
		return;
	int rc = virtq_start(q, &d->vm->mem, d->guest_features);
	if (rc)
		vdev_fail(d, qi, rc);
}

/* set_field: one register of the common configuration got value v (d->lock, qlocks held). */
static bool set_field(struct vdev *d, unsigned off, uint64_t v)
{
	struct virtq *q = sel(d);
	bool features_locked = d->status & VIRTIO_STATUS_FEATURES_OK;
	switch (off) {
	case VIRTIO_CC_DFSELECT:
		d->dfselect = (uint32_t)v;
		break;
	case VIRTIO_CC_GFSELECT:
		d->gfselect = (uint32_t)v;
		break;
	case VIRTIO_CC_GF:
		if (features_locked || d->gfselect > 1)
			break;
		if (d->gfselect == 0)
			d->guest_features = (d->guest_features & ~0xffffffffULL) | (uint32_t)v;
		else
			d->guest_features = (d->guest_features & 0xffffffffULL) | (v << 32);
		break;
	case VIRTIO_CC_MSIX_CONFIG:
		d->msix_config = v < nvec(d) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_CC_STATUS:
		return set_status(d, (uint8_t)v);
	case VIRTIO_CC_Q_SELECT:
		d->queue_select = (uint16_t)v;
		break;
	case VIRTIO_CC_Q_SIZE:
		if (!q || q->ready)
			break;
		if (v == 0 || v > d->ops->qsize || (v & (v - 1)))
			vdev_log(d, "queue %u: size %llu refused", d->queue_select,
			         (unsigned long long)v);
		else
			q->size = (uint16_t)v;
		break;
	case VIRTIO_CC_Q_MSIX:
		if (q)
			d->qvec[d->queue_select] = v < nvec(d) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_CC_Q_ENABLE:
		if (q && v == 1)
			queue_enable(d, q, d->queue_select);
		break;
	case VIRTIO_CC_Q_DESC:
	case VIRTIO_CC_Q_DRIVER:
	case VIRTIO_CC_Q_DEVICE:
		if (!q || q->ready)
			break;
		*(off == VIRTIO_CC_Q_DESC     ? &q->desc
		  : off == VIRTIO_CC_Q_DRIVER ? &q->avail
		                              : &q->used) = v;
		break;
	default:
		break; /* read-only fields */
	}
	return false;
}

/* The registers of the common configuration, in offset order. */
static const struct {
	uint8_t off, size;
} g_fields[] = {
    {VIRTIO_CC_DFSELECT, 4},     {VIRTIO_CC_DF, 4},          {VIRTIO_CC_GFSELECT, 4},
    {VIRTIO_CC_GF, 4},           {VIRTIO_CC_MSIX_CONFIG, 2}, {VIRTIO_CC_NUM_QUEUES, 2},
    {VIRTIO_CC_STATUS, 1},       {VIRTIO_CC_CFG_GEN, 1},     {VIRTIO_CC_Q_SELECT, 2},
    {VIRTIO_CC_Q_SIZE, 2},       {VIRTIO_CC_Q_MSIX, 2},      {VIRTIO_CC_Q_ENABLE, 2},
    {VIRTIO_CC_Q_NOTIFY_OFF, 2}, {VIRTIO_CC_Q_DESC, 8},      {VIRTIO_CC_Q_DRIVER, 8},
    {VIRTIO_CC_Q_DEVICE, 8},
};

/* common_access: any width at any offset: reads slice the current image; a write is merged
 * into it and every register it touched is set from the merged bytes. */
static void common_access(struct vdev *d, uint64_t off, unsigned size, bool write, uint64_t *val)
{
	uint8_t img[VIRTIO_CC_SIZE];
	if (off + size > VIRTIO_CC_SIZE)
		return;
	spin_lock(&d->lock);
	if (!write) {
		common_image(d, img);
		uint64_t v = 0;
		memcpy(&v, img + off, size);
		*val = v;
		spin_unlock(&d->lock);
		return;
	}
	lock_queues(d);
	bool kick = false;
	for (unsigned i = 0; i < ARRAY_SIZE(g_fields); i++) {
		unsigned fo = g_fields[i].off, fs = g_fields[i].size;
		if (fo + fs <= off || fo >= off + size)
			continue;
		common_image(d, img); /* fresh: an earlier field (queue_select) may have changed */
		for (unsigned k = 0; k < size; k++)
			img[off + k] = (uint8_t)(*val >> (8 * k));
		uint64_t v = 0;
		memcpy(&v, img + fo, fs);
		kick |= set_field(d, fo, v);
	}
	unlock_queues(d);
	spin_unlock(&d->lock);
	if (kick)
		vdev_kick_all(d); /* buffers the driver queued before DRIVER_OK */
}

/* device_access: the device-specific configuration (read-only for Tern's devices). */
static void device_access(struct vdev *d, uint64_t off, unsigned size, bool write, uint64_t *val)
{
	uint8_t cfg[VDEV_CFG_MAX];
	if (write || off + size > d->ops->cfg_size)
		return;
	memset(cfg, 0, sizeof(cfg));
	spin_lock(&d->lock);
	d->ops->cfg_read(d, cfg);
	spin_unlock(&d->lock);
	uint64_t v = 0;
	memcpy(&v, cfg + off, size);
	*val = v;
}

/* bar_access: route an access inside BAR 0 to its register block. */
static void bar_access(struct vpci_dev *pd, int bar, uint64_t off, unsigned size, bool write,
                       uint64_t *val, struct vcpu *v)
{
	struct vdev *d = pd->priv;
	(void)v;
	if (!write)
		*val = 0;
	if (bar != 0 || size == 0 || size > 8 || off + size > VDEV_BAR_SIZE)
		return;
	if (off < VDEV_OFF_ISR) {
		common_access(d, off - VDEV_OFF_COMMON, size, write, val);
	} else if (off < VDEV_OFF_DEVICE) {
		if (!write && off == VDEV_OFF_ISR)
			*val = __atomic_exchange_n(&d->isr, 0, __ATOMIC_RELAXED); /* read clears */
	} else if (off < VDEV_OFF_NOTIFY) {
		device_access(d, off - VDEV_OFF_DEVICE, size, write, val);
	} else if (off < VDEV_OFF_MSIX) {
		if (write && off < VDEV_OFF_NOTIFY + (uint64_t)VDEV_NOTIFY_MULT * d->ops->nqueues)
			notify(d, *val & 0xffff);
	} else {
		msix_access(d, off, size, write, val);
	}
}

/* ---- PCI configuration hooks ---------------------------------------------------------------- */

/* pcicfg_window: the BAR access the VIRTIO_PCI_CAP_PCI_CFG window describes (4.1.4.9). */
static bool pcicfg_window(struct vdev *d, uint64_t *off, unsigned *len)
{
	*off = le32_load(d->pci.cfg + PCICFG_OFF);
	*len = le32_load(d->pci.cfg + PCICFG_LEN);
	return d->pci.cfg[PCICFG_BAR] == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       IS_ALIGNED(*off, *len) && *off + *len <= VDEV_BAR_SIZE;
}

static bool touches(unsigned off, unsigned size, unsigned first, unsigned n)
{
	return off < first + n && first < off + size;
}

static void cfg_write(struct vpci_dev *pd, unsigned off, unsigned size, uint32_t val)
{
	struct vdev *d = pd->priv;
	(void)val;
	if (touches(off, size, MSIX_CTL_HI, 1))
		msix_unmasked(d); /* enable or function mask changed */
	uint64_t boff;
	unsigned len;
	if (touches(off, size, PCICFG_DATA, 4) && pcicfg_window(d, &boff, &len)) {
		uint64_t v = le32_load(pd->cfg + PCICFG_DATA);
		bar_access(pd, 0, boff, len, true, &v, NULL);
	}
}

static void cfg_read(struct vpci_dev *pd, unsigned off, unsigned size)
{
	struct vdev *d = pd->priv;
	uint64_t boff, v = 0;
	unsigned len;
	if (touches(off, size, PCICFG_DATA, 4) && pcicfg_window(d, &boff, &len)) {
		bar_access(pd, 0, boff, len, false, &v, NULL);
		le32_store(pd->cfg + PCICFG_DATA, (uint32_t)v);
	}
}

static const struct vpci_dev_ops g_pci_ops = {bar_access, cfg_write, cfg_read};

/* vendor_cap: a struct virtio_pci_cap at `at` (4.1.4) for a region of BAR 0. */
static void vendor_cap(struct vdev *d, unsigned at, unsigned next, unsigned len, uint8_t type,
                       uint32_t off, uint32_t length)
{
	uint8_t *c = d->pci.cfg + at;
	c[0] = CAP_ID_VENDOR;
	c[1] = (uint8_t)next;
	c[2] = (uint8_t)len;
	c[3] = type;
	c[4] = 0; /* BAR 0 */
	le32_store(c + 8, off);
	le32_store(c + 12, length);
}

/* build_config: identity, capabilities and write masks of the PCI function. */
static void build_config(struct vdev *d)
{
	const struct vdev_ops *o = d->ops;
	vpci_dev_init(&d->pci, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_MODERN_DEV + o->type),
	              o->class_rev, VIRTIO_PCI_VENDOR, 0x1100);
	uint8_t *c = d->pci.cfg;
	c[CFG_STATUS] |= STATUS_CAP_LIST;
	c[CFG_CAP_PTR] = CAP_MSIX;
	c[CFG_INT_PIN] = 0;
	c[CAP_MSIX] = CAP_ID_MSIX;
	c[CAP_MSIX + 1] = CAP_COMMON;
	le16_store(c + CAP_MSIX + 2, (uint16_t)(nvec(d) - 1));
	le32_store(c + CAP_MSIX + 4, VDEV_OFF_MSIX); /* BIR 0 */
	le32_store(c + CAP_MSIX + 8, VDEV_OFF_PBA);
	d->pci.wmask[MSIX_CTL_HI] = MSIX_ENABLE | MSIX_FMASK;
	vendor_cap(d, CAP_COMMON, CAP_NOTIFY, 16, VIRTIO_PCI_CAP_COMMON_CFG, VDEV_OFF_COMMON,
	           VIRTIO_CC_SIZE);
	vendor_cap(d, CAP_NOTIFY, CAP_ISR, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, VDEV_OFF_NOTIFY,
	           VDEV_NOTIFY_MULT * o->nqueues);
	le32_store(c + CAP_NOTIFY + 16, VDEV_NOTIFY_MULT);
	vendor_cap(d, CAP_ISR, CAP_DEVICE, 16, VIRTIO_PCI_CAP_ISR_CFG, VDEV_OFF_ISR, 4);
	vendor_cap(d, CAP_DEVICE, CAP_PCICFG, 16, VIRTIO_PCI_CAP_DEVICE_CFG, VDEV_OFF_DEVICE,
	           o->cfg_size);
	vendor_cap(d, CAP_PCICFG, 0, 20, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
	memset(d->pci.wmask + PCICFG_BAR, 0xff, 1);
	memset(d->pci.wmask + PCICFG_OFF, 0xff, 12); /* offset, length, data */
	d->pci.bar_size[0] = VDEV_BAR_SIZE;
	d->pci.ops = &g_pci_ops;
	d->pci.priv = d;
}

struct vdev *vdev_create(struct vm *vm, const struct vdev_ops *ops, uint64_t features, void *priv,
                         int index)
{
	ASSERT(ops->nqueues <= VDEV_MAX_QUEUES && ops->qsize <= VIRTQ_MAX_SIZE &&
	       ops->cfg_size <= VDEV_CFG_MAX);
	struct vdev *d = kzalloc(sizeof(*d));
	if (!d)
		return NULL;
	d->vm = vm;
	d->ops = ops;
	d->priv = priv;
	d->index = index;
	d->host_features = features | ALWAYS_FEATURES;
	spin_init(&d->lock, "vdev");
	for (unsigned q = 0; q < VDEV_MAX_QUEUES; q++)
		spin_init(&d->qlock[q], "vdev-queue");
	spin_init(&d->irq_lock, "vdev-irq");
	build_config(d);
	for (unsigned v = 0; v < VDEV_MAX_VECTORS; v++)
		d->msix[v].ctrl = MSIX_CTRL_MASKED; /* masked after reset (6.8.2.9) */
	reset(d);
	return d;
}

bool vdev_plug(struct vdev *d)
{
	return vpci_add(&d->vm->plat.pci, &d->pci);
}

void vdev_destroy(struct vdev *d)
{
	kfree(d);
}

/* ---- state ------------------------------------------------------------------------------------
 */

/* Field ids of a transport record (after VDEV_F_KIND / VDEV_F_INDEX). */
enum {
	TF_TYPE = 3,
	TF_STATUS,
	TF_HOST_FEATURES,
	TF_GUEST_FEATURES,
	TF_DFSELECT,
	TF_GFSELECT,
	TF_MSIX_CONFIG,
	TF_QUEUE_SELECT,
	TF_ISR,
	TF_BROKEN,
	TF_PCI_CFG,
	TF_MSIX_TABLE,
	TF_PBA,
	TF_QUEUE = 32, /* + 16 * q + QF_* */
};
enum {
	QF_SIZE,
	QF_READY,
	QF_DESC,
	QF_AVAIL,
	QF_USED,
	QF_LAST_AVAIL,
	QF_USED_IDX,
	QF_SIGNALLED,
	QF_SIGNALLED_VALID,
	QF_VECTOR,
	QF_PUBLISHED,
	QF_COUNT
};

void vdev_save(struct vdev *d, struct stream_out *s)
{
	spin_lock(&d->lock); /* and the queues: no request is half-done while we look */
	lock_queues(d);
	stream_begin(s, REC_DEVICE, 1);
	stream_u64(s, VDEV_F_KIND, VDEV_KIND_TRANSPORT);
	stream_u64(s, VDEV_F_INDEX, (uint64_t)d->index);
	stream_u64(s, TF_TYPE, d->ops->type);
	stream_u64(s, TF_STATUS, d->status);
	stream_u64(s, TF_HOST_FEATURES, d->host_features);
	stream_u64(s, TF_GUEST_FEATURES, d->guest_features);
	stream_u64(s, TF_DFSELECT, d->dfselect);
	stream_u64(s, TF_GFSELECT, d->gfselect);
	stream_u64(s, TF_MSIX_CONFIG, d->msix_config);
	stream_u64(s, TF_QUEUE_SELECT, d->queue_select);
	stream_u64(s, TF_ISR, d->isr);
	stream_u64(s, TF_BROKEN, d->broken);
	stream_field(s, TF_PCI_CFG, d->pci.cfg, VPCI_CFG_SIZE);
	stream_field(s, TF_MSIX_TABLE, d->msix, (uint16_t)(nvec(d) * sizeof(struct vdev_msix)));
	stream_u64(s, TF_PBA, d->pba);
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		const struct virtq *vq = &d->vq[q];
		uint16_t b = (uint16_t)(TF_QUEUE + 16 * q);
		uint64_t v[QF_COUNT] = {vq->size,     vq->ready,          vq->desc,
		                        vq->avail,    vq->used,           vq->last_avail,
		                        vq->used_idx, vq->signalled_used, vq->signalled_valid,
		                        d->qvec[q],   vq->published};
		for (unsigned k = 0; k < QF_COUNT; k++)
			stream_u64(s, (uint16_t)(b + k), v[k]);
	}
	stream_end_record(s);
	unlock_queues(d);
	spin_unlock(&d->lock);
}

/* load_queue: one queue's saved fields, checked as an enable would check them. */
static const char *load_queue(struct vdev *d, unsigned q, const uint64_t *v)
{
	struct virtq *vq = &d->vq[q];
	virtq_reset(vq, d->ops->qsize);
	vq->mem = &d->vm->mem;
	if (v[QF_SIZE] == 0 || v[QF_SIZE] > d->ops->qsize)
		return "bad virtio queue size in saved state";
	vq->size = (uint16_t)v[QF_SIZE];
	vq->desc = v[QF_DESC];
	vq->avail = v[QF_AVAIL];
	vq->used = v[QF_USED];
	vq->last_avail = (uint16_t)v[QF_LAST_AVAIL];
	vq->used_idx = (uint16_t)v[QF_USED_IDX];
	vq->published = (uint16_t)v[QF_PUBLISHED];
	vq->signalled_used = (uint16_t)v[QF_SIGNALLED];
	vq->signalled_valid = v[QF_SIGNALLED_VALID] != 0;
	d->qvec[q] = v[QF_VECTOR] < nvec(d) ? (uint16_t)v[QF_VECTOR] : VIRTIO_MSI_NO_VECTOR;
	if (v[QF_READY] && virtq_start(vq, &d->vm->mem, d->guest_features))
		return "saved virtio queue outside guest memory";
	if (v[QF_SIZE] & (v[QF_SIZE] - 1))
		return "bad virtio queue size in saved state";
	return NULL;
}

const char *vdev_load(struct vdev *d, const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	uint64_t x, type = ~0ULL, q[VDEV_MAX_QUEUES][QF_COUNT];
	memset(q, 0, sizeof(q));
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++)
		q[i][QF_SIZE] = d->ops->qsize;
	spin_lock(&d->lock);
	lock_queues(d);
	reset(d);
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl)) {
		if (id == TF_PCI_CFG && fl == VPCI_CFG_SIZE) {
			for (int i = 0; i < VPCI_CFG_SIZE; i++)
				d->pci.cfg[i] = (uint8_t)((d->pci.cfg[i] & ~d->pci.wmask[i]) |
				                          (val[i] & d->pci.wmask[i]));
			continue;
		}
		if (id == TF_MSIX_TABLE && fl == nvec(d) * sizeof(struct vdev_msix)) {
			memcpy(d->msix, val, fl);
			for (unsigned v = 0; v < nvec(d); v++)
				d->msix[v].ctrl &= MSIX_CTRL_MASKED;
			continue;
		}
		if (!field_u64(val, fl, &x))
			continue; /* unknown or malformed fields of a newer writer are skipped */
		if (id >= TF_QUEUE && id < TF_QUEUE + 16 * VDEV_MAX_QUEUES &&
		    (id - TF_QUEUE) % 16 < QF_COUNT)
			q[(id - TF_QUEUE) / 16][(id - TF_QUEUE) % 16] = x;
		switch (id) {
		case TF_TYPE:
			type = x;
			break;
		case TF_STATUS:
			d->status = (uint8_t)x;
			break;
		case TF_GUEST_FEATURES:
			d->guest_features = x & d->host_features;
			break;
		case TF_DFSELECT:
			d->dfselect = (uint32_t)x;
			break;
		case TF_GFSELECT:
			d->gfselect = (uint32_t)x;
			break;
		case TF_MSIX_CONFIG:
			d->msix_config = x < nvec(d) ? (uint16_t)x : VIRTIO_MSI_NO_VECTOR;
			break;
		case TF_QUEUE_SELECT:
			d->queue_select = (uint16_t)x;
			break;
		case TF_ISR:
			d->isr = (uint8_t)(x & 3);
			break;
		case TF_BROKEN:
			d->broken = x != 0;
			break;
		case TF_PBA:
			d->pba = x & ((1ULL << nvec(d)) - 1);
			break;
		default:
			break;
		}
	}
	const char *err = it.bad ? "malformed virtio device record" : NULL;
	if (!err && type != d->ops->type)
		err = "saved virtio device differs from the VM's configuration";
	for (unsigned i = 0; !err && i < d->ops->nqueues; i++)
		err = load_queue(d, i, q[i]);
	if (err)
		reset(d);
	unlock_queues(d);
	spin_unlock(&d->lock);
	return err;
}
