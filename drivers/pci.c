/* PCI configuration access and bus enumeration; see pci.h. */
#include "drivers/pci.h"
#include "kernel/acpi.h"
#include "kernel/log.h"
#include "kernel/shell.h"
#include "kernel/spinlock.h"
#include "kernel/vm.h"
#include "kernel/x86.h"

#define PCI_VENDOR      0x00
#define PCI_COMMAND     0x04
#define PCI_CLASS_REV   0x08
#define PCI_HEADER      0x0e
#define PCI_BAR0        0x10
#define PCI_CAP_PTR     0x34
#define PCI_INTERRUPT   0x3c
#define PCI_STATUS_CAPS (1u << 4)
#define CMD_IO          (1u << 0)
#define CMD_MEM         (1u << 1)
#define CMD_MASTER      (1u << 2)

static struct pci_dev g_devs[PCI_MAX_DEVICES];
static int g_ndev;
static volatile uint8_t *g_ecam[ACPI_MAX_MCFG];
static struct spinlock g_cf8_lock = SPINLOCK_INIT("pci-cf8");

/* ecam_addr: the mapped config byte (seg, bus, dev, fn, off), or NULL if not ECAM-covered. */
static volatile uint8_t *ecam_addr(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	for (int i = 0; i < acpi.nmcfg; i++) {
		if (!g_ecam[i] || acpi.mcfg[i].segment != seg || bus < acpi.mcfg[i].bus_start ||
		    bus > acpi.mcfg[i].bus_end)
			continue;
		uint64_t o = ((uint64_t)(bus - acpi.mcfg[i].bus_start) << 20) |
		             ((uint64_t)dev << 15) | ((uint64_t)fn << 12) | (off & 0xfff);
		return g_ecam[i] + o;
	}
	return NULL;
}

/* cfg_read: 32-bit config read at an aligned offset. */
static uint32_t cfg_read(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	volatile uint8_t *a = ecam_addr(seg, bus, dev, fn, off & ~3);
	if (a)
		return *(volatile uint32_t *)a;
	if (seg != 0 || off >= 256)
		return 0xffffffff;
	spin_lock(&g_cf8_lock);
	outl(0xcf8, 0x80000000u | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xfc));
	uint32_t v = inl(0xcfc);
	spin_unlock(&g_cf8_lock);
	return v;
}

/* cfg_write: 32-bit config write at an aligned offset. */
static void cfg_write(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
	volatile uint8_t *a = ecam_addr(seg, bus, dev, fn, off & ~3);
	if (a) {
		*(volatile uint32_t *)a = v;
		return;
	}
	if (seg != 0 || off >= 256)
		return;
	spin_lock(&g_cf8_lock);
	outl(0xcf8, 0x80000000u | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xfc));
	outl(0xcfc, v);
	spin_unlock(&g_cf8_lock);
}

uint32_t pci_read32(const struct pci_dev *d, uint16_t off)
{
	return cfg_read(d->segment, d->bus, d->dev, d->fn, off);
}

uint16_t pci_read16(const struct pci_dev *d, uint16_t off)
{
	return (uint16_t)(pci_read32(d, off & ~3) >> ((off & 2) * 8));
}

uint8_t pci_read8(const struct pci_dev *d, uint16_t off)
{
	return (uint8_t)(pci_read32(d, off & ~3) >> ((off & 3) * 8));
}

void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v)
{
	cfg_write(d->segment, d->bus, d->dev, d->fn, off, v);
}

/* pci_write16: read-modify-write of the containing dword. */
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v)
{
	uint32_t old = pci_read32(d, off & ~3);
	unsigned sh = (off & 2) * 8;
	pci_write32(d, off & ~3, (old & ~(0xffffu << sh)) | ((uint32_t)v << sh));
}

/* pci_write8: a real byte access (ECAM byte store, or port 0xCFC + off % 4). */
void pci_write8(const struct pci_dev *d, uint16_t off, uint8_t v)
{
	volatile uint8_t *a = ecam_addr(d->segment, d->bus, d->dev, d->fn, off);
	if (a) {
		*a = v;
		return;
	}
	if (d->segment != 0 || off >= 256)
		return;
	spin_lock(&g_cf8_lock);
	outl(0xcf8, 0x80000000u | (d->bus << 16) | (d->dev << 11) | (d->fn << 8) | (off & 0xfc));
	outb(0xcfc + (off & 3), v);
	spin_unlock(&g_cf8_lock);
}

void pci_enable(const struct pci_dev *d)
{
	pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | CMD_IO | CMD_MEM | CMD_MASTER);
}

/* pci_find_cap: walk the capability list (bounded against loops). */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t start)
{
	if (!(pci_read16(d, 0x06) & PCI_STATUS_CAPS))
		return 0;
	uint8_t p = start ? pci_read8(d, start + 1) : pci_read8(d, PCI_CAP_PTR);
	for (int n = 0; n < 48 && p >= 0x40; n++) {
		p &= 0xfc;
		if (pci_read8(d, p) == id)
			return p;
		p = pci_read8(d, p + 1);
	}
	return 0;
}

/* size_bars: decode and size the six BARs of a type-0 header (decoding off meanwhile). */
static void size_bars(struct pci_dev *d)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd & ~(CMD_IO | CMD_MEM));
	for (int i = 0; i < 6; i++) {
		uint16_t off = PCI_BAR0 + 4 * i;
		uint32_t lo = pci_read32(d, off);
		pci_write32(d, off, 0xffffffff);
		uint32_t mask = pci_read32(d, off);
		pci_write32(d, off, lo);
		if (lo & 1) { /* I/O BAR */
			d->bar_io[i] = true;
			d->bar[i] = lo & ~3u;
			d->bar_size[i] = mask ? (uint16_t)(~(mask & ~3u) + 1) : 0;
			continue;
		}
		uint64_t base = lo & ~0xfULL, m = mask & ~0xfULL;
		if (((lo >> 1) & 3) == 2 &&
		    i < 5) { /* 64-bit BAR: the next slot is the high half */
			uint32_t hi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, 0xffffffff);
			uint32_t mhi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, hi);
			base |= (uint64_t)hi << 32;
			m |= (uint64_t)mhi << 32;
			d->bar[i] = base;
			d->bar_size[i] = m ? ~m + 1 : 0;
			i++;
			continue;
		}
		d->bar[i] = base;
		d->bar_size[i] = m ? (uint32_t)(~(uint32_t)m + 1) : 0;
	}
	pci_write16(d, PCI_COMMAND, cmd);
}

/* probe: record one function if present. */
static bool probe(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	uint32_t id = cfg_read(seg, bus, dev, fn, PCI_VENDOR);
	if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
		return false;
	if (g_ndev >= PCI_MAX_DEVICES)
		return true;
	struct pci_dev *d = &g_devs[g_ndev++];
	d->segment = seg;
	d->bus = bus;
	d->dev = dev;
	d->fn = fn;
	d->vendor = id & 0xffff;
	d->device = id >> 16;
	uint32_t cr = cfg_read(seg, bus, dev, fn, PCI_CLASS_REV);
	d->revision = cr & 0xff;
	d->prog_if = (cr >> 8) & 0xff;
	d->subclass = (cr >> 16) & 0xff;
	d->class_code = cr >> 24;
	d->header_type = pci_read8(d, PCI_HEADER);
	uint16_t intr = pci_read16(d, PCI_INTERRUPT);
	d->irq_line = intr & 0xff;
	d->irq_pin = intr >> 8;
	if ((d->header_type & 0x7f) == 0)
		size_bars(d);
	return true;
}

/* scan_bus: every device and function on one bus. */
static void scan_bus(uint16_t seg, uint8_t bus)
{
	for (uint8_t dev = 0; dev < 32; dev++) {
		if (!probe(seg, bus, dev, 0))
			continue;
		uint8_t ht = (cfg_read(seg, bus, dev, 0, PCI_HEADER & ~3) >> 16) & 0xff;
		if (ht & 0x80)
			for (uint8_t fn = 1; fn < 8; fn++)
				probe(seg, bus, dev, fn);
	}
}

/* pci_init: map ECAM windows, then scan every bus they (or port I/O) cover. */
void pci_init(void)
{
	for (int i = 0; i < acpi.nmcfg; i++) {
		uint64_t buses = acpi.mcfg[i].bus_end - acpi.mcfg[i].bus_start + 1;
		g_ecam[i] = ioremap(acpi.mcfg[i].base, buses << 20);
	}
	if (acpi.nmcfg) {
		for (int i = 0; i < acpi.nmcfg; i++)
			for (unsigned b = acpi.mcfg[i].bus_start; b <= acpi.mcfg[i].bus_end; b++)
				scan_bus(acpi.mcfg[i].segment, (uint8_t)b);
	} else {
		for (unsigned b = 0; b < 256; b++)
			scan_bus(0, (uint8_t)b);
	}
	klog("pci: %d device(s) via %s", g_ndev, acpi.nmcfg ? "ECAM" : "ports 0xcf8/0xcfc");
}

int pci_count(void)
{
	return g_ndev;
}

struct pci_dev *pci_get(int i)
{
	return i >= 0 && i < g_ndev ? &g_devs[i] : NULL;
}

struct pci_dev *pci_find(uint16_t vendor, uint16_t device, int n)
{
	for (int i = 0; i < g_ndev; i++)
		if (g_devs[i].vendor == vendor && (device == 0xffff || g_devs[i].device == device))
			if (n-- == 0)
				return &g_devs[i];
	return NULL;
}

/* pci_class_name: names for the classes a hypervisor host commonly has. */
const char *pci_class_name(uint8_t cls, uint8_t sub)
{
	switch (cls) {
	case 0x01:
		return sub == 0x06   ? "SATA controller"
		       : sub == 0x08 ? "NVMe controller"
		       : sub == 0x01 ? "IDE controller"
		                     : "storage controller";
	case 0x02:
		return "network controller";
	case 0x03:
		return "display controller";
	case 0x04:
		return "multimedia device";
	case 0x05:
		return "memory controller";
	case 0x06:
		return sub == 0x00   ? "host bridge"
		       : sub == 0x01 ? "ISA bridge"
		       : sub == 0x04 ? "PCI bridge"
		                     : "bridge";
	case 0x07:
		return "communication controller";
	case 0x08:
		return "system peripheral";
	case 0x0c:
		return sub == 0x03   ? "USB controller"
		       : sub == 0x05 ? "SMBus controller"
		                     : "serial bus controller";
	default:
		return "device";
	}
}

/* pci_bar_map: ioremap of a memory BAR (mapped once per BAR). */
volatile uint8_t *pci_bar_map(struct pci_dev *d, int bar)
{
	if (bar < 0 || bar > 5 || d->bar_io[bar] || !d->bar_size[bar] || !d->bar[bar])
		return NULL;
	return ioremap(d->bar[bar], d->bar_size[bar]);
}

#define PCI_CAP_MSIX      0x11
#define MSIX_CTRL_ENABLE  (1u << 15)
#define MSIX_CTRL_MASKALL (1u << 14)

/* pci_msix_enable: fill the table (PCI 3.0 6.8.2: address 0xFEE000000 | dest << 12, data =
 * vector, fixed delivery, edge), unmask the entries, then enable MSI-X. */
bool pci_msix_enable(struct pci_dev *d, int n, const int *vectors, uint32_t apic_id)
{
	uint8_t cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
	if (!cap)
		return false;
	uint16_t ctrl = pci_read16(d, cap + 2);
	int size = (ctrl & 0x7ff) + 1;
	uint32_t tbl = pci_read32(d, cap + 4);
	int bir = tbl & 7;
	if (n > size || bir > 5 || !d->bar_size[bir] || d->bar_io[bir] ||
	    (tbl & ~7u) + (uint64_t)size * 16 > d->bar_size[bir])
		return false;
	volatile uint32_t *t = ioremap(d->bar[bir] + (tbl & ~7u), (uint64_t)size * 16);
	pci_write16(d, cap + 2, ctrl | MSIX_CTRL_MASKALL);
	for (int i = 0; i < n; i++) {
		t[i * 4 + 0] = 0xfee00000u | (apic_id << 12);
		t[i * 4 + 1] = 0;
		t[i * 4 + 2] = (uint32_t)vectors[i];
		t[i * 4 + 3] = 0; /* unmasked */
	}
	pci_write16(d, cap + 2, (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL);
	/* INTx off: interrupt disable bit in the command register */
	pci_write16(d, 0x04, pci_read16(d, 0x04) | (1u << 10));
	return true;
}

/* cmd_pci: the device table. */
static int cmd_pci(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("pci");
	kprintf("%-13s %-9s %-6s %s\n", "ADDRESS", "ID", "CLASS", "DESCRIPTION");
	for (int i = 0; i < g_ndev; i++) {
		struct pci_dev *d = &g_devs[i];
		kprintf("%04x:%02x:%02x.%x  %04x:%04x %02x%02x   %s\n", d->segment, d->bus, d->dev,
		        d->fn, d->vendor, d->device, d->class_code, d->subclass,
		        pci_class_name(d->class_code, d->subclass));
	}
	kprintf("%d device(s)\n", g_ndev);
	return 0;
}
SHELL_COMMAND(pci, "pci", "pci", "list PCI devices", cmd_pci);
