/*
 * The virtual platform a stock Linux needs (a trimmed PC): 16550 UART, 8259 PIC pair, 8254
 * PIT with port 0x61, CMOS RTC, IOAPIC, ACPI PM registers (timer, sleep control), PCI host
 * bridge (ports 0xCF8/0xCFC and ECAM), and the ACPI tables and e820 map that describe them.
 * Guest-physical and port layout constants are here too.
 */
#ifndef TERN_PLATFORM_H
#define TERN_PLATFORM_H

#include "kernel/compiler.h"
#include "vmm/ioapic.h"
#include "vmm/pic.h"
#include "vmm/pit.h"
#include "vmm/rtc.h"
#include "vmm/uart.h"
#include "vmm/vpci.h"

struct vm;
struct vcpu;

/* Guest-physical layout. */
#define GUEST_HOLE_START   0xb0000000ULL /* RAM below, devices above (to 4 GiB) */
#define GUEST_ECAM_BASE    0xb0000000ULL /* PCI ECAM for bus 0..ECAM_BUSES-1 */
#define GUEST_ECAM_BUSES   1
#define GUEST_PCI_MMIO     0xc0000000ULL /* BAR window */
#define GUEST_PCI_MMIO_END 0xfebfffffULL
#define GUEST_IOAPIC_BASE  0xfec00000ULL
#define GUEST_LAPIC_BASE   0xfee00000ULL
#define GUEST_BIOS_AREA    0x000e0000ULL /* ACPI tables (reserved in e820) */
#define GUEST_EBDA         0x0009fc00ULL

/* Ports. */
#define PORT_ACPI_PM1A_EVT 0x600
#define PORT_ACPI_PM1A_CNT 0x604
#define PORT_ACPI_PM_TMR   0x608
#define PORT_RESET         0xcf9
#define PORT_DEBUGCON      0xe9 /* bytes written here go to the VM's console */
#define ACPI_S5_TYP        5    /* SLP_TYP value of \_S5 in Tern's DSDT */
#define ACPI_SCI_IRQ       9

/* ISA IRQs. */
#define IRQ_PIT  0
#define IRQ_COM1 4
#define IRQ_RTC  8

struct acpi_pm {
	uint16_t pm1_sts, pm1_en, pm1_cnt;
};

struct platform {
	struct vioapic ioapic;
	struct vpic pic;
	struct vpit pit;
	struct vrtc rtc;
	struct vuart uart;
	struct acpi_pm pm;
	struct vpci pci;
};

/* platform_init: create every device and register its ports and MMIO ranges. */
void platform_init(struct vm *vm);
/* platform_set_irq: drive ISA IRQ / GSI line `gsi` to level (PIC for < 16, and IOAPIC). */
void platform_set_irq(struct vm *vm, unsigned gsi, bool level);
/* platform_pulse_irq: an edge on gsi. */
void platform_pulse_irq(struct vm *vm, unsigned gsi);
/* platform_timers: run device timers that are due; returns the next deadline (host TSC). */
uint64_t platform_timers(struct vm *vm);
/* platform_build_firmware: ACPI tables and the e820 map in guest memory. */
bool platform_build_firmware(struct vm *vm);
/* platform_e820: fill up to max entries (addr, size, type) of the guest's memory map. */
int platform_e820(struct vm *vm, uint64_t (*ent)[3], int max);

#endif
