/* Emulated PCI bus 0 and host bridge; see vpci.h. */
#include "vmm/vpci.h"
#include "kernel/endian.h"
#include "kernel/string.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

#define CFG_VENDOR    0x00
#define CFG_COMMAND   0x04
#define CFG_STATUS    0x06
#define CFG_CLASS     0x08
#define CFG_HEADER    0x0e
#define CFG_BAR0      0x10
#define CFG_SUBSYS    0x2c
#define CFG_CAP_PTR   0x34
#define CFG_INTR_LINE 0x3c
#define CMD_IO        (1u << 0)
#define CMD_MEM       (1u << 1)

void vpci_dev_init(struct vpci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
                   uint16_t subsys_vendor, uint16_t subsys)
{
	memset(d->cfg, 0, sizeof(d->cfg));
	memset(d->wmask, 0, sizeof(d->wmask));
	le16_store(d->cfg + CFG_VENDOR, vendor);
	le16_store(d->cfg + CFG_VENDOR + 2, device);
	le32_store(d->cfg + CFG_CLASS, class_rev);
	le16_store(d->cfg + CFG_SUBSYS, subsys_vendor);
	le16_store(d->cfg + CFG_SUBSYS + 2, subsys);
	d->wmask[CFG_COMMAND] = 0x07;     /* I/O, memory, bus master */
	d->wmask[CFG_COMMAND + 1] = 0x04; /* interrupt disable */
	d->wmask[CFG_INTR_LINE] = 0xff;
	d->wmask[0x0c] = 0xff; /* cache line size */
	d->wmask[0x0d] = 0xff; /* latency timer */
}

void vpci_init(struct vpci *p, struct vm *vm)
{
	memset(p, 0, sizeof(*p));
	spin_init(&p->lock, "vpci");
	p->vm = vm;
	p->next_mmio = GUEST_PCI_MMIO;
	/* host bridge: Red Hat's "QEMU PCIe host bridge" id, class 06/00 */
	vpci_dev_init(&p->host_bridge, 0x1b36, 0x0008, 0x06000000, 0x1af4, 0x1100);
	p->slot[0] = &p->host_bridge;
}

uint64_t vpci_bar_addr(const struct vpci_dev *d, int bar)
{
	uint64_t lo = le32_load(d->cfg + CFG_BAR0 + 4 * bar);
	if (d->bar_io[bar])
		return lo & ~3ULL;
	uint64_t a = lo & ~0xfULL;
	if (((lo >> 1) & 3) == 2 && bar < 5)
		a |= (uint64_t)le32_load(d->cfg + CFG_BAR0 + 4 * (bar + 1)) << 32;
	return a;
}

/* assign_bars: place memory BARs naturally aligned in the PCI window; set write masks. */
static bool assign_bars(struct vpci *p, struct vpci_dev *d)
{
	for (int b = 0; b < 6; b++) {
		uint64_t sz = d->bar_size[b];
		if (!sz)
			continue;
		uint8_t *reg = d->cfg + CFG_BAR0 + 4 * b;
		if (d->bar_io[b])
			return false; /* I/O BARs are not offered by Tern's devices */
		uint64_t a = ALIGN_UP(p->next_mmio, sz);
		if (a + sz - 1 > GUEST_PCI_MMIO_END)
			return false;
		p->next_mmio = a + sz;
		uint64_t mask = ~(sz - 1);
		le32_store(reg, (uint32_t)a | 0x4); /* 64-bit memory BAR, not prefetchable */
		le32_store(reg + 4, (uint32_t)(a >> 32));
		le32_store(d->wmask + CFG_BAR0 + 4 * b, (uint32_t)mask & ~0xfu);
		le32_store(d->wmask + CFG_BAR0 + 4 * b + 4, (uint32_t)(mask >> 32));
		b++; /* the high half occupies the next slot */
	}
	return true;
}

bool vpci_add(struct vpci *p, struct vpci_dev *d)
{
	spin_lock(&p->lock);
	bool ok = false;
	for (int s = 1; s < VPCI_SLOTS && !ok; s++) {
		if (p->slot[s])
			continue;
		if (!assign_bars(p, d))
			break;
		d->slot = (uint8_t)s;
		p->slot[s] = d;
		ok = true;
	}
	spin_unlock(&p->lock);
	return ok;
}

/* cfg_read: bytes [off, off+size) of a function's config space (others read all ones). */
static uint32_t cfg_read(struct vpci *p, unsigned slot, unsigned fn, unsigned off, unsigned size)
{
	if (slot >= VPCI_SLOTS || fn != 0 || !p->slot[slot] || off + size > VPCI_CFG_SIZE)
		return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	struct vpci_dev *d = p->slot[slot];
	if (off >= 0x40 && d->ops && d->ops->cfg_read)
		d->ops->cfg_read(d, off, size);
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

/* cfg_write: masked write; the status register's error bits are write-1-to-clear. */
static void cfg_write(struct vpci *p, unsigned slot, unsigned fn, unsigned off, unsigned size,
                      uint32_t val)
{
	if (slot >= VPCI_SLOTS || fn != 0 || !p->slot[slot] || off + size > VPCI_CFG_SIZE)
		return;
	struct vpci_dev *d = p->slot[slot];
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));
		unsigned o = off + i;
		if (o == CFG_STATUS + 1) {
			d->cfg[o] &= (uint8_t) ~(b & 0xf9);
			continue;
		}
		d->cfg[o] = (uint8_t)((d->cfg[o] & ~d->wmask[o]) | (b & d->wmask[o]));
	}
	if (off >= 0x40 && d->ops && d->ops->cfg_write)
		d->ops->cfg_write(d, off, size, val);
}

/* vpci_pio: 0xCF8 address register, 0xCFC-0xCFF data window (type 1 config mechanism). */
void vpci_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val)
{
	struct vpci *p = dev;
	(void)v;
	spin_lock(&p->lock);
	if (port == 0xcf8 && size == 4) {
		if (write)
			p->cf8 = *val & 0x80fffffc;
		else
			*val = p->cf8;
	} else if (port >= 0xcfc && port <= 0xcff) {
		uint32_t a = p->cf8;
		unsigned bus = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
		unsigned off = (a & 0xfc) + (port - 0xcfc);
		bool enabled = a & 0x80000000u;
		if (!enabled || bus != 0 || (off & (size - 1))) {
			if (!write)
				*val = 0xffffffffu;
		} else if (write) {
			cfg_write(p, slot, fn, off, size, *val);
		} else {
			*val = cfg_read(p, slot, fn, off, size);
		}
	} else if (!write) {
		*val = 0xffffffffu;
	}
	spin_unlock(&p->lock);
}

/* vpci_ecam: memory-mapped configuration for bus 0 (1 MiB: 32 devices x 8 functions x 4K). */
void vpci_ecam(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
	struct vpci *p = dev;
	uint64_t off = gpa - GUEST_ECAM_BASE;
	unsigned slot = (off >> 15) & 0x1f, fn = (off >> 12) & 7, reg = off & 0xfff;
	(void)v;
	if (size > 4 || (reg & (size - 1)) || (off >> 20) != 0) {
		if (!write)
			*val = ~0ULL;
		return;
	}
	spin_lock(&p->lock);
	if (write)
		cfg_write(p, slot, fn, reg, size, (uint32_t)*val);
	else
		*val = cfg_read(p, slot, fn, reg, size);
	spin_unlock(&p->lock);
}

/* vpci_mmio: route an access in the BAR window to the device whose BAR holds it. */
void vpci_mmio(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
	struct vpci *p = dev;
	struct vpci_dev *hit = NULL;
	int bar = -1;
	uint64_t off = 0;
	spin_lock(&p->lock);
	for (int s = 1; s < VPCI_SLOTS && !hit; s++) {
		struct vpci_dev *d = p->slot[s];
		if (!d || !(d->cfg[CFG_COMMAND] & CMD_MEM))
			continue;
		for (int b = 0; b < 6; b++) {
			if (!d->bar_size[b] || d->bar_io[b])
				continue;
			uint64_t a = vpci_bar_addr(d, b);
			if (range_within(gpa, size, a, d->bar_size[b])) {
				hit = d;
				bar = b;
				off = gpa - a;
				break;
			}
		}
	}
	spin_unlock(&p->lock);
	if (hit && hit->ops && hit->ops->bar_access)
		hit->ops->bar_access(hit, bar, off, size, write, val, v);
	else if (!write)
		*val = ~0ULL;
}
