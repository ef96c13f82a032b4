/* What firmware would leave for the guest: the e820 map and the ACPI tables. */
#include "kernel/heap.h"
#include "kernel/string.h"
#include "vmm/acpi_build.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

#define E820_RAM      1
#define E820_RESERVED 2

/* add: one e820 entry if there is room. */
static void add(uint64_t (*e)[3], int *n, int max, uint64_t addr, uint64_t size, uint64_t type)
{
	if (*n < max && size) {
		e[*n][0] = addr;
		e[*n][1] = size;
		e[*n][2] = type;
		(*n)++;
	}
}

/* platform_e820: RAM below 640 KiB, the BIOS area (ACPI tables), RAM to the hole, the ECAM
 * window and APIC pages reserved (Linux requires MCFG areas reserved), RAM above 4 GiB. */
int platform_e820(struct vm *vm, uint64_t (*e)[3], int max)
{
	int n = 0;
	uint64_t low = vm->mem.slot[0].size;
	add(e, &n, max, 0, GUEST_EBDA, E820_RAM);
	add(e, &n, max, GUEST_EBDA, 0x100000 - GUEST_EBDA, E820_RESERVED);
	add(e, &n, max, 0x100000, low - 0x100000, E820_RAM);
	add(e, &n, max, GUEST_ECAM_BASE, (uint64_t)GUEST_ECAM_BUSES << 20, E820_RESERVED);
	add(e, &n, max, GUEST_IOAPIC_BASE, 0x1000, E820_RESERVED);
	add(e, &n, max, GUEST_LAPIC_BASE, 0x1000, E820_RESERVED);
	if (vm->mem.nslots > 1)
		add(e, &n, max, vm->mem.slot[1].gpa, vm->mem.slot[1].size, E820_RAM);
	return n;
}

/* platform_build_firmware: ACPI tables at GUEST_BIOS_AREA. */
bool platform_build_firmware(struct vm *vm)
{
	struct acpi_build_params p = {
	    .ncpus = vm->nvcpus,
	    .ioapic_id = (uint32_t)vm->nvcpus,
	    .ioapic_addr = GUEST_IOAPIC_BASE,
	    .lapic_addr = GUEST_LAPIC_BASE,
	    .ecam_base = GUEST_ECAM_BASE,
	    .ecam_bus_end = GUEST_ECAM_BUSES - 1,
	    .pci_mmio_base = GUEST_PCI_MMIO,
	    .pci_mmio_end = GUEST_PCI_MMIO_END,
	    .pm1a_evt = PORT_ACPI_PM1A_EVT,
	    .pm1a_cnt = PORT_ACPI_PM1A_CNT,
	    .pm_tmr = PORT_ACPI_PM_TMR,
	    .reset_port = PORT_RESET,
	    .reset_value = 0x06,
	    .sci_irq = ACPI_SCI_IRQ,
	    .s5_typ = ACPI_S5_TYP,
	};
	const size_t cap = 0x10000;
	uint8_t *buf = kmalloc(cap);
	if (!buf)
		return false;
	size_t len = acpi_build(buf, cap, GUEST_BIOS_AREA, &p);
	bool ok = len && gmem_write(&vm->mem, GUEST_BIOS_AREA, buf, len);
	kfree(buf);
	vm->plat.ioapic.id = (uint32_t)vm->nvcpus;
	vm->plat.pm.pm1_cnt = 1; /* SCI_EN: the platform is in ACPI mode from the start */
	return ok;
}
