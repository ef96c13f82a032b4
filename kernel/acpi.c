/* Finding the firmware's ACPI tables and acting on them (power-off, reset). */
#include "kernel/acpi.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "kernel/time.h"

struct acpi_info acpi;
static const uint8_t *g_root; /* XSDT or RSDT */
static size_t g_entry_size;   /* 8 for XSDT, 4 for RSDT */
static uint32_t g_nentries;

/* table_at: a mapped table header, or NULL if its checksum fails. */
static const struct acpi_sdt *table_at(uint64_t pa)
{
	if (!pa)
		return NULL;
	const struct acpi_sdt *h = P2V(pa);
	if (h->length < sizeof(*h) || h->length > (64u << 20))
		return NULL;
	if (!acpi_checksum_ok(h, h->length)) {
		klog("acpi: table %.4s at %#llx has a bad checksum, ignored", h->sig,
		     (unsigned long long)pa);
		return NULL;
	}
	return h;
}

/* acpi_find_table: n-th table with signature sig listed in the XSDT/RSDT. */
const struct acpi_sdt *acpi_find_table(const char sig[4], int n)
{
	for (uint32_t i = 0; i < g_nentries; i++) {
		const uint8_t *e = g_root + sizeof(struct acpi_sdt) + i * g_entry_size;
		uint64_t pa = 0;
		memcpy(&pa, e, g_entry_size);
		const struct acpi_sdt *h = P2V(pa);
		if (!pa || memcmp(h->sig, sig, 4) != 0)
			continue;
		if (n-- == 0)
			return table_at(pa);
	}
	return NULL;
}

/* find_root: validate the RSDP and pick the XSDT (ACPI 2.0+) or the RSDT. */
static bool find_root(uint64_t rsdp_phys)
{
	const uint8_t *r = P2V(rsdp_phys);
	if (memcmp(r, "RSD PTR ", 8) != 0 || !acpi_checksum_ok(r, 20)) {
		klog("acpi: bad RSDP at %#llx", (unsigned long long)rsdp_phys);
		return false;
	}
	memcpy(acpi.oem_id, r + 9, 6);
	uint64_t xsdt = 0;
	uint32_t rsdt = 0, len = 0;
	memcpy(&rsdt, r + 16, 4);
	if (r[15] >= 2) {
		memcpy(&len, r + 20, 4);
		if (len >= 36 && acpi_checksum_ok(r, len))
			memcpy(&xsdt, r + 24, 8);
	}
	const struct acpi_sdt *root = table_at(xsdt ? xsdt : rsdt);
	if (!root)
		return false;
	g_root = (const uint8_t *)root;
	g_entry_size = xsdt ? 8 : 4;
	g_nentries = (root->length - sizeof(*root)) / g_entry_size;
	return true;
}

/* acpi_init: parse MADT, MCFG, FADT and the DSDT's \_S5. */
void acpi_init(uint64_t rsdp_phys)
{
	if (!rsdp_phys || !find_root(rsdp_phys)) {
		/* PC defaults (82093AA at its reset address; OVMF under Bochs has no tables):
		 * ioapic_init checks that one really answers there. */
		acpi.nioapic = 1;
		acpi.ioapic[0].addr = 0xfec00000;
		acpi.pcat_compat = true;
		klog("acpi: no usable tables; running on one CPU without ECAM, IOAPIC assumed "
		     "at 0xfec00000");
		return;
	}
	const struct acpi_sdt *t;
	if ((t = acpi_find_table("APIC", 0)) && !acpi_parse_madt(t, t->length, &acpi))
		klog("acpi: MADT malformed, partially used");
	if ((t = acpi_find_table("MCFG", 0)))
		acpi_parse_mcfg(t, t->length, &acpi);
	if ((t = acpi_find_table("FACP", 0)) && acpi_parse_fadt(t, t->length, &acpi)) {
		const struct acpi_sdt *d = table_at(acpi.dsdt_phys);
		if (d)
			acpi.have_s5 =
			    acpi_find_s5((const uint8_t *)d + sizeof(*d), d->length - sizeof(*d),
			                 &acpi.slp_typa, &acpi.slp_typb);
	}
	klog("acpi: %s, %d CPU(s), %d IOAPIC(s), %d override(s), ECAM %s, PM timer %#x",
	     acpi.oem_id, acpi.ncpu, acpi.nioapic, acpi.niso, acpi.nmcfg ? "yes" : "no",
	     acpi.pm_tmr);
	if (acpi.cpus_skipped)
		klog("acpi: %d CPU(s) beyond the limit of %d not used", acpi.cpus_skipped,
		     ACPI_MAX_CPUS);
}

uint16_t acpi_pm_timer_port(void)
{
	return (uint16_t)acpi.pm_tmr;
}

/* acpi_poweroff: enter S5 by writing SLP_TYP | SLP_EN to PM1x_CNT (ACPI 6.5 4.8.3.2.1). */
void acpi_poweroff(void)
{
	if (!acpi.have_s5 || !acpi.pm1a_cnt)
		return;
	outw((uint16_t)acpi.pm1a_cnt, (uint16_t)((acpi.slp_typa << 10) | (1 << 13)));
	if (acpi.pm1b_cnt)
		outw((uint16_t)acpi.pm1b_cnt, (uint16_t)((acpi.slp_typb << 10) | (1 << 13)));
	udelay(100000);
}

/* acpi_reset: the FADT reset register, then the 0xCF9 and keyboard-controller resets. */
void acpi_reset(void)
{
	if (acpi.have_reset) {
		if (acpi.reset_reg.space == ACPI_GAS_IO && acpi.reset_reg.address <= 0xffff)
			outb((uint16_t)acpi.reset_reg.address, acpi.reset_value);
		else if (acpi.reset_reg.space == ACPI_GAS_MEM)
			*(volatile uint8_t *)P2V(acpi.reset_reg.address) = acpi.reset_value;
		udelay(100000);
	}
	outb(0xcf9, 0x02);
	udelay(10);
	outb(0xcf9, 0x06); /* full reset via the reset control register */
	udelay(100000);
	outb(0x64, 0xfe); /* 8042 pulse reset line */
	udelay(100000);
}
