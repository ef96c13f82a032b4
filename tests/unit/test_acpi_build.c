/*
 * Unit tests for vmm/acpi_build.c (the guest's ACPI tables). Each build is parsed back with the
 * host's own parsers (kernel/acpi_tables.c) and checked field by field: RSDP and XSDT
 * pointers, every checksum, MADT CPUs/IOAPIC/overrides/NMI, MCFG, the FADT ports, the reset
 * register and the X_ fields, the FACS, and the DSDT's AML walked opcode by opcode (every
 * PkgLength must end exactly where its object ends, the _CRS resource descriptors must parse).
 * Where iasl (acpica-tools) is installed the DSDT is also disassembled by it as an independent
 * check. Every capacity smaller than the tables must return 0 without writing past the cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kernel/acpi.h"
#include "vmm/acpi_build.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}
static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* The three parameter sets: Tern's platform with 1 CPU, an odd 2-CPU one, and 16 CPUs. */
static const struct acpi_build_params p1 = {
    .ncpus = 1,
    .ioapic_id = 1,
    .ioapic_addr = 0xfec00000,
    .lapic_addr = 0xfee00000,
    .ecam_base = 0xb0000000,
    .ecam_bus_end = 0,
    .pci_mmio_base = 0xc0000000,
    .pci_mmio_end = 0xfebfffff,
    .pm1a_evt = 0x600,
    .pm1a_cnt = 0x604,
    .pm_tmr = 0x608,
    .reset_port = 0xcf9,
    .reset_value = 0x06,
    .sci_irq = 9,
    .s5_typ = 5,
};
static const struct acpi_build_params p2 = {
    .ncpus = 2,
    .ioapic_id = 9,
    .ioapic_addr = 0xfec01000,
    .lapic_addr = 0xfee00000,
    .ecam_base = 0xe0000000,
    .ecam_bus_end = 63,
    .pci_mmio_base = 0x80000000,
    .pci_mmio_end = 0xdfffffff,
    .pm1a_evt = 0xb000,
    .pm1a_cnt = 0xb004,
    .pm_tmr = 0xb008,
    .reset_port = 0x64,
    .reset_value = 0xfe,
    .sci_irq = 11,
    .s5_typ = 0, /* ZeroOp: a one-byte integer inside the \_S5 package */
};
static const struct acpi_build_params p16 = {
    .ncpus = 16,
    .ioapic_id = 16,
    .ioapic_addr = 0xfec00000,
    .lapic_addr = 0xfee00000,
    .ecam_base = 0xb0000000,
    .ecam_bus_end = 255,
    .pci_mmio_base = 0xc0000000,
    .pci_mmio_end = 0xfebfffff,
    .pm1a_evt = 0x600,
    .pm1a_cnt = 0x604,
    .pm_tmr = 0x608,
    .reset_port = 0xcf9,
    .reset_value = 0x0e,
    .sci_irq = 9,
    .s5_typ = 1, /* OneOp */
};

#define BASE_LOW  0x000e0000ULL
#define BASE_HIGH 0x12345670000ULL /* tables above 4 GiB: only the X_ pointers can reach */

struct built {
	uint8_t buf[0x4000];
	size_t len;
	uint64_t base;
	const struct acpi_build_params *p;
	/* table offsets found through the pointers */
	size_t xsdt, fadt, madt, mcfg, dsdt, facs;
};

/* Built tables live in static storage (a failed assertion longjmps out of a test). */
static struct built g_a, g_b;

/* off_of: the buffer offset of guest-physical address gpa holding a table of at least need
 * bytes; fails the test if it is outside the buffer. */
static size_t off_of(const struct built *b, uint64_t gpa, size_t need)
{
	assert_true(gpa >= b->base);
	assert_true(gpa - b->base + need <= b->len);
	return (size_t)(gpa - b->base);
}

/* table_len: the length of the SDT at off, checked against the buffer and its checksum. */
static uint32_t table_len(const struct built *b, size_t off, const char *sig, uint8_t rev)
{
	const uint8_t *t = b->buf + off;
	assert_memory_equal(t, sig, 4);
	uint32_t len = rd32(t + 4);
	assert_true(len >= 36 && off + len <= b->len);
	assert_int_equal(t[8], rev);
	assert_true(acpi_checksum_ok(t, len));
	assert_memory_equal(t + 10, "TERN  ", 6);
	assert_memory_equal(t + 16, "TERNVM  ", 8);
	return len;
}

/* build: the tables for p at base, with every pointer followed and checked. */
static void build(struct built *b, const struct acpi_build_params *p, uint64_t base)
{
	memset(b, 0xa5, sizeof(*b)); /* acpi_build must clear what it does not write */
	b->base = base;
	b->p = p;
	b->len = acpi_build(b->buf, sizeof(b->buf), base, p);
	assert_true(b->len > 0 && b->len <= sizeof(b->buf));
	for (size_t i = b->len; i < sizeof(b->buf); i++)
		assert_int_equal(b->buf[i], 0);
	/* RSDP (ACPI 6.5 5.2.5.3): checksum over 20 bytes, extended checksum over 36 */
	const uint8_t *r = b->buf;
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_true(acpi_checksum_ok(r, 20));
	assert_true(acpi_checksum_ok(r, 36));
	assert_int_equal(r[15], 2);        /* revision: ACPI 2.0+ (XSDT) */
	assert_int_equal(rd32(r + 16), 0); /* no RSDT */
	assert_int_equal(rd32(r + 20), 36);
	b->xsdt = off_of(b, rd64(r + 24), 36);
	uint32_t xl = table_len(b, b->xsdt, "XSDT", 1);
	assert_int_equal(xl, 36 + 3 * 8);
	const uint8_t *x = b->buf + b->xsdt;
	b->fadt = off_of(b, rd64(x + 36), 36);
	b->madt = off_of(b, rd64(x + 44), 36);
	b->mcfg = off_of(b, rd64(x + 52), 36);
	assert_int_equal(table_len(b, b->fadt, "FACP", 6), 276);
	table_len(b, b->madt, "APIC", 5);
	assert_int_equal(table_len(b, b->mcfg, "MCFG", 1), 60);
	const uint8_t *f = b->buf + b->fadt;
	/* DSDT and FACS through both the 32-bit and the X_ (64-bit) fields */
	b->dsdt = off_of(b, rd64(f + 140), 36);
	b->facs = off_of(b, rd64(f + 132), 64);
	if (base + b->len <= 0xffffffffULL) {
		assert_int_equal(rd32(f + 40), base + b->dsdt);
		assert_int_equal(rd32(f + 36), base + b->facs);
	} else { /* out of 32-bit reach: zero, not a truncated address */
		assert_int_equal(rd32(f + 40), 0);
		assert_int_equal(rd32(f + 36), 0);
	}
	table_len(b, b->dsdt, "DSDT", 2);
	/* tables must not overlap one another */
	size_t offs[] = {b->facs, b->dsdt, b->fadt, b->madt, b->mcfg, b->xsdt};
	for (size_t i = 0; i + 1 < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t end = offs[i] + (i == 0 ? 64 : rd32(b->buf + offs[i] + 4));
		assert_true(end <= offs[i + 1]);
	}
	assert_true(offs[0] >= 36);
}

static void test_rsdp_xsdt(void **state)
{
	struct built *b = &g_a;
	const struct acpi_build_params *ps[] = {&p1, &p2, &p16};
	for (int i = 0; i < 3; i++) {
		build(b, ps[i], BASE_LOW);
		/* the FACS: 64 bytes, 64-byte aligned (ACPI 6.5 5.2.10), no checksum */
		const uint8_t *facs = b->buf + b->facs;
		assert_memory_equal(facs, "FACS", 4);
		assert_int_equal(rd32(facs + 4), 64);
		assert_int_equal((b->base + b->facs) % 64, 0);
		/* tables at the start of the BIOS area: everything below 1 MiB */
		assert_true(b->base + b->len <= 0x100000);
		/* XSDT entries are 8-byte values in guest-physical terms */
		assert_int_equal((b->base + b->xsdt) % 4, 0);
	}
}

/* check_madt: the parser sees every CPU, the IOAPIC and both overrides; raw NMI entry. */
static void check_madt(const struct built *b)
{
	const struct acpi_build_params *p = b->p;
	const uint8_t *t = b->buf + b->madt;
	uint32_t len = rd32(t + 4);
	assert_int_equal(len, 44 + 8 * p->ncpus + 12 + 10 + 10 + 6);
	struct acpi_info info;
	memset(&info, 0, sizeof(info));
	assert_true(acpi_parse_madt(t, len, &info));
	assert_int_equal(info.lapic_phys, p->lapic_addr);
	assert_true(info.pcat_compat);
	assert_int_equal(info.ncpu, p->ncpus);
	assert_int_equal(info.cpus_skipped, 0);
	for (int i = 0; i < p->ncpus; i++) {
		assert_int_equal(info.cpu_apic_id[i], i);
		const uint8_t *e = t + 44 + 8 * i; /* processor local APIC: UID = APIC id = i */
		assert_int_equal(e[0], 0);
		assert_int_equal(e[1], 8);
		assert_int_equal(e[2], i);
		assert_int_equal(e[3], i);
		assert_int_equal(rd32(e + 4), 1);
	}
	assert_int_equal(info.nioapic, 1);
	assert_int_equal(info.ioapic[0].id, p->ioapic_id);
	assert_int_equal(info.ioapic[0].addr, p->ioapic_addr);
	assert_int_equal(info.ioapic[0].gsi_base, 0);
	for (int i = 0; i < p->ncpus; i++)
		assert_int_not_equal(info.cpu_apic_id[i], p->ioapic_id);
	assert_int_equal(info.niso, 2);
	assert_int_equal(info.iso[0].source, 0); /* PIT IRQ 0 -> GSI 2, bus defaults */
	assert_int_equal(info.iso[0].gsi, 2);
	assert_int_equal(info.iso[0].flags, 0);
	assert_int_equal(info.iso[1].source, p->sci_irq); /* SCI: active high, level */
	assert_int_equal(info.iso[1].gsi, p->sci_irq);
	assert_int_equal(info.iso[1].flags & 3, 1);
	assert_int_equal((info.iso[1].flags >> 2) & 3, 3);
	const uint8_t *nmi = t + len - 6; /* local APIC NMI: every processor, LINT1 */
	assert_int_equal(nmi[0], 4);
	assert_int_equal(nmi[1], 6);
	assert_int_equal(nmi[2], 0xff);
	assert_int_equal(rd16(nmi + 3), 0);
	assert_int_equal(nmi[5], 1);
}

static void test_madt(void **state)
{
	struct built *b = &g_a;
	build(b, &p1, BASE_LOW);
	check_madt(b);
	build(b, &p2, BASE_LOW);
	check_madt(b);
	build(b, &p16, BASE_HIGH);
	check_madt(b);
}

static void check_mcfg(const struct built *b)
{
	const uint8_t *t = b->buf + b->mcfg;
	struct acpi_info info;
	memset(&info, 0, sizeof(info));
	assert_true(acpi_parse_mcfg(t, rd32(t + 4), &info));
	assert_int_equal(info.nmcfg, 1);
	assert_int_equal(info.mcfg[0].base, b->p->ecam_base);
	assert_int_equal(info.mcfg[0].segment, 0);
	assert_int_equal(info.mcfg[0].bus_start, 0);
	assert_int_equal(info.mcfg[0].bus_end, b->p->ecam_bus_end);
	assert_int_equal(rd64(t + 36), 0); /* reserved */
	assert_int_equal(rd32(t + 56), 0);
}

static void test_mcfg(void **state)
{
	struct built *b = &g_a;
	build(b, &p1, BASE_LOW);
	check_mcfg(b);
	build(b, &p2, BASE_LOW);
	check_mcfg(b);
	build(b, &p16, BASE_HIGH);
	check_mcfg(b);
}

/* check_gas: an I/O Generic Address Structure of bits width at port. */
static void check_gas(const uint8_t *g, uint16_t port, uint8_t bits, uint8_t access)
{
	assert_int_equal(g[0], ACPI_GAS_IO);
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], access);
	assert_int_equal(rd64(g + 4), port);
}

static void check_fadt(const struct built *b)
{
	const struct acpi_build_params *p = b->p;
	const uint8_t *f = b->buf + b->fadt;
	struct acpi_info info;
	memset(&info, 0, sizeof(info));
	assert_true(acpi_parse_fadt(f, rd32(f + 4), &info));
	assert_true(info.have_fadt);
	assert_int_equal(info.dsdt_phys, b->base + b->dsdt);
	assert_int_equal(info.sci_irq, p->sci_irq);
	assert_int_equal(info.pm1a_cnt, p->pm1a_cnt);
	assert_int_equal(info.pm1b_cnt, 0);
	assert_int_equal(info.pm_tmr, p->pm_tmr);
	assert_true(info.have_reset);
	assert_int_equal(info.reset_reg.space, ACPI_GAS_IO);
	assert_int_equal(info.reset_reg.bit_width, 8);
	assert_int_equal(info.reset_reg.bit_offset, 0);
	assert_int_equal(info.reset_reg.access_size, 1);
	assert_int_equal(info.reset_reg.address, p->reset_port);
	assert_int_equal(info.reset_value, p->reset_value);
	/* fields the parser does not read, by their ACPI 6.5 table 5.9 offsets */
	assert_int_equal(rd32(f + 48), 0); /* SMI_CMD: no SMI, ACPI always on */
	assert_int_equal(rd32(f + 56), p->pm1a_evt);
	assert_int_equal(rd32(f + 60), 0);
	assert_int_equal(rd32(f + 64), p->pm1a_cnt);
	assert_int_equal(rd32(f + 76), p->pm_tmr);
	assert_int_equal(f[88], 4);               /* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);               /* PM1_CNT_LEN */
	assert_int_equal(f[91], 4);               /* PM_TMR_LEN */
	assert_int_equal(f[108], 0x32);           /* CENTURY */
	assert_int_equal(rd16(f + 109), 1u << 2); /* VGA not present, no 8042 */
	uint32_t flags = rd32(f + 112);
	assert_true(flags & (1u << 10));  /* RESET_REG_SUP */
	assert_false(flags & (1u << 20)); /* not HW_REDUCED_ACPI: PM1 blocks are used */
	assert_int_equal(f[131], 0);      /* FADT minor version: 6.0 */
	assert_int_equal(rd64(f + 132), b->base + b->facs);
	assert_int_equal(rd64(f + 140), b->base + b->dsdt);
	check_gas(f + 148, p->pm1a_evt, 32, 3); /* X_PM1a_EVT_BLK */
	check_gas(f + 172, p->pm1a_cnt, 16, 2); /* X_PM1a_CNT_BLK */
	check_gas(f + 208, p->pm_tmr, 32, 3);   /* X_PM_TMR_BLK */
	/* X_PM1b_*, X_PM2_CNT, X_GPE0/1, SLEEP_CONTROL/STATUS: absent */
	const size_t zero_gas[] = {160, 184, 196, 220, 232, 244, 256};
	for (size_t i = 0; i < sizeof(zero_gas) / sizeof(zero_gas[0]); i++)
		assert_int_equal(rd64(f + zero_gas[i] + 4), 0);
	assert_memory_equal(f + 268, "TernTern", 8);
}

static void test_fadt(void **state)
{
	struct built *b = &g_a;
	build(b, &p1, BASE_LOW);
	check_fadt(b);
	build(b, &p2, BASE_LOW);
	check_fadt(b);
	build(b, &p16, BASE_HIGH);
	check_fadt(b); /* above 4 GiB: the parser finds the DSDT through X_DSDT alone */
}

/* ---- AML walker (ACPI 6.5 20.2) ----------------------------------------------------------- */
struct aml {
	const uint8_t *p;
	size_t pos, end;
};

/* pkglen: decode a PkgLength at the cursor; returns the end offset of the object, which is
 * counted from the first PkgLength byte (20.2.4). */
static size_t pkglen(struct aml *a)
{
	assert_true(a->pos < a->end);
	uint8_t lead = a->p[a->pos];
	unsigned follow = lead >> 6;
	size_t start = a->pos;
	assert_true(a->pos + 1 + follow <= a->end);
	size_t len;
	if (!follow) {
		len = lead & 0x3f;
	} else {
		assert_int_equal(lead & 0x30, 0); /* bits 5:4 reserved in multi-byte encodings */
		len = lead & 0x0f;
		for (unsigned i = 0; i < follow; i++)
			len |= (size_t)a->p[a->pos + 1 + i] << (4 + 8 * i);
		/* the shortest encoding is used */
		assert_true(len >= (follow == 1 ? 64u : follow == 2 ? 4096u : 1u << 20));
	}
	a->pos += 1 + follow;
	assert_true(start + len <= a->end);
	assert_true(start + len >= a->pos);
	return start + len;
}

static void expect_byte(struct aml *a, uint8_t v)
{
	assert_true(a->pos < a->end);
	assert_int_equal(a->p[a->pos], v);
	a->pos++;
}

static void expect_bytes(struct aml *a, const char *s, size_t n)
{
	assert_true(a->pos + n <= a->end);
	assert_memory_equal(a->p + a->pos, s, n);
	a->pos += n;
}

/* integer: a ComputationalData integer (Zero/One/Byte/Word/DWord/QWord). */
static uint64_t integer(struct aml *a)
{
	assert_true(a->pos < a->end);
	uint8_t op = a->p[a->pos++];
	size_t n = 0;
	switch (op) {
	case 0x00:
	case 0x01:
		return op;
	case 0x0a:
		n = 1;
		break;
	case 0x0b:
		n = 2;
		break;
	case 0x0c:
		n = 4;
		break;
	case 0x0e:
		n = 8;
		break;
	default:
		fail_msg("not an integer opcode: 0x%02x at %zu", op, a->pos - 1);
	}
	assert_true(a->pos + n <= a->end);
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)a->p[a->pos + i] << (8 * i);
	a->pos += n;
	/* aml_int promises the shortest encoding */
	assert_true(n == 1 ? v > 1 : v >> (8 * n / 2) != 0);
	return v;
}

/* eisaid: the compressed EISA id of "PNPxxxx" as DWordConst bytes (big-endian nibbles). */
static void expect_eisaid(struct aml *a, const char *id)
{
	expect_byte(a, 0x0c);
	uint16_t mfg = (uint16_t)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
	expect_byte(a, (uint8_t)(mfg >> 8));
	expect_byte(a, (uint8_t)mfg);
	unsigned prod = (unsigned)strtoul(id + 3, NULL, 16);
	expect_byte(a, (uint8_t)(prod >> 8));
	expect_byte(a, (uint8_t)prod);
}

/* check_crs: the root bridge's resource template, descriptor by descriptor (6.4). */
static void check_crs(const uint8_t *r, size_t n, const struct acpi_build_params *p)
{
	size_t pos = 0;
	int seen = 0;
	/* word address space descriptors: bus numbers, then two I/O windows around 0xCF8 */
	const struct {
		uint8_t type, tflags;
		uint16_t min, max;
	} words[] = {{2, 0, 0, p->ecam_bus_end}, {1, 3, 0, 0xcf7}, {1, 3, 0xd00, 0xffff}};
	int nword = 0;
	bool io = false, mem = false, end = false;
	while (pos < n && !end) {
		uint8_t tag = r[pos];
		seen++;
		if (tag & 0x80) { /* large item: tag, 16-bit length, data */
			assert_true(pos + 3 <= n);
			uint16_t len = rd16(r + pos + 1);
			assert_true(pos + 3 + len <= n);
			const uint8_t *d = r + pos + 3;
			if (tag == 0x88) {
				assert_int_equal(len, 13);
				assert_true(nword < 3);
				assert_int_equal(d[0], words[nword].type);
				assert_int_equal(d[1], 0x0c); /* producer, min/max fixed */
				assert_int_equal(d[2], words[nword].tflags);
				assert_int_equal(rd16(d + 3), 0); /* granularity */
				assert_int_equal(rd16(d + 5), words[nword].min);
				assert_int_equal(rd16(d + 7), words[nword].max);
				assert_int_equal(rd16(d + 9), 0); /* translation */
				assert_int_equal(rd16(d + 11), (uint16_t)(words[nword].max -
				                                          words[nword].min + 1));
				nword++;
			} else if (tag == 0x87) {
				assert_int_equal(len, 23);
				assert_int_equal(d[0], 0); /* memory range */
				assert_int_equal(d[1], 0x0c);
				assert_int_equal(rd32(d + 3), 0);
				assert_int_equal(rd32(d + 7), p->pci_mmio_base);
				assert_int_equal(rd32(d + 11), p->pci_mmio_end);
				assert_int_equal(rd32(d + 15), 0);
				assert_int_equal(rd32(d + 19),
				                 p->pci_mmio_end - p->pci_mmio_base + 1);
				mem = true;
			} else {
				fail_msg("unexpected large resource 0x%02x", tag);
			}
			pos += 3 + len;
		} else { /* small item: name in bits 6:3, length in bits 2:0 */
			uint8_t len = tag & 7, item = (tag >> 3) & 0xf;
			assert_true(pos + 1 + len <= n);
			const uint8_t *d = r + pos + 1;
			if (item == 0x08) { /* I/O port: decode16, 0xCF8-0xCFF */
				assert_int_equal(tag, 0x47);
				assert_int_equal(d[0], 1);
				assert_int_equal(rd16(d + 1), 0xcf8);
				assert_int_equal(rd16(d + 3), 0xcf8);
				assert_int_equal(d[5], 1);
				assert_int_equal(d[6], 8);
				io = true;
			} else if (item == 0x0f) {
				assert_int_equal(tag, 0x79);
				assert_int_equal(d[0], 0); /* checksum 0: "treat as correct" */
				end = true;
			} else {
				fail_msg("unexpected small resource 0x%02x", tag);
			}
			pos += 1 + len;
		}
	}
	assert_true(end);
	assert_int_equal(pos, n); /* the end tag is the last byte of the buffer */
	assert_int_equal(nword, 3);
	assert_true(io && mem);
	assert_int_equal(seen, 6);
}

/* check_dsdt: Scope (\_SB) { Device (PCI0) { _HID _CID _UID _SEG _BBN _CRS } }
 * Name (\_S5, Package (4) {typ, typ, 0, 0}) with every length exact. */
static void check_dsdt(const struct built *b)
{
	const struct acpi_build_params *p = b->p;
	const uint8_t *t = b->buf + b->dsdt;
	uint32_t len = rd32(t + 4);
	struct aml a = {t, 36, len};
	expect_byte(&a, 0x10); /* ScopeOp */
	size_t scope_end = pkglen(&a);
	expect_bytes(&a, "\\_SB_", 5);
	expect_byte(&a, 0x5b); /* DeviceOp */
	expect_byte(&a, 0x82);
	size_t dev_end = pkglen(&a);
	assert_int_equal(dev_end, scope_end); /* PCI0 is all the scope holds */
	expect_bytes(&a, "PCI0", 4);
	expect_byte(&a, 0x08);
	expect_bytes(&a, "_HID", 4);
	expect_eisaid(&a, "PNP0A08");
	expect_byte(&a, 0x08);
	expect_bytes(&a, "_CID", 4);
	expect_eisaid(&a, "PNP0A03");
	const char *zero_names[] = {"_UID", "_SEG", "_BBN"};
	for (int i = 0; i < 3; i++) {
		expect_byte(&a, 0x08);
		expect_bytes(&a, zero_names[i], 4);
		assert_int_equal(integer(&a), 0);
	}
	expect_byte(&a, 0x08);
	expect_bytes(&a, "_CRS", 4);
	expect_byte(&a, 0x11); /* BufferOp PkgLength BufferSize ByteList */
	size_t buf_end = pkglen(&a);
	assert_int_equal(buf_end, dev_end);
	uint64_t bsize = integer(&a);
	assert_int_equal(a.pos + bsize, buf_end);
	check_crs(t + a.pos, (size_t)bsize, p);
	a.pos = buf_end;
	expect_byte(&a, 0x08);
	expect_bytes(&a, "\\_S5_", 5);
	expect_byte(&a, 0x12); /* PackageOp PkgLength NumElements elements */
	size_t pkg_end = pkglen(&a);
	assert_int_equal(pkg_end, len); /* the package is the last object in the table */
	expect_byte(&a, 4);
	assert_int_equal(integer(&a), p->s5_typ);
	assert_int_equal(integer(&a), p->s5_typ);
	assert_int_equal(integer(&a), 0);
	assert_int_equal(integer(&a), 0);
	assert_int_equal(a.pos, pkg_end);
	/* and the kernel's own \_S5 scanner agrees */
	uint8_t ta = 0xee, tb = 0xee;
	assert_true(acpi_find_s5(t + 36, len - 36, &ta, &tb));
	assert_int_equal(ta, p->s5_typ);
	assert_int_equal(tb, p->s5_typ);
}

static void test_dsdt_aml(void **state)
{
	struct built *b = &g_a;
	build(b, &p1, BASE_LOW);
	check_dsdt(b);
	build(b, &p2, BASE_LOW);
	check_dsdt(b);
	build(b, &p16, BASE_HIGH);
	check_dsdt(b);
}

/* run: a shell command's exit status (-1 if it could not run). */
static int run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* slurp: a whole file, NUL-terminated (caller frees). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = 0;
	fclose(f);
	return s;
}

/* iasl_check: disassemble the DSDT with iasl and recompile the result; the AML iasl produces
 * from its own disassembly must be byte-for-byte the body Tern wrote. */
static void iasl_check(const struct built *b, const char *s5)
{
	char dir[] = "/tmp/tern-acpi-XXXXXX", cmd[512], path[256];
	assert_non_null(mkdtemp(dir));
	const uint8_t *t = b->buf + b->dsdt;
	uint32_t len = rd32(t + 4);
	snprintf(path, sizeof(path), "%s/dsdt.aml", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(t, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.aml >log.txt 2>&1", dir);
	assert_int_equal(run(cmd), 0);
	snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
	char *dsl = slurp(path);
	const char *want[] = {"Scope (\\_SB)",
	                      "Device (PCI0)",
	                      "EisaId (\"PNP0A08\")",
	                      "EisaId (\"PNP0A03\")",
	                      "Name (_UID, Zero)",
	                      "Name (_SEG, Zero)",
	                      "Name (_BBN, Zero)",
	                      "ResourceTemplate ()",
	                      "WordBusNumber (",
	                      "IO (Decode16,",
	                      "WordIO (",
	                      "DWordMemory (",
	                      "Name (\\_S5, Package (0x04)",
	                      s5};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(dsl, want[i]))
			fail_msg("iasl disassembly lacks \"%s\":\n%s", want[i], dsl);
	free(dsl);
	/* recompile without optimisations (-oa: iasl would drop the redundant root prefixes): no
	 * errors, and the same AML body (the header's creator fields differ) */
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -oa -p re dsdt.dsl >>log.txt 2>&1", dir);
	if (run(cmd) != 0) {
		snprintf(path, sizeof(path), "%s/log.txt", dir);
		fail_msg("iasl could not recompile its disassembly:\n%s", slurp(path));
	}
	snprintf(path, sizeof(path), "%s/re.aml", dir);
	char *re = slurp(path);
	assert_int_equal(rd32((const uint8_t *)re + 4), len);
	assert_memory_equal(re + 36, t + 36, len - 36);
	free(re);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(run(cmd), 0);
}

static void test_dsdt_iasl(void **state)
{
	if (run("command -v iasl >/dev/null 2>&1") != 0)
		skip(); /* acpica-tools not installed (tools/deps.sh installs it) */
	struct built *b = &g_a;
	build(b, &p1, BASE_LOW);
	iasl_check(b, "0x05, \n");
	build(b, &p2, BASE_LOW);
	iasl_check(b, "Zero, \n");
	build(b, &p16, BASE_HIGH);
	iasl_check(b, "One, \n");
}

/* test_too_small: every capacity below the size needed gives 0 and writes only within cap
 * (each buffer is exactly cap bytes, so ASan sees any write past it). */
static void test_too_small(void **state)
{
	const struct acpi_build_params *ps[] = {&p1, &p16};
	for (int k = 0; k < 2; k++) {
		struct built *b = &g_a;
		build(b, ps[k], BASE_LOW);
		for (size_t cap = 0; cap < b->len; cap++) {
			uint8_t *buf = malloc(cap ? cap : 1);
			assert_int_equal(acpi_build(buf, cap, BASE_LOW, ps[k]), 0);
			free(buf);
		}
		/* exactly enough: the same bytes as in a roomy buffer */
		uint8_t *buf = malloc(b->len);
		assert_int_equal(acpi_build(buf, b->len, BASE_LOW, ps[k]), b->len);
		assert_memory_equal(buf, b->buf, b->len);
		free(buf);
	}
}

/* test_deterministic: the same parameters give the same bytes; a different base moves only
 * the pointers (and the checksums). */
static void test_deterministic(void **state)
{
	struct built *a = &g_a, *b = &g_b;
	build(a, &p16, BASE_LOW);
	build(b, &p16, BASE_LOW);
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->buf, b->buf, a->len);
	build(b, &p16, BASE_HIGH);
	assert_int_equal(a->len, b->len);
	assert_int_equal(a->madt, b->madt);
	/* the MADT holds no pointers: identical apart from nothing */
	assert_memory_equal(a->buf + a->madt, b->buf + b->madt, rd32(a->buf + a->madt + 4));
	assert_memory_equal(a->buf + a->dsdt, b->buf + b->dsdt, rd32(a->buf + a->dsdt + 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rsdp_xsdt), cmocka_unit_test(test_madt),
	    cmocka_unit_test(test_mcfg),      cmocka_unit_test(test_fadt),
	    cmocka_unit_test(test_dsdt_aml),  cmocka_unit_test(test_dsdt_iasl),
	    cmocka_unit_test(test_too_small), cmocka_unit_test(test_deterministic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
