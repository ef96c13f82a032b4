/*
 * ACPI tables for a guest (ACPI 6.5): RSDP, XSDT, FADT (+FACS), MADT, MCFG and a DSDT written
 * in AML by hand (PCI root bridge with its resources, \_S5). Pure: the tables are built into
 * a buffer that will sit at guest-physical address `base`; host-tested by parsing them back.
 */
#ifndef TERN_ACPI_BUILD_H
#define TERN_ACPI_BUILD_H

#include "kernel/compiler.h"

struct acpi_build_params {
	int ncpus;
	uint32_t ioapic_id;
	uint64_t ioapic_addr, lapic_addr;
	uint64_t ecam_base;
	uint8_t ecam_bus_end;
	uint64_t pci_mmio_base, pci_mmio_end;
	uint16_t pm1a_evt, pm1a_cnt, pm_tmr, reset_port;
	uint8_t reset_value;
	uint16_t sci_irq;
	uint8_t s5_typ;
};

/* acpi_build: write the tables into buf (cap bytes, placed at guest-physical base);
 * returns bytes used or 0 if they do not fit. The RSDP is at offset 0. */
size_t acpi_build(uint8_t *buf, size_t cap, uint64_t base, const struct acpi_build_params *p);

#endif
