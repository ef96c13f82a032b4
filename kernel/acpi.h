/*
 * ACPI: the tables Tern reads from the firmware (ACPI 6.5 ch. 5): MADT (CPUs, IOAPICs,
 * interrupt overrides), MCFG (PCI ECAM), FADT (PM timer, reset register, sleep control) and the
 * \_S5 package in the DSDT (soft power-off). The parsers are pure and host-tested; acpi.c walks
 * the firmware's RSDP/XSDT in memory.
 */
#ifndef TERN_ACPI_H
#define TERN_ACPI_H

#include "kernel/compiler.h"

struct acpi_sdt {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

/* Generic Address Structure (ACPI 6.5 5.2.3.2). */
struct acpi_gas {
	uint8_t space; /* 0 = system memory, 1 = system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __packed;

#define ACPI_GAS_MEM 0
#define ACPI_GAS_IO  1

#define ACPI_MAX_CPUS    64
#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_ISO     24
#define ACPI_MAX_MCFG    4

struct acpi_info {
	uint64_t lapic_phys;
	bool pcat_compat; /* MADT flag: legacy 8259 PICs present */
	int ncpu;
	uint32_t cpu_apic_id[ACPI_MAX_CPUS];
	int cpus_skipped; /* enabled CPUs beyond ACPI_MAX_CPUS */
	int nioapic;
	struct {
		uint8_t id;
		uint32_t addr;
		uint32_t gsi_base;
	} ioapic[ACPI_MAX_IOAPICS];
	int niso;
	struct {
		uint8_t source; /* ISA IRQ */
		uint32_t gsi;
		uint16_t flags; /* MPS INTI flags: polarity bits 1:0, trigger bits 3:2 */
	} iso[ACPI_MAX_ISO];
	int nmcfg;
	struct {
		uint64_t base;
		uint16_t segment;
		uint8_t bus_start, bus_end;
	} mcfg[ACPI_MAX_MCFG];
	/* FADT */
	bool have_fadt;
	uint64_t dsdt_phys;
	uint16_t sci_irq;
	uint32_t pm1a_cnt, pm1b_cnt; /* I/O ports */
	uint32_t pm_tmr;             /* I/O port of the PM timer, 0 if none */
	bool have_reset;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	bool have_s5;
	uint8_t slp_typa, slp_typb;
	char oem_id[7];
};

/* acpi_checksum_ok: the bytes of a table sum to zero. */
bool acpi_checksum_ok(const void *p, size_t len);
/* acpi_parse_madt / mcfg / fadt: fill info from one table of len bytes; false if malformed. */
bool acpi_parse_madt(const void *tbl, size_t len, struct acpi_info *info);
bool acpi_parse_mcfg(const void *tbl, size_t len, struct acpi_info *info);
bool acpi_parse_fadt(const void *tbl, size_t len, struct acpi_info *info);
/* acpi_find_s5: scan DSDT AML for the \_S5 package; fills SLP_TYPa/b. */
bool acpi_find_s5(const uint8_t *aml, size_t len, uint8_t *typa, uint8_t *typb);

/* Kernel side (acpi.c). */
extern struct acpi_info acpi;
void acpi_init(uint64_t rsdp_phys);
/* acpi_find_table: the table with this signature (n-th match), mapped, or NULL. */
const struct acpi_sdt *acpi_find_table(const char sig[4], int n);
uint16_t acpi_pm_timer_port(void);
/* acpi_poweroff / acpi_reset: return only if the platform did not act. */
void acpi_poweroff(void);
void acpi_reset(void);

#endif
