/* IOAPIC routing (82093AA datasheet; MADT overrides per ACPI 6.5 5.2.12.5) and 8259 masking. */
#include "kernel/apic.h"
#include "kernel/acpi.h"
#include "kernel/log.h"
#include "kernel/vm.h"
#include "kernel/x86.h"

#define IOREGSEL     0x00
#define IOWIN        0x10
#define REG_VER      0x01
#define REG_REDIR(n) (0x10 + 2 * (n))

#define REDIR_MASKED     (1ULL << 16)
#define REDIR_LEVEL      (1ULL << 15)
#define REDIR_ACTIVE_LOW (1ULL << 13)

struct ioapic {
	volatile uint32_t *mmio;
	uint32_t gsi_base;
	int nredir;
};

static struct ioapic g_ioapic[ACPI_MAX_IOAPICS];
static int g_n;

static uint32_t io_rd(struct ioapic *a, uint32_t reg)
{
	a->mmio[IOREGSEL / 4] = reg;
	return a->mmio[IOWIN / 4];
}

static void io_wr(struct ioapic *a, uint32_t reg, uint32_t v)
{
	a->mmio[IOREGSEL / 4] = reg;
	a->mmio[IOWIN / 4] = v;
}

/* mask_8259: remap the legacy PICs to 0x20-0x2f and mask every line (OCW1 = 0xff). */
static void mask_8259(void)
{
	outb(0x20, 0x11); /* ICW1: init, ICW4 needed */
	outb(0xa0, 0x11);
	outb(0x21, 0x20); /* ICW2: vector offsets */
	outb(0xa1, 0x28);
	outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01); /* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

/* ioapic_init: map each IOAPIC from the MADT and mask all its inputs. */
void ioapic_init(void)
{
	mask_8259();
	for (int i = 0; i < acpi.nioapic && g_n < ACPI_MAX_IOAPICS; i++) {
		struct ioapic *a = &g_ioapic[g_n++];
		a->mmio = ioremap(acpi.ioapic[i].addr, 4096);
		a->gsi_base = acpi.ioapic[i].gsi_base;
		uint32_t ver = io_rd(a, REG_VER);
		if (ver == 0xffffffffu || (ver & 0xff) < 0x10) { /* no 82093AA (v. 1x/2x) */
			klog("ioapic: none answers at %#x", acpi.ioapic[i].addr);
			g_n--;
			continue;
		}
		a->nredir = ((ver >> 16) & 0xff) + 1;
		for (int n = 0; n < a->nredir; n++) {
			io_wr(a, REG_REDIR(n) + 1, 0);
			io_wr(a, REG_REDIR(n), (uint32_t)REDIR_MASKED);
		}
		klog("ioapic: id %u at %#x, GSIs %u-%u", acpi.ioapic[i].id, acpi.ioapic[i].addr,
		     a->gsi_base, a->gsi_base + a->nredir - 1);
	}
}

/* ioapic_route_gsi: program the redirection entry for gsi (physical destination, fixed). */
bool ioapic_route_gsi(uint32_t gsi, int vector, uint32_t apic_id, bool level, bool active_low)
{
	for (int i = 0; i < g_n; i++) {
		struct ioapic *a = &g_ioapic[i];
		if (gsi < a->gsi_base || gsi >= a->gsi_base + (uint32_t)a->nredir)
			continue;
		uint32_t n = gsi - a->gsi_base;
		uint64_t e = (uint64_t)vector | (level ? REDIR_LEVEL : 0) |
		             (active_low ? REDIR_ACTIVE_LOW : 0) | ((uint64_t)apic_id << 56);
		io_wr(a, REG_REDIR(n), (uint32_t)REDIR_MASKED);
		io_wr(a, REG_REDIR(n) + 1, (uint32_t)(e >> 32));
		io_wr(a, REG_REDIR(n), (uint32_t)e);
		return true;
	}
	return false;
}

/* ioapic_route_isa: ISA IRQs are edge/active-high unless the MADT overrides them. */
bool ioapic_route_isa(int irq, int vector, uint32_t apic_id)
{
	uint32_t gsi = (uint32_t)irq;
	bool level = false, low = false;
	for (int i = 0; i < acpi.niso; i++) {
		if (acpi.iso[i].source != irq)
			continue;
		gsi = acpi.iso[i].gsi;
		uint16_t pol = acpi.iso[i].flags & 3, trig = (acpi.iso[i].flags >> 2) & 3;
		low = pol == 3;
		level = trig == 3;
	}
	return ioapic_route_gsi(gsi, vector, apic_id, level, low);
}
