/*
 * libFuzzer target for the ACPI table parsers. The first byte picks the parser (MADT, MCFG,
 * FADT, \_S5 scan, or all of them), the rest is the table; for the three tables the signature
 * is forced so the fuzzer spends its time past it. Every parser reads only the bytes it is
 * given (the copy is exactly that long, so ASan sees any overread) and keeps its counts
 * within the fixed arrays.
 */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/acpi.h"
#include "tests/fuzz/fuzz_check.h"

/* table: a copy of the input of exactly its size with sig written over the first bytes. */
static uint8_t *table(const uint8_t *p, size_t n, const char *sig)
{
	uint8_t *t = malloc(n ? n : 1);
	memcpy(t, p, n);
	if (sig)
		memcpy(t, sig, n < 4 ? n : 4);
	return t;
}

static void check_info(const struct acpi_info *i)
{
	CHECK(i->ncpu >= 0 && i->ncpu <= ACPI_MAX_CPUS);
	CHECK(i->cpus_skipped >= 0);
	CHECK(i->nioapic >= 0 && i->nioapic <= ACPI_MAX_IOAPICS);
	CHECK(i->niso >= 0 && i->niso <= ACPI_MAX_ISO);
	CHECK(i->nmcfg >= 0 && i->nmcfg <= ACPI_MAX_MCFG);
	for (int a = 0; a < i->ncpu; a++)
		for (int b = a + 1; b < i->ncpu; b++)
			CHECK(i->cpu_apic_id[a] != i->cpu_apic_id[b]);
	for (int k = 0; k < i->nmcfg; k++)
		CHECK(i->mcfg[k].base && i->mcfg[k].bus_start <= i->mcfg[k].bus_end);
	CHECK(i->pm_tmr <= 0xffff);
	if (i->have_reset)
		CHECK(i->have_fadt && i->reset_reg.address);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0] % 5;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct acpi_info info;
	memset(&info, 0, sizeof(info));
	uint8_t *t;
	if (mode == 0 || mode == 4) {
		t = table(p, n, mode ? NULL : "APIC");
		bool ok = acpi_parse_madt(t, n, &info);
		CHECK(!ok || n >= 44);
		free(t);
	}
	if (mode == 1 || mode == 4) {
		t = table(p, n, mode == 4 ? NULL : "MCFG");
		bool ok = acpi_parse_mcfg(t, n, &info);
		CHECK(!ok || n >= 44);
		free(t);
	}
	if (mode == 2 || mode == 4) {
		t = table(p, n, mode == 4 ? NULL : "FACP");
		bool ok = acpi_parse_fadt(t, n, &info);
		CHECK(ok == info.have_fadt);
		CHECK(!ok || n >= 116);
		free(t);
	}
	if (mode == 3 || mode == 4) {
		t = table(p, n, NULL);
		uint8_t a = 0xee, b = 0xee;
		if (acpi_find_s5(t, n, &a, &b))
			CHECK(memmem(t, n, "_S5_", 4) != NULL);
		free(t);
	}
	t = table(p, n, NULL);
	(void)acpi_checksum_ok(t, n);
	free(t);
	check_info(&info);
	return 0;
}
