/* Guest ACPI table builder; see acpi_build.h. */
#include "vmm/acpi_build.h"
#include "kernel/string.h"

struct out {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

/* emit: append bytes. */
static void emit(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void u8(struct out *o, uint8_t v)
{
	emit(o, &v, 1);
}
static void u16(struct out *o, uint16_t v)
{
	u8(o, (uint8_t)v);
	u8(o, (uint8_t)(v >> 8));
}
static void u32(struct out *o, uint32_t v)
{
	u16(o, (uint16_t)v);
	u16(o, (uint16_t)(v >> 16));
}
static void u64(struct out *o, uint64_t v)
{
	u32(o, (uint32_t)v);
	u32(o, (uint32_t)(v >> 32));
}

/* align: pad with zeros to a multiple of a. */
static void align(struct out *o, size_t a)
{
	while (o->len % a && !o->overflow)
		u8(o, 0);
}

/* put32_at: patch a little-endian dword already emitted. */
static void put32_at(struct out *o, size_t at, uint32_t v)
{
	if (at + 4 <= o->len)
		for (int i = 0; i < 4; i++)
			o->buf[at + i] = (uint8_t)(v >> (8 * i));
}

/* header: a standard 36-byte SDT header; returns its offset (length/checksum fixed later). */
static size_t header(struct out *o, const char sig[4], uint8_t rev)
{
	size_t at = o->len;
	emit(o, sig, 4);
	u32(o, 0); /* length */
	u8(o, rev);
	u8(o, 0); /* checksum */
	emit(o, "TERN  ", 6);
	emit(o, "TERNVM  ", 8);
	u32(o, 1);
	emit(o, "TERN", 4);
	u32(o, 1);
	return at;
}

/* finish: set the length and checksum of the table starting at at. */
static void finish(struct out *o, size_t at)
{
	if (o->overflow)
		return;
	put32_at(o, at + 4, (uint32_t)(o->len - at));
	uint8_t sum = 0;
	for (size_t i = at; i < o->len; i++)
		sum += o->buf[i];
	o->buf[at + 9] = (uint8_t)(0 - sum);
}

/* gas: a Generic Address Structure for an I/O port. */
static void gas_io(struct out *o, uint16_t port, uint8_t bits)
{
	u8(o, 1); /* system I/O */
	u8(o, bits);
	u8(o, 0);
	u8(o, bits <= 8 ? 1 : bits <= 16 ? 2 : 3); /* access size */
	u64(o, port);
}

/* ---- AML (ACPI 6.5 ch. 20) ------------------------------------------------------------ */

/* pkglen: a PkgLength for a body of n bytes (the encoding counts its own bytes). */
static void pkglen(struct out *o, size_t n)
{
	if (n + 1 < 64) {
		u8(o, (uint8_t)(n + 1));
		return;
	}
	size_t total = n + 2;
	if (total < (1u << 12)) {
		u8(o, (uint8_t)(0x40 | (total & 0xf)));
		u8(o, (uint8_t)(total >> 4));
		return;
	}
	total = n + 3;
	u8(o, (uint8_t)(0x80 | (total & 0xf)));
	u8(o, (uint8_t)(total >> 4));
	u8(o, (uint8_t)(total >> 12));
}

/* aml_int: the shortest integer encoding. */
static void aml_int(struct out *o, uint64_t v)
{
	if (v == 0 || v == 1) {
		u8(o, (uint8_t)v);
	} else if (v <= 0xff) {
		u8(o, 0x0a);
		u8(o, (uint8_t)v);
	} else if (v <= 0xffff) {
		u8(o, 0x0b);
		u16(o, (uint16_t)v);
	} else if (v <= 0xffffffffULL) {
		u8(o, 0x0c);
		u32(o, (uint32_t)v);
	} else {
		u8(o, 0x0e);
		u64(o, v);
	}
}

/* eisaid: EISAID("PNPxxxx") compressed into a DWordConst. */
static void eisaid(struct out *o, const char *id)
{
	uint16_t mfg = (uint16_t)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
	uint32_t prod = 0;
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		prod = (prod << 4) | (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10);
	}
	u8(o, 0x0c);
	u8(o, (uint8_t)(mfg >> 8));
	u8(o, (uint8_t)mfg);
	u8(o, (uint8_t)(prod >> 8));
	u8(o, (uint8_t)prod);
}

/* name: NameOp NameSeg (4 characters, optionally with a root prefix). */
static void name(struct out *o, const char *seg)
{
	u8(o, 0x08);
	emit(o, seg, strlen(seg));
}

/* word_space: a Word Address Space Descriptor (6.4.3.5.3): bus numbers or I/O. */
static void word_space(struct out *o, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	u8(o, 0x88);
	u16(o, 13);
	u8(o, type);
	u8(o, 0x0c); /* producer, positive decode, min and max fixed */
	u8(o, tflags);
	u16(o, 0);
	u16(o, min);
	u16(o, max);
	u16(o, 0);
	u16(o, (uint16_t)(max - min + 1));
}

/* crs: the root bridge's resources: bus 0..end, CF8 ports, I/O and the BAR window. */
static void crs(struct out *o, const struct acpi_build_params *p)
{
	uint8_t tmp[128];
	struct out r = {tmp, sizeof(tmp), 0, false};
	word_space(&r, 2, 0, 0, p->ecam_bus_end);
	u8(&r, 0x47); /* I/O port descriptor: 0xCF8-0xCFF */
	u8(&r, 1);
	u16(&r, 0xcf8);
	u16(&r, 0xcf8);
	u8(&r, 1);
	u8(&r, 8);
	word_space(&r, 1, 3, 0x0000, 0x0cf7);
	word_space(&r, 1, 3, 0x0d00, 0xffff);
	u8(&r, 0x87); /* DWord memory descriptor */
	u16(&r, 23);
	u8(&r, 0);
	u8(&r, 0x0c);
	u8(&r, 0x01); /* read/write, non-cacheable */
	u32(&r, 0);
	u32(&r, (uint32_t)p->pci_mmio_base);
	u32(&r, (uint32_t)p->pci_mmio_end);
	u32(&r, 0);
	u32(&r, (uint32_t)(p->pci_mmio_end - p->pci_mmio_base + 1));
	u8(&r, 0x79); /* end tag */
	u8(&r, 0);
	name(o, "_CRS");
	u8(o, 0x11); /* BufferOp */
	uint8_t sz[8];
	struct out s = {sz, sizeof(sz), 0, false};
	aml_int(&s, r.len);
	pkglen(o, s.len + r.len);
	emit(o, sz, s.len);
	emit(o, tmp, r.len);
}

/* pci0_body: the contents of Device (PCI0). */
static size_t pci0_body(uint8_t *buf, size_t cap, const struct acpi_build_params *p)
{
	struct out o = {buf, cap, 0, false};
	emit(&o, "PCI0", 4);
	name(&o, "_HID");
	eisaid(&o, "PNP0A08");
	name(&o, "_CID");
	eisaid(&o, "PNP0A03");
	name(&o, "_UID");
	aml_int(&o, 0);
	name(&o, "_SEG");
	aml_int(&o, 0);
	name(&o, "_BBN");
	aml_int(&o, 0);
	crs(&o, p);
	return o.overflow ? 0 : o.len;
}

/* dsdt: Scope (\_SB) { Device (PCI0) {...} }  Name (\_S5, Package {typ, typ, 0, 0}). */
static void dsdt(struct out *o, const struct acpi_build_params *p)
{
	uint8_t dev[256];
	size_t dl = pci0_body(dev, sizeof(dev), p);
	uint8_t scope[320];
	struct out s = {scope, sizeof(scope), 0, false};
	emit(&s, "\\_SB_", 5);
	u8(&s, 0x5b); /* DeviceOp */
	u8(&s, 0x82);
	pkglen(&s, dl);
	emit(&s, dev, dl);
	size_t at = header(o, "DSDT", 2);
	u8(o, 0x10); /* ScopeOp */
	pkglen(o, s.len);
	emit(o, scope, s.len);
	uint8_t pkg[16]; /* NumElements, then the integers (1 or 2 bytes each) */
	struct out k = {pkg, sizeof(pkg), 0, false};
	u8(&k, 4);
	aml_int(&k, p->s5_typ);
	aml_int(&k, p->s5_typ);
	aml_int(&k, 0);
	aml_int(&k, 0);
	name(o, "\\_S5_");
	u8(o, 0x12); /* PackageOp */
	pkglen(o, k.len);
	emit(o, pkg, k.len);
	if (!dl || s.overflow)
		o->overflow = true;
	finish(o, at);
}

/* fadt: ACPI 6.0 FADT, 276 bytes (table 5.9). */
static void fadt(struct out *o, const struct acpi_build_params *p, uint64_t facs, uint64_t dsdt_gpa)
{
	size_t at = header(o, "FACP", 6);
	u32(o, facs >> 32 ? 0 : (uint32_t)facs); /* 0 when only X_FIRMWARE_CTRL can reach it */
	u32(o, dsdt_gpa >> 32 ? 0 : (uint32_t)dsdt_gpa);
	u8(o, 0); /* reserved */
	u8(o, 0); /* preferred PM profile: unspecified */
	u16(o, p->sci_irq);
	u32(o, 0); /* SMI_CMD: none, ACPI is always enabled */
	u8(o, 0);  /* ACPI_ENABLE */
	u8(o, 0);  /* ACPI_DISABLE */
	u8(o, 0);  /* S4BIOS_REQ */
	u8(o, 0);  /* PSTATE_CNT */
	u32(o, p->pm1a_evt);
	u32(o, 0);
	u32(o, p->pm1a_cnt);
	u32(o, 0);
	u32(o, 0); /* PM2_CNT */
	u32(o, p->pm_tmr);
	u32(o, 0);       /* GPE0 */
	u32(o, 0);       /* GPE1 */
	u8(o, 4);        /* PM1_EVT_LEN */
	u8(o, 2);        /* PM1_CNT_LEN */
	u8(o, 0);        /* PM2_CNT_LEN */
	u8(o, 4);        /* PM_TMR_LEN */
	u8(o, 0);        /* GPE0_BLK_LEN */
	u8(o, 0);        /* GPE1_BLK_LEN */
	u8(o, 0);        /* GPE1_BASE */
	u8(o, 0);        /* CST_CNT */
	u16(o, 0xffff);  /* P_LVL2_LAT: C2 not supported */
	u16(o, 0xffff);  /* P_LVL3_LAT */
	u16(o, 0);       /* FLUSH_SIZE */
	u16(o, 0);       /* FLUSH_STRIDE */
	u8(o, 0);        /* DUTY_OFFSET */
	u8(o, 0);        /* DUTY_WIDTH */
	u8(o, 0);        /* DAY_ALRM */
	u8(o, 0);        /* MON_ALRM */
	u8(o, 0x32);     /* CENTURY register in CMOS */
	u16(o, 1u << 2); /* IAPC_BOOT_ARCH: no VGA; no 8042 (bit 1 clear) */
	u8(o, 0);
	/* flags: WBINVD, PROC_C1, PWR_BUTTON + SLP_BUTTON absent, RESET_REG_SUP */
	u32(o, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10));
	u8(o, 1); /* RESET_REG: I/O */
	u8(o, 8);
	u8(o, 0);
	u8(o, 1);
	u64(o, p->reset_port);
	u8(o, p->reset_value);
	u16(o, 0); /* ARM_BOOT_ARCH */
	u8(o, 0);  /* FADT minor version */
	u64(o, facs);
	u64(o, dsdt_gpa);
	gas_io(o, p->pm1a_evt, 32);
	gas_io(o, 0, 0);
	gas_io(o, p->pm1a_cnt, 16);
	gas_io(o, 0, 0);
	gas_io(o, 0, 0); /* PM2_CNT */
	gas_io(o, p->pm_tmr, 32);
	gas_io(o, 0, 0);        /* GPE0 */
	gas_io(o, 0, 0);        /* GPE1 */
	gas_io(o, 0, 0);        /* SLEEP_CONTROL */
	gas_io(o, 0, 0);        /* SLEEP_STATUS */
	emit(o, "TernTern", 8); /* hypervisor vendor identity */
	finish(o, at);
}

/* madt: local APICs, the IOAPIC, IRQ0->GSI2 and SCI overrides, LINT1 as NMI (5.2.12). */
static void madt(struct out *o, const struct acpi_build_params *p)
{
	size_t at = header(o, "APIC", 5);
	u32(o, (uint32_t)p->lapic_addr);
	u32(o, 1); /* PCAT_COMPAT: dual 8259s present */
	for (int i = 0; i < p->ncpus; i++) {
		u8(o, 0);
		u8(o, 8);
		u8(o, (uint8_t)i); /* ACPI processor UID */
		u8(o, (uint8_t)i); /* APIC id */
		u32(o, 1);         /* enabled */
	}
	u8(o, 1);
	u8(o, 12);
	u8(o, (uint8_t)p->ioapic_id);
	u8(o, 0);
	u32(o, (uint32_t)p->ioapic_addr);
	u32(o, 0); /* GSI base */
	u8(o, 2);  /* ISA IRQ 0 -> GSI 2, conforming */
	u8(o, 10);
	u8(o, 0);
	u8(o, 0);
	u32(o, 2);
	u16(o, 0);
	u8(o, 2); /* SCI: level-triggered, active high */
	u8(o, 10);
	u8(o, 0);
	u8(o, (uint8_t)p->sci_irq);
	u32(o, p->sci_irq);
	u16(o, 0x000d);
	u8(o, 4); /* local APIC NMI: all processors, LINT1 */
	u8(o, 6);
	u8(o, 0xff);
	u16(o, 0);
	u8(o, 1);
	finish(o, at);
}

/* mcfg: one ECAM window for segment 0 (PCI Firmware 3.2 4.1.2). */
static void mcfg(struct out *o, const struct acpi_build_params *p)
{
	size_t at = header(o, "MCFG", 1);
	u64(o, 0);
	u64(o, p->ecam_base);
	u16(o, 0);
	u8(o, 0);
	u8(o, p->ecam_bus_end);
	u32(o, 0);
	finish(o, at);
}

size_t acpi_build(uint8_t *buf, size_t cap, uint64_t base, const struct acpi_build_params *p)
{
	struct out o = {buf, cap, 0, false};
	memset(buf, 0, cap);
	/* RSDP (5.2.5), patched with the XSDT address at the end */
	emit(&o, "RSD PTR ", 8);
	u8(&o, 0);
	emit(&o, "TERN  ", 6);
	u8(&o, 2);
	u32(&o, 0); /* RSDT: none */
	u32(&o, 36);
	u64(&o, 0); /* XSDT */
	u8(&o, 0);
	u8(&o, 0);
	u16(&o, 0);
	align(&o, 64);
	size_t facs = o.len; /* FACS (5.2.10): 64 bytes, 64-byte aligned, no checksum */
	emit(&o, "FACS", 4);
	u32(&o, 64);
	align(&o, 64); /* the rest of the FACS: zero (no waking vector, no global lock) */
	size_t dsdt_at = o.len;
	dsdt(&o, p);
	align(&o, 16);
	size_t fadt_at = o.len;
	fadt(&o, p, base + facs, base + dsdt_at);
	align(&o, 16);
	size_t madt_at = o.len;
	madt(&o, p);
	align(&o, 16);
	size_t mcfg_at = o.len;
	mcfg(&o, p);
	align(&o, 16);
	size_t xsdt_at = header(&o, "XSDT", 1);
	u64(&o, base + fadt_at);
	u64(&o, base + madt_at);
	u64(&o, base + mcfg_at);
	finish(&o, xsdt_at);
	if (o.overflow)
		return 0;
	uint64_t x = base + xsdt_at;
	memcpy(buf + 24, &x, 8);
	uint8_t sum = 0;
	for (int i = 0; i < 20; i++)
		sum += buf[i];
	buf[8] = (uint8_t)(0 - sum);
	sum = 0;
	for (int i = 0; i < 36; i++)
		sum += buf[i];
	buf[32] = (uint8_t)(0 - sum);
	return o.len;
}
