/* Pure parsers for the ACPI tables Tern uses; see acpi.h. Every read is bounds-checked. */
#include "kernel/acpi.h"
#include "kernel/endian.h"
#include "kernel/string.h"

/* rd8/rd16/rd32/rd64: little-endian reads at an offset already checked by the caller. */
static uint8_t rd8(const uint8_t *p, size_t o)
{
	return p[o];
}
static uint16_t rd16(const uint8_t *p, size_t o)
{
	return le16_load(p + o);
}
static uint32_t rd32(const uint8_t *p, size_t o)
{
	return le32_load(p + o);
}
static uint64_t rd64(const uint8_t *p, size_t o)
{
	return le64_load(p + o);
}

/* acpi_checksum_ok: ACPI 6.5 5.2.6: all bytes of the table sum to 0 mod 256. */
bool acpi_checksum_ok(const void *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += ((const uint8_t *)p)[i];
	return sum == 0;
}

/*
 * add_cpu: record a present CPU's APIC id (MADT flags bit 0 Enabled). A CPU with only bit 1
 * (Online Capable) set is not enabled now, only hot-pluggable later (ACPI 6.5 table 5.23).
 */
static void add_cpu(struct acpi_info *info, uint32_t apic_id, uint32_t flags)
{
	if (!(flags & 1))
		return;
	for (int i = 0; i < info->ncpu; i++)
		if (info->cpu_apic_id[i] == apic_id)
			return; /* listed twice (xAPIC and x2APIC entries) */
	if (info->ncpu >= ACPI_MAX_CPUS) {
		info->cpus_skipped++;
		return;
	}
	info->cpu_apic_id[info->ncpu++] = apic_id;
}

/* madt_entry: decode one interrupt-controller structure (ACPI 6.5 5.2.12). */
static void madt_entry(const uint8_t *e, uint8_t type, uint8_t len, struct acpi_info *info)
{
	switch (type) {
	case 0: /* Processor Local APIC */
		if (len >= 8)
			add_cpu(info, rd8(e, 3), rd32(e, 4));
		break;
	case 1: /* I/O APIC */
		if (len >= 12 && info->nioapic < ACPI_MAX_IOAPICS) {
			int n = info->nioapic++;
			info->ioapic[n].id = rd8(e, 2);
			info->ioapic[n].addr = rd32(e, 4);
			info->ioapic[n].gsi_base = rd32(e, 8);
		}
		break;
	case 2: /* Interrupt Source Override */
		if (len >= 10 && info->niso < ACPI_MAX_ISO && rd8(e, 2) == 0) {
			int n = info->niso++;
			info->iso[n].source = rd8(e, 3);
			info->iso[n].gsi = rd32(e, 4);
			info->iso[n].flags = rd16(e, 8);
		}
		break;
	case 5: /* Local APIC Address Override */
		if (len >= 12)
			info->lapic_phys = rd64(e, 4);
		break;
	case 9: /* Processor Local x2APIC */
		if (len >= 16)
			add_cpu(info, rd32(e, 4), rd32(e, 8));
		break;
	default:
		break;
	}
}

/* acpi_parse_madt: header, local APIC address, flags, then the variable-length entries. */
bool acpi_parse_madt(const void *tbl, size_t len, struct acpi_info *info)
{
	const uint8_t *p = tbl;
	if (len < 44 || memcmp(p, "APIC", 4) != 0)
		return false;
	info->lapic_phys = rd32(p, 36);
	info->pcat_compat = rd32(p, 40) & 1;
	for (size_t off = 44; off + 2 <= len;) {
		uint8_t type = rd8(p, off), elen = rd8(p, off + 1);
		if (elen < 2 || off + elen > len)
			return false;
		madt_entry(p + off, type, elen, info);
		off += elen;
	}
	return true;
}

/* acpi_parse_mcfg: the ECAM allocation entries (PCI Firmware spec 3.2, 4.1.2). */
bool acpi_parse_mcfg(const void *tbl, size_t len, struct acpi_info *info)
{
	const uint8_t *p = tbl;
	if (len < 44 || memcmp(p, "MCFG", 4) != 0)
		return false;
	for (size_t off = 44; off + 16 <= len && info->nmcfg < ACPI_MAX_MCFG; off += 16) {
		int n = info->nmcfg;
		info->mcfg[n].base = rd64(p, off);
		info->mcfg[n].segment = rd16(p, off + 8);
		info->mcfg[n].bus_start = rd8(p, off + 10);
		info->mcfg[n].bus_end = rd8(p, off + 11);
		if (info->mcfg[n].bus_end < info->mcfg[n].bus_start || !info->mcfg[n].base)
			continue;
		info->nmcfg++;
	}
	return true;
}

/* gas_io: the I/O port of an extended-address field, if it is a valid I/O GAS. */
static uint32_t gas_io(const uint8_t *p, size_t len, size_t off)
{
	if (off + 12 > len || rd8(p, off) != ACPI_GAS_IO || rd64(p, off + 4) > 0xffff)
		return 0;
	return (uint32_t)rd64(p, off + 4);
}

/* acpi_parse_fadt: fields by offset (ACPI 6.5 table 5.9); later fields only if present. */
bool acpi_parse_fadt(const void *tbl, size_t len, struct acpi_info *info)
{
	const uint8_t *p = tbl;
	if (len < 116 || memcmp(p, "FACP", 4) != 0)
		return false;
	info->have_fadt = true;
	info->dsdt_phys = rd32(p, 40);
	info->sci_irq = rd16(p, 46);
	info->pm1a_cnt = rd32(p, 64); /* PM1a_CNT_BLK */
	info->pm1b_cnt = rd32(p, 68); /* PM1b_CNT_BLK */
	info->pm_tmr = rd32(p, 76);   /* PM_TMR_BLK */
	uint32_t flags = rd32(p, 112);
	if (len >= 129 && (flags & (1u << 10))) { /* RESET_REG_SUP */
		memcpy(&info->reset_reg, p + 116, sizeof(info->reset_reg));
		info->reset_value = rd8(p, 128);
		info->have_reset = info->reset_reg.address != 0;
	}
	if (len >= 148 && rd64(p, 140))
		info->dsdt_phys = rd64(p, 140);
	uint32_t x;
	if ((x = gas_io(p, len, 172)))
		info->pm1a_cnt = x;
	if ((x = gas_io(p, len, 184)))
		info->pm1b_cnt = x;
	if ((x = gas_io(p, len, 208)))
		info->pm_tmr = x;
	if (info->pm_tmr > 0xffff)
		info->pm_tmr = 0;
	return true;
}

/* aml_int: decode a small integer data object (ACPI 6.5 20.2.3); returns bytes used or 0. */
static size_t aml_int(const uint8_t *p, size_t left, uint8_t *v)
{
	if (left < 1)
		return 0;
	switch (p[0]) {
	case 0x00: /* ZeroOp */
	case 0x01: /* OneOp */
		*v = p[0];
		return 1;
	case 0x0a: /* BytePrefix */
		if (left < 2)
			return 0;
		*v = p[1];
		return 2;
	case 0x0b: /* WordPrefix */
		if (left < 3)
			return 0;
		*v = p[1];
		return 3;
	default:
		return 0;
	}
}

/* acpi_find_s5: NameOp "_S5_" PackageOp PkgLength NumElements SLP_TYPa SLP_TYPb ... */
bool acpi_find_s5(const uint8_t *aml, size_t len, uint8_t *typa, uint8_t *typb)
{
	for (size_t i = 1; i + 4 < len; i++) {
		if (memcmp(aml + i, "_S5_", 4) != 0)
			continue;
		if (aml[i - 1] != 0x08 && !(i >= 2 && aml[i - 1] == '\\' && aml[i - 2] == 0x08))
			continue;
		size_t o = i + 4;
		if (o >= len || aml[o] != 0x12) /* PackageOp */
			continue;
		o++;
		if (o >= len)
			return false;
		o += 1 + (aml[o] >> 6); /* PkgLength: lead byte + 0..3 following bytes */
		o++;                    /* NumElements */
		if (o >= len)
			return false;
		size_t n = aml_int(aml + o, len - o, typa);
		if (!n)
			return false;
		o += n;
		if (!aml_int(aml + o, len - o, typb))
			*typb = *typa;
		return true;
	}
	return false;
}
