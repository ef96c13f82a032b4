/*
 * Unit tests for kernel/acpi_tables.c: MADT, MCFG, FADT, the DSDT's \_S5 package and table
 * checksums. The fc_* tables are byte-for-byte copies of a Firecracker microVM's firmware
 * tables (/sys/firmware/acpi/tables on the build machine); the rest are built here in the
 * shapes QEMU (PIIX4 and Q35) and real server firmware produce.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/acpi.h"

/* Firecracker v1.x tables: MADT (2 CPUs, 1 IOAPIC), hardware-reduced FADT rev 6, MCFG. */
static const uint8_t fc_apic[72] = {
    0x41, 0x50, 0x49, 0x43, 0x48, 0x00, 0x00, 0x00, 0x06, 0x56, 0x46, 0x49, 0x52, 0x45, 0x43,
    0x4b, 0x46, 0x43, 0x56, 0x4d, 0x4d, 0x41, 0x44, 0x54, 0x00, 0x00, 0x00, 0x00, 0x46, 0x43,
    0x41, 0x54, 0x19, 0x01, 0x24, 0x20, 0x00, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x0c, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00,
};
static const uint8_t fc_facp[276] = {
    0x46, 0x41, 0x43, 0x50, 0x14, 0x01, 0x00, 0x00, 0x06, 0x66, 0x46, 0x49, 0x52, 0x45, 0x43, 0x4b,
    0x46, 0x43, 0x56, 0x4d, 0x46, 0x41, 0x44, 0x54, 0x00, 0x00, 0x00, 0x00, 0x46, 0x43, 0x41, 0x54,
    0x19, 0x01, 0x24, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
    0x30, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x44, 0xfd, 0x09, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46, 0x49, 0x52, 0x45,
    0x43, 0x4b, 0x56, 0x4d,
};
static const uint8_t fc_mcfg[60] = {
    0x4d, 0x43, 0x46, 0x47, 0x3c, 0x00, 0x00, 0x00, 0x01, 0x7f, 0x46, 0x49, 0x52, 0x45, 0x43,
    0x4b, 0x46, 0x43, 0x4d, 0x56, 0x4d, 0x43, 0x46, 0x47, 0x00, 0x00, 0x00, 0x00, 0x46, 0x43,
    0x41, 0x54, 0x19, 0x01, 0x24, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xc0, 0xee, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ---- table builder ------------------------------------------------------------------------ */
struct tb {
	uint8_t b[2048];
	size_t n;
};

static void put(struct tb *t, const void *p, size_t n)
{
	assert_true(t->n + n <= sizeof(t->b));
	memcpy(t->b + t->n, p, n);
	t->n += n;
}
static void p8(struct tb *t, uint8_t v)
{
	put(t, &v, 1);
}
static void p16(struct tb *t, uint16_t v)
{
	p8(t, (uint8_t)v);
	p8(t, (uint8_t)(v >> 8));
}
static void p32(struct tb *t, uint32_t v)
{
	p16(t, (uint16_t)v);
	p16(t, (uint16_t)(v >> 16));
}
static void p64(struct tb *t, uint64_t v)
{
	p32(t, (uint32_t)v);
	p32(t, (uint32_t)(v >> 32));
}
/* at: write a little-endian value of n bytes at offset o (growing the table if needed). */
static void at(struct tb *t, size_t o, uint64_t v, int n)
{
	assert_true(o + (size_t)n <= sizeof(t->b));
	for (int i = 0; i < n; i++)
		t->b[o + i] = (uint8_t)(v >> (8 * i));
	if (o + (size_t)n > t->n)
		t->n = o + (size_t)n;
}
/* gas: a Generic Address Structure at offset o. */
static void gas(struct tb *t, size_t o, uint8_t space, uint8_t width, uint64_t addr)
{
	at(t, o, space, 1);
	at(t, o + 1, width, 1);
	at(t, o + 2, 0, 1);
	at(t, o + 3, space == ACPI_GAS_IO ? 1 : 3, 1);
	at(t, o + 4, addr, 8);
}

/* header: the 36-byte SDT header (length and checksum filled in by seal). */
static void header(struct tb *t, const char *sig, uint8_t rev)
{
	memset(t, 0, sizeof(*t));
	put(t, sig, 4);
	p32(t, 0);
	p8(t, rev);
	p8(t, 0);
	put(t, "BOCHS ", 6);
	put(t, "BXPC    ", 8);
	p32(t, 1);
	p32(t, 0x43505842);
	p32(t, 1);
}
static void seal(struct tb *t)
{
	at(t, 4, t->n, 4);
	t->b[9] = 0;
	uint8_t sum = 0;
	for (size_t i = 0; i < t->n; i++)
		sum += t->b[i];
	t->b[9] = (uint8_t)-sum;
}

/* MADT entries (ACPI 6.5 5.2.12). */
static void madt_start(struct tb *t, uint32_t lapic, uint32_t flags)
{
	header(t, "APIC", 5);
	p32(t, lapic);
	p32(t, flags);
}
static void e_lapic(struct tb *t, uint8_t uid, uint8_t id, uint32_t flags)
{
	p8(t, 0), p8(t, 8), p8(t, uid), p8(t, id), p32(t, flags);
}
static void e_ioapic(struct tb *t, uint8_t id, uint32_t addr, uint32_t gsi)
{
	p8(t, 1), p8(t, 12), p8(t, id), p8(t, 0), p32(t, addr), p32(t, gsi);
}
static void e_iso(struct tb *t, uint8_t bus, uint8_t src, uint32_t gsi, uint16_t flags)
{
	p8(t, 2), p8(t, 10), p8(t, bus), p8(t, src), p32(t, gsi), p16(t, flags);
}
static void e_lapic_nmi(struct tb *t, uint8_t uid, uint16_t flags, uint8_t lint)
{
	p8(t, 4), p8(t, 6), p8(t, uid), p16(t, flags), p8(t, lint);
}
static void e_override(struct tb *t, uint64_t addr)
{
	p8(t, 5), p8(t, 12), p16(t, 0), p64(t, addr);
}
static void e_x2apic(struct tb *t, uint32_t id, uint32_t flags, uint32_t uid)
{
	p8(t, 9), p8(t, 16), p16(t, 0), p32(t, id), p32(t, flags), p32(t, uid);
}

static struct acpi_info *fresh(void)
{
	static struct acpi_info info;
	memset(&info, 0, sizeof(info));
	return &info;
}

/* ---- checksum ----------------------------------------------------------------------------- */
static void test_checksum(void **state)
{
	assert_true(acpi_checksum_ok(fc_apic, sizeof(fc_apic)));
	assert_true(acpi_checksum_ok(fc_facp, sizeof(fc_facp)));
	assert_true(acpi_checksum_ok(fc_mcfg, sizeof(fc_mcfg)));
	assert_true(acpi_checksum_ok(fc_apic, 0));
	uint8_t copy[sizeof(fc_facp)];
	memcpy(copy, fc_facp, sizeof(copy));
	for (size_t i = 0; i < sizeof(copy); i += 7) {
		copy[i] ^= 0x10;
		assert_false(acpi_checksum_ok(copy, sizeof(copy)));
		copy[i] ^= 0x10;
	}
	/* a swap of two bytes keeps the sum: only a checksum, not a hash */
	copy[40] = fc_facp[41], copy[41] = fc_facp[40];
	assert_true(acpi_checksum_ok(copy, sizeof(copy)));
	/* the sum wraps mod 256 */
	uint8_t ff[257];
	memset(ff, 0xff, sizeof(ff));
	ff[256] = 0xff; /* 257 * 0xff = 0xff mod 256 ... */
	assert_false(acpi_checksum_ok(ff, sizeof(ff)));
	assert_true(acpi_checksum_ok(ff, 256)); /* 256 * 0xff = 0 mod 256 */
	struct tb t;
	header(&t, "SSDT", 2);
	p32(&t, 0xdeadbeef);
	seal(&t);
	assert_true(acpi_checksum_ok(t.b, t.n));
}

/* ---- MADT --------------------------------------------------------------------------------- */
static void test_madt_firecracker(void **state)
{
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_madt(fc_apic, sizeof(fc_apic), i));
	assert_int_equal(i->lapic_phys, 0xfee00000);
	assert_false(i->pcat_compat);
	assert_int_equal(i->ncpu, 2);
	assert_int_equal(i->cpu_apic_id[0], 0);
	assert_int_equal(i->cpu_apic_id[1], 1);
	assert_int_equal(i->nioapic, 1);
	assert_int_equal(i->ioapic[0].id, 0);
	assert_int_equal(i->ioapic[0].addr, 0xfec00000);
	assert_int_equal(i->ioapic[0].gsi_base, 0);
	assert_int_equal(i->niso, 0);
	assert_int_equal(i->cpus_skipped, 0);
}

/* a QEMU q35 -smp 4 MADT: 4 LAPICs, an IOAPIC, the 5 usual overrides, a LAPIC NMI */
static void test_madt_qemu(void **state)
{
	struct tb t;
	madt_start(&t, 0xfee00000, 1);
	for (int c = 0; c < 4; c++)
		e_lapic(&t, (uint8_t)c, (uint8_t)c, 1);
	e_ioapic(&t, 0, 0xfec00000, 0);
	e_iso(&t, 0, 0, 2, 0);
	e_iso(&t, 0, 5, 5, 0xd);
	e_iso(&t, 0, 9, 9, 0xd);
	e_iso(&t, 0, 10, 10, 0xd);
	e_iso(&t, 0, 11, 11, 0xd);
	e_lapic_nmi(&t, 0xff, 0, 1);
	seal(&t);
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_madt(t.b, t.n, i));
	assert_true(i->pcat_compat);
	assert_int_equal(i->ncpu, 4);
	for (int c = 0; c < 4; c++)
		assert_int_equal(i->cpu_apic_id[c], c);
	assert_int_equal(i->nioapic, 1);
	assert_int_equal(i->niso, 5);
	assert_int_equal(i->iso[0].source, 0);
	assert_int_equal(i->iso[0].gsi, 2);
	assert_int_equal(i->iso[0].flags, 0);
	assert_int_equal(i->iso[4].source, 11);
	assert_int_equal(i->iso[4].gsi, 11);
	assert_int_equal(i->iso[4].flags, 0xd);
}

static void test_madt_cpus(void **state)
{
	struct tb t;
	madt_start(&t, 0xfee00000, 0);
	e_lapic(&t, 0, 0, 1);
	e_lapic(&t, 1, 2, 0); /* disabled */
	e_lapic(&t, 2, 4, 1);
	e_lapic(&t, 3, 6, 2);      /* not enabled, only online capable (hot-plug later) */
	e_lapic(&t, 4, 0, 1);      /* listed twice */
	e_lapic(&t, 5, 0xff, 1);   /* broadcast-looking id: still a CPU as far as MADT goes */
	e_x2apic(&t, 4, 1, 6);     /* same CPU as the xAPIC entry for id 4 */
	e_x2apic(&t, 0x100, 1, 7); /* needs x2APIC mode */
	e_x2apic(&t, 0x101, 0, 8); /* disabled */
	e_x2apic(&t, 0x12345678, 1, 9);
	e_x2apic(&t, 0x100, 1, 10); /* duplicate x2APIC entry */
	seal(&t);
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_madt(t.b, t.n, i));
	uint32_t want[] = {0, 4, 0xff, 0x100, 0x12345678};
	assert_int_equal(i->ncpu, 5);
	for (int c = 0; c < 5; c++)
		assert_int_equal(i->cpu_apic_id[c], want[c]);
	assert_int_equal(i->cpus_skipped, 0);
}

static void test_madt_limits(void **state)
{
	struct tb t;
	madt_start(&t, 0xfee00000, 1);
	/* 70 enabled CPUs: 64 kept, 6 counted as skipped */
	for (int c = 0; c < 70; c++)
		e_lapic(&t, (uint8_t)c, (uint8_t)c, 1);
	e_lapic(&t, 0, 3, 1); /* a duplicate of a kept CPU is not "skipped" */
	/* 10 IOAPICs: 8 kept; 30 overrides: 24 kept; one on a non-ISA bus ignored */
	for (int k = 0; k < 10; k++)
		e_ioapic(&t, (uint8_t)k, 0xfec00000 + 0x1000 * (uint32_t)k, 24 * (uint32_t)k);
	e_iso(&t, 1, 3, 3, 0);
	for (int k = 0; k < 30; k++)
		e_iso(&t, 0, (uint8_t)k, (uint32_t)k + 100, 5);
	seal(&t);
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_madt(t.b, t.n, i));
	assert_int_equal(i->ncpu, ACPI_MAX_CPUS);
	assert_int_equal(i->cpu_apic_id[63], 63);
	assert_int_equal(i->cpus_skipped, 6);
	assert_int_equal(i->nioapic, ACPI_MAX_IOAPICS);
	assert_int_equal(i->ioapic[7].addr, 0xfec07000);
	assert_int_equal(i->ioapic[7].gsi_base, 168);
	assert_int_equal(i->niso, ACPI_MAX_ISO);
	assert_int_equal(i->iso[0].source, 0);
	assert_int_equal(i->iso[0].gsi, 100);
	assert_int_equal(i->iso[23].source, 23);
}

static void test_madt_lapic_override(void **state)
{
	struct tb t;
	madt_start(&t, 0xfee00000, 0);
	e_lapic(&t, 0, 0, 1);
	e_override(&t, 0x123456789000ULL);
	seal(&t);
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_madt(t.b, t.n, i));
	assert_true(i->lapic_phys == 0x123456789000ULL);
	/* an override before the entries wins just the same */
	madt_start(&t, 0xfee00000, 0);
	e_override(&t, 0xfee10000);
	e_lapic(&t, 0, 0, 1);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_madt(t.b, t.n, i));
	assert_int_equal(i->lapic_phys, 0xfee10000);
}

static void test_madt_malformed(void **state)
{
	struct acpi_info *i;
	struct tb t;
	/* too short for the fixed part, wrong signature */
	i = fresh();
	assert_false(acpi_parse_madt(fc_apic, 43, i));
	assert_true(acpi_parse_madt(fc_apic, 44, i)); /* header only: no entries */
	assert_int_equal(i->ncpu, 0);
	uint8_t copy[sizeof(fc_apic)];
	memcpy(copy, fc_apic, sizeof(copy));
	copy[0] = 'X';
	assert_false(acpi_parse_madt(copy, sizeof(copy), fresh()));

	/* an entry claiming length 0 or 1 would loop forever or misparse: rejected */
	for (uint8_t bad = 0; bad < 2; bad++) {
		madt_start(&t, 0xfee00000, 0);
		e_lapic(&t, 0, 0, 1);
		p8(&t, 0), p8(&t, bad), p16(&t, 0), p32(&t, 1);
		e_lapic(&t, 1, 1, 1);
		seal(&t);
		i = fresh();
		assert_false(acpi_parse_madt(t.b, t.n, i));
		assert_int_equal(i->ncpu, 1); /* what came before is kept */
	}
	/* an entry running past the end of the table */
	madt_start(&t, 0xfee00000, 0);
	e_lapic(&t, 0, 0, 1);
	e_ioapic(&t, 0, 0xfec00000, 0);
	seal(&t);
	i = fresh();
	assert_false(acpi_parse_madt(t.b, t.n - 1, i));
	assert_int_equal(i->ncpu, 1);
	assert_int_equal(i->nioapic, 0);
	/* one stray byte after the last entry is ignored */
	p8(&t, 0x77);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_madt(t.b, t.n, i));
	assert_int_equal(i->nioapic, 1);
	/* entries shorter than their type needs are skipped, not read past their end */
	madt_start(&t, 0xfee00000, 0);
	p8(&t, 0), p8(&t, 7), p8(&t, 0), p8(&t, 9), p16(&t, 1), p8(&t, 0); /* LAPIC len 7 */
	p8(&t, 1), p8(&t, 11), p8(&t, 3);                                  /* IOAPIC len 11 */
	for (int k = 0; k < 8; k++)
		p8(&t, 0xee);
	p8(&t, 2), p8(&t, 9), p8(&t, 0), p8(&t, 0), p32(&t, 2), p8(&t, 0);    /* ISO len 9 */
	p8(&t, 5), p8(&t, 11), p16(&t, 0), p32(&t, 1), p16(&t, 0), p8(&t, 0); /* override 11 */
	p8(&t, 9), p8(&t, 15), p16(&t, 0), p32(&t, 7), p32(&t, 1), p16(&t, 0), p8(&t, 0);
	p8(&t, 0x7f), p8(&t, 2);                                             /* unknown, minimal */
	p8(&t, 0), p8(&t, 12), p8(&t, 0), p8(&t, 5), p32(&t, 1), p32(&t, 0); /* LAPIC len 12 */
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_madt(t.b, t.n, i));
	assert_int_equal(i->ncpu, 1);
	assert_int_equal(i->cpu_apic_id[0], 5); /* only the long-enough LAPIC */
	assert_int_equal(i->nioapic, 0);
	assert_int_equal(i->niso, 0);
	assert_int_equal(i->lapic_phys, 0xfee00000);
}

/* ---- MCFG --------------------------------------------------------------------------------- */
static void mcfg_entry(struct tb *t, uint64_t base, uint16_t seg, uint8_t b0, uint8_t b1)
{
	p64(t, base), p16(t, seg), p8(t, b0), p8(t, b1), p32(t, 0);
}

static void test_mcfg(void **state)
{
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_mcfg(fc_mcfg, sizeof(fc_mcfg), i));
	assert_int_equal(i->nmcfg, 1);
	assert_int_equal(i->mcfg[0].base, 0xeec00000);
	assert_int_equal(i->mcfg[0].segment, 0);
	assert_int_equal(i->mcfg[0].bus_start, 0);
	assert_int_equal(i->mcfg[0].bus_end, 0);

	/* QEMU q35 */
	struct tb t;
	header(&t, "MCFG", 1);
	p64(&t, 0);
	mcfg_entry(&t, 0xb0000000, 0, 0, 255);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_mcfg(t.b, t.n, i));
	assert_int_equal(i->nmcfg, 1);
	assert_int_equal(i->mcfg[0].base, 0xb0000000);
	assert_int_equal(i->mcfg[0].bus_end, 255);

	/* several segments, bad entries skipped, at most ACPI_MAX_MCFG kept */
	header(&t, "MCFG", 1);
	p64(&t, 0);
	mcfg_entry(&t, 0x3ffe00000000ULL, 1, 0x80, 0xff);
	mcfg_entry(&t, 0, 2, 0, 255);        /* no base */
	mcfg_entry(&t, 0xe0000000, 3, 9, 8); /* end before start */
	mcfg_entry(&t, 0xe0000000, 4, 7, 7);
	mcfg_entry(&t, 0xe1000000, 5, 0, 15);
	mcfg_entry(&t, 0xe2000000, 6, 0, 15);
	mcfg_entry(&t, 0xe3000000, 7, 0, 15); /* the fifth good one */
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_mcfg(t.b, t.n, i));
	assert_int_equal(i->nmcfg, ACPI_MAX_MCFG);
	assert_true(i->mcfg[0].base == 0x3ffe00000000ULL);
	assert_int_equal(i->mcfg[0].segment, 1);
	assert_int_equal(i->mcfg[0].bus_start, 0x80);
	assert_int_equal(i->mcfg[1].segment, 4);
	assert_int_equal(i->mcfg[3].segment, 6);

	/* a partial trailing entry is ignored; short or misnamed tables are refused */
	i = fresh();
	assert_true(acpi_parse_mcfg(fc_mcfg, sizeof(fc_mcfg) - 1, i));
	assert_int_equal(i->nmcfg, 0);
	assert_false(acpi_parse_mcfg(fc_mcfg, 43, fresh()));
	assert_false(acpi_parse_mcfg(fc_apic, sizeof(fc_apic), fresh()));
}

/* ---- FADT --------------------------------------------------------------------------------- */
/* fadt_piix: a revision-1, 116-byte FADT as QEMU's i440fx/PIIX4 machine has it. */
static void fadt_piix(struct tb *t)
{
	header(t, "FACP", 1);
	at(t, 36, 0x7ffe0000, 4); /* FIRMWARE_CTRL */
	at(t, 40, 0x7ffe0040, 4); /* DSDT */
	at(t, 46, 9, 2);          /* SCI_INT */
	at(t, 48, 0xb2, 4);       /* SMI_CMD */
	at(t, 52, 0xf1, 1);
	at(t, 53, 0xf0, 1);
	at(t, 56, 0x600, 4);  /* PM1a_EVT_BLK */
	at(t, 64, 0x604, 4);  /* PM1a_CNT_BLK */
	at(t, 76, 0x608, 4);  /* PM_TMR_BLK */
	at(t, 80, 0xafe0, 4); /* GPE0_BLK */
	at(t, 88, 4, 1);
	at(t, 89, 2, 1);
	at(t, 91, 4, 1);
	at(t, 92, 4, 1);
	at(t, 96, 0xfff, 2);
	at(t, 98, 0xfff, 2);
	at(t, 112, 0x000080a5, 4); /* flags: WBINVD, PROC_C1, SLP_BUTTON, RTC_S4, TMR_VAL_EXT */
	t->n = 116;
	seal(t);
}

/* fadt_q35: a revision-3, 244-byte FADT as QEMU's q35 machine has it. */
static void fadt_q35(struct tb *t)
{
	header(t, "FACP", 3);
	at(t, 36, 0x7ffe0000, 4);
	at(t, 40, 0x7ffe0040, 4);
	at(t, 46, 9, 2);
	at(t, 48, 0xb2, 4);
	at(t, 52, 0x02, 1);
	at(t, 53, 0x03, 1);
	at(t, 56, 0x600, 4);
	at(t, 64, 0x604, 4);
	at(t, 76, 0x608, 4);
	at(t, 80, 0x620, 4);
	at(t, 88, 4, 1);
	at(t, 89, 2, 1);
	at(t, 91, 4, 1);
	at(t, 92, 16, 1);
	at(t, 96, 0xfff, 2);
	at(t, 98, 0xfff, 2);
	at(t, 109, 0, 2);
	at(t, 112, 0x000084a5, 4); /* ... | RESET_REG_SUP */
	gas(t, 116, ACPI_GAS_IO, 8, 0xcf9);
	at(t, 128, 0x0f, 1);       /* RESET_VALUE */
	at(t, 131, 1, 1);          /* minor version */
	at(t, 132, 0, 8);          /* X_FIRMWARE_CTRL (FIRMWARE_CTRL is set) */
	at(t, 140, 0x7ffe0040, 8); /* X_DSDT */
	gas(t, 148, ACPI_GAS_IO, 32, 0x600);
	gas(t, 160, 0, 0, 0);
	gas(t, 172, ACPI_GAS_IO, 16, 0x604);
	gas(t, 184, 0, 0, 0);
	gas(t, 196, 0, 0, 0);
	gas(t, 208, ACPI_GAS_IO, 32, 0x608);
	gas(t, 220, ACPI_GAS_IO, 128, 0x620);
	gas(t, 232, 0, 0, 0);
	t->n = 244;
	seal(t);
}

static void test_fadt_piix_rev1(void **state)
{
	struct tb t;
	fadt_piix(&t);
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_true(i->have_fadt);
	assert_int_equal(i->dsdt_phys, 0x7ffe0040);
	assert_int_equal(i->sci_irq, 9);
	assert_int_equal(i->pm1a_cnt, 0x604);
	assert_int_equal(i->pm1b_cnt, 0);
	assert_int_equal(i->pm_tmr, 0x608);
	assert_false(i->have_reset); /* no RESET_REG in a 116-byte table */
}

static void test_fadt_q35_rev3(void **state)
{
	struct tb t;
	fadt_q35(&t);
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_int_equal(i->dsdt_phys, 0x7ffe0040);
	assert_int_equal(i->sci_irq, 9);
	assert_int_equal(i->pm1a_cnt, 0x604);
	assert_int_equal(i->pm1b_cnt, 0);
	assert_int_equal(i->pm_tmr, 0x608);
	assert_true(i->have_reset);
	assert_int_equal(i->reset_reg.space, ACPI_GAS_IO);
	assert_int_equal(i->reset_reg.bit_width, 8);
	assert_int_equal(i->reset_reg.address, 0xcf9);
	assert_int_equal(i->reset_value, 0x0f);
}

static void test_fadt_firecracker(void **state)
{
	/* hardware-reduced ACPI: no PM blocks, no reset register, DSDT only in X_DSDT */
	struct acpi_info *i = fresh();
	assert_true(acpi_parse_fadt(fc_facp, sizeof(fc_facp), i));
	assert_true(i->have_fadt);
	assert_int_equal(i->dsdt_phys, 0x9fd44);
	assert_int_equal(i->pm1a_cnt, 0);
	assert_int_equal(i->pm1b_cnt, 0);
	assert_int_equal(i->pm_tmr, 0);
	assert_false(i->have_reset);
}

static void test_fadt_x_fields(void **state)
{
	struct tb t;
	struct acpi_info *i;
	/* X_ fields override the legacy ones; the 64-bit DSDT wins over the 32-bit one */
	fadt_q35(&t);
	at(&t, 140, 0x100000000ULL, 8);
	gas(&t, 172, ACPI_GAS_IO, 16, 0x1804);
	gas(&t, 184, ACPI_GAS_IO, 16, 0x1806);
	gas(&t, 208, ACPI_GAS_IO, 32, 0x1808);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_true(i->dsdt_phys == 0x100000000ULL);
	assert_int_equal(i->pm1a_cnt, 0x1804);
	assert_int_equal(i->pm1b_cnt, 0x1806);
	assert_int_equal(i->pm_tmr, 0x1808);
	/* X_ fields in memory space, or I/O beyond 16 bits, or zero: the legacy ones stay */
	fadt_q35(&t);
	at(&t, 68, 0x605, 4); /* PM1b_CNT_BLK */
	at(&t, 140, 0, 8);
	gas(&t, 172, ACPI_GAS_MEM, 16, 0xfed80604);
	gas(&t, 184, ACPI_GAS_IO, 16, 0x10000);
	gas(&t, 208, ACPI_GAS_IO, 32, 0);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_int_equal(i->dsdt_phys, 0x7ffe0040);
	assert_int_equal(i->pm1a_cnt, 0x604);
	assert_int_equal(i->pm1b_cnt, 0x605);
	assert_int_equal(i->pm_tmr, 0x608);
	/* a PM timer port that is no I/O port at all is dropped */
	fadt_piix(&t);
	at(&t, 76, 0x12345, 4);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_int_equal(i->pm_tmr, 0);
}

static void test_fadt_lengths(void **state)
{
	struct tb t;
	struct acpi_info *i;
	fadt_q35(&t);
	at(&t, 140, 0x200000000ULL, 8);
	gas(&t, 172, ACPI_GAS_IO, 16, 0x1804);
	gas(&t, 184, ACPI_GAS_IO, 16, 0x1806);
	gas(&t, 208, ACPI_GAS_IO, 32, 0x1808);
	/* each later field is used only when the table is long enough to hold it */
	for (size_t len = 100; len <= 244; len++) {
		i = fresh();
		bool ok = acpi_parse_fadt(t.b, len, i);
		assert_int_equal(ok, len >= 116);
		if (!ok) {
			assert_false(i->have_fadt);
			continue;
		}
		assert_int_equal(i->have_reset, len >= 129);
		assert_true(i->dsdt_phys == (len >= 148 ? 0x200000000ULL : 0x7ffe0040));
		assert_int_equal(i->pm1a_cnt, len >= 184 ? 0x1804 : 0x604);
		assert_int_equal(i->pm1b_cnt, len >= 196 ? 0x1806 : 0);
		assert_int_equal(i->pm_tmr, len >= 220 ? 0x1808 : 0x608);
	}
	assert_false(acpi_parse_fadt(fc_apic, sizeof(fc_apic), fresh()));
	/* a full ACPI 6.5 table (276 bytes) parses the same */
	t.n = 276;
	i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_int_equal(i->pm_tmr, 0x1808);
}

static void test_fadt_reset_register(void **state)
{
	struct tb t;
	struct acpi_info *i;
	/* RESET_REG_SUP clear: the register is not used even if filled in */
	fadt_q35(&t);
	at(&t, 112, 0x000080a5, 4);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_false(i->have_reset);
	/* flag set but address zero */
	fadt_q35(&t);
	gas(&t, 116, ACPI_GAS_IO, 8, 0);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_false(i->have_reset);
	/* a memory-mapped reset register (the caller decides how to write it) */
	fadt_q35(&t);
	gas(&t, 116, ACPI_GAS_MEM, 8, 0xfed000f0);
	at(&t, 128, 0x06, 1);
	seal(&t);
	i = fresh();
	assert_true(acpi_parse_fadt(t.b, t.n, i));
	assert_true(i->have_reset);
	assert_int_equal(i->reset_reg.space, ACPI_GAS_MEM);
	assert_int_equal(i->reset_reg.address, 0xfed000f0);
	assert_int_equal(i->reset_value, 6);
}

/* ---- \_S5 --------------------------------------------------------------------------------- */
/* s5: NameOp [\] "_S5_" PackageOp PkgLength(nbytes) NumElements elements..., wrapped in some
 * surrounding AML. Returns the length. */
static size_t s5(uint8_t *out, bool root, int pkglen_bytes, const uint8_t *elems,
                 size_t nelem_bytes, uint8_t nelems)
{
	static const uint8_t before[] = {0x10, 0x1f, 0x5c, 0x2f, 0x03, '_',  'S',  'B',  '_',  'P',
	                                 'C',  'I',  '0',  'L',  'N',  'K',  'A',  0x14, 0x08, '_',
	                                 'S',  '4',  '_',  0x00, 0xa4, 0x01, 0x08, '_',  'S',  '3',
	                                 '_',  0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00};
	static const uint8_t after[] = {0x14, 0x0b, '_',  'P', 'T', 'S', 0x01,
	                                0x70, 0x68, 0x50, 'T', 'S', '_'};
	size_t n = 0;
	memcpy(out + n, before, sizeof(before));
	n += sizeof(before);
	out[n++] = 0x08;
	if (root)
		out[n++] = '\\';
	memcpy(out + n, "_S5_", 4);
	n += 4;
	out[n++] = 0x12;
	size_t len = (size_t)pkglen_bytes + 1 + nelem_bytes; /* PkgLength counts itself */
	if (pkglen_bytes == 1) {
		assert_true(len < 64);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = (uint8_t)(((pkglen_bytes - 1) << 6) | (len & 0xf));
		for (int k = 1; k < pkglen_bytes; k++)
			out[n++] = (uint8_t)(len >> (4 + 8 * (k - 1)));
	}
	out[n++] = nelems;
	memcpy(out + n, elems, nelem_bytes);
	n += nelem_bytes;
	memcpy(out + n, after, sizeof(after));
	n += sizeof(after);
	return n;
}

static void test_s5_encodings(void **state)
{
	uint8_t aml[256], a, b;
	/* QEMU: Package (0x04) { Zero, Zero, Zero, Zero } */
	static const uint8_t zeros[] = {0x00, 0x00, 0x00, 0x00};
	/* iasl from Package () { 0x07, 0x07, 0, 0 } with BytePrefix */
	static const uint8_t bytes[] = {0x0a, 0x07, 0x0a, 0x07, 0x00, 0x00};
	/* Package () { 0x05, One } on chipsets where SLP_TYPb is 1 */
	static const uint8_t mixed[] = {0x0a, 0x05, 0x01};
	/* WordPrefix values (only the low byte matters for a 3-bit field) */
	static const uint8_t words[] = {0x0b, 0x06, 0x00, 0x0b, 0x02, 0x00};
	/* a single element: SLP_TYPb defaults to SLP_TYPa */
	static const uint8_t one[] = {0x0a, 0x03};
	/* an element Tern does not decode as SLP_TYPb (DWordPrefix) */
	static const uint8_t dword_b[] = {0x0a, 0x05, 0x0c, 0x04, 0x00, 0x00, 0x00};
	struct {
		const uint8_t *e;
		size_t n;
		uint8_t count, a, b;
	} cases[] = {
	    {zeros, sizeof(zeros), 4, 0, 0}, {bytes, sizeof(bytes), 4, 7, 7},
	    {mixed, sizeof(mixed), 2, 5, 1}, {words, sizeof(words), 2, 6, 2},
	    {one, sizeof(one), 1, 3, 3},     {dword_b, sizeof(dword_b), 2, 5, 5},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int root = 0; root < 2; root++) {
			for (int pl = 1; pl <= 4; pl++) {
				size_t n =
				    s5(aml, root, pl, cases[c].e, cases[c].n, cases[c].count);
				a = b = 0xee;
				assert_true(acpi_find_s5(aml, n, &a, &b));
				assert_int_equal(a, cases[c].a);
				assert_int_equal(b, cases[c].b);
			}
		}
	}
}

static void test_s5_absent_and_decoys(void **state)
{
	uint8_t a = 0xee, b = 0xee;
	/* no _S5_ at all */
	static const uint8_t none[] = {0x08, '_',  'S',  '4',  '_',  0x12, 0x06,
	                               0x04, 0x0a, 0x06, 0x0a, 0x06, 0x00, 0x00};
	assert_false(acpi_find_s5(none, sizeof(none), &a, &b));
	assert_false(acpi_find_s5(none, 0, &a, &b));
	/* _S5_ not after NameOp (a reference in a method), then the real one */
	static const uint8_t decoy[] = {0x70, '_',  'S',  '5',  '_',  0x12, 0x04,
	                                0x01, 0x0a, 0x01, 0x08, '_',  'S',  '5',
	                                '_',  0x12, 0x05, 0x02, 0x0a, 0x05, 0x01};
	assert_true(acpi_find_s5(decoy, sizeof(decoy), &a, &b));
	assert_int_equal(a, 5);
	assert_int_equal(b, 1);
	/* NameOp _S5_ of something that is not a package, then the package */
	static const uint8_t notpkg[] = {0x08, '_', 'S', '5', '_',  0x0a, 0x07, 0x08, '\\',
	                                 '_',  'S', '5', '_', 0x12, 0x04, 0x01, 0x0a, 0x02};
	a = b = 0xee;
	assert_true(acpi_find_s5(notpkg, sizeof(notpkg), &a, &b));
	assert_int_equal(a, 2);
	assert_int_equal(b, 2);
	/* '\' without NameOp in front is not a declaration */
	static const uint8_t slash[] = {0x70, '\\', '_',  'S',  '5', '_',
	                                0x12, 0x04, 0x01, 0x0a, 0x02};
	assert_false(acpi_find_s5(slash, sizeof(slash), &a, &b));
	/* at offset 0 there is no room for a NameOp */
	static const uint8_t first[] = {'_', 'S', '5', '_', 0x12, 0x04, 0x01, 0x0a, 0x02};
	assert_false(acpi_find_s5(first, sizeof(first), &a, &b));
	/* a package whose first element is no integer */
	static const uint8_t str[] = {0x08, '_',  'S', '5',  '_',  0x12, 0x07,
	                              0x02, 0x0d, 'a', 0x00, 0x0a, 0x05};
	assert_false(acpi_find_s5(str, sizeof(str), &a, &b));
	/* the Firecracker DSDT has no _S5 (hardware-reduced) - emulate with the MADT bytes */
	assert_false(acpi_find_s5(fc_apic, sizeof(fc_apic), &a, &b));
}

static void test_s5_truncated(void **state)
{
	uint8_t full[256];
	static const uint8_t bytes[] = {0x0a, 0x07, 0x0a, 0x07, 0x00, 0x00};
	for (int pl = 1; pl <= 4; pl++) {
		size_t n = s5(full, true, pl, bytes, sizeof(bytes), 4);
		const uint8_t *p = memmem(full, n, "_S5_", 4);
		size_t name = (size_t)(p - full);
		size_t first = name + 4 + 1 + (size_t)pl + 1; /* the first element */
		for (size_t len = 0; len <= n; len++) {
			/* a copy of exactly len bytes, so ASan catches any read past the end */
			uint8_t *cut = malloc(len ? len : 1);
			memcpy(cut, full, len);
			uint8_t a = 0xee, b = 0xee;
			bool ok = acpi_find_s5(cut, len, &a, &b);
			if (len >= first + 2) {
				assert_true(ok);
				assert_int_equal(a, 7);
				assert_int_equal(b,
				                 len >= first + 4 ? 7 : 7); /* b falls back to a */
			} else {
				assert_false(ok);
			}
			free(cut);
		}
	}
	/* a PkgLength lead byte claiming 3 more bytes at the very end */
	static const uint8_t tail[] = {0x00, 0x08, '_', 'S', '5', '_', 0x12, 0xc0};
	uint8_t *cut = malloc(sizeof(tail));
	memcpy(cut, tail, sizeof(tail));
	uint8_t a, b;
	assert_false(acpi_find_s5(cut, sizeof(tail), &a, &b));
	free(cut);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checksum),         cmocka_unit_test(test_madt_firecracker),
	    cmocka_unit_test(test_madt_qemu),        cmocka_unit_test(test_madt_cpus),
	    cmocka_unit_test(test_madt_limits),      cmocka_unit_test(test_madt_lapic_override),
	    cmocka_unit_test(test_madt_malformed),   cmocka_unit_test(test_mcfg),
	    cmocka_unit_test(test_fadt_piix_rev1),   cmocka_unit_test(test_fadt_q35_rev3),
	    cmocka_unit_test(test_fadt_firecracker), cmocka_unit_test(test_fadt_x_fields),
	    cmocka_unit_test(test_fadt_lengths),     cmocka_unit_test(test_fadt_reset_register),
	    cmocka_unit_test(test_s5_encodings),     cmocka_unit_test(test_s5_absent_and_decoys),
	    cmocka_unit_test(test_s5_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
