/* The virtual platform: device creation, IRQ routing, device timers, ACPI PM registers. */
#include "vmm/platform.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"
#include "vmm/gconsole.h"
#include "vmm/vm.h"

#define PM1_TMR_STS    (1u << 0)
#define PM1_PWRBTN     (1u << 8)
#define PM1_CNT_SCI    (1u << 0)
#define PM1_SLP_EN     (1u << 13)
#define PM1_SLP_TYP(v) (((v) >> 10) & 7)
#define PM_TIMER_HZ    3579545ULL

/* pm_pio: PM1a event (status/enable), PM1a control (sleep) and the PM timer (ACPI 4.8). */
static void pm_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write,
                   uint32_t *val)
{
	struct vm *vm = dev;
	struct acpi_pm *pm = &vm->plat.pm;
	(void)v;
	switch (port) {
	case PORT_ACPI_PM1A_EVT:
	case PORT_ACPI_PM1A_EVT + 1:
		if (write && size >= 2)
			pm->pm1_sts &= (uint16_t) ~*val; /* write 1 to clear */
		else if (!write)
			*val = pm->pm1_sts;
		break;
	case PORT_ACPI_PM1A_EVT + 2:
		if (write)
			pm->pm1_en = (uint16_t)*val;
		else
			*val = pm->pm1_en;
		break;
	case PORT_ACPI_PM1A_CNT:
		if (!write) {
			*val = pm->pm1_cnt;
			break;
		}
		pm->pm1_cnt = (uint16_t)(*val & ~PM1_SLP_EN);
		if ((*val & PM1_SLP_EN) && PM1_SLP_TYP(*val) == ACPI_S5_TYP)
			vm_request_stop(vm, "guest powered off (ACPI S5)");
		break;
	case PORT_ACPI_PM_TMR:
		/* 24 bits at 3.579545 MHz (ACPI 6.5 4.8.3.3), counted off the VM's TSC rather than
		 * the host's, so that it moves with the VM: continuous across snapshot/restore and
		 * migration (the host's TSC differs from host to host; a guest that took this
		 * timer as its clocksource saw its clock jump by that difference) */
		if (!write)
			*val =
			    (uint32_t)(muldiv64(vcpu_guest_tsc(v), PM_TIMER_HZ, tsc_hz) & 0xffffff);
		break;
	default:
		if (!write)
			*val = 0xffffffffu;
		break;
	}
}

/* reset_pio: 0xCF9 reset control register: bit 2 requests a reset. */
static void reset_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write,
                      uint32_t *val)
{
	(void)v, (void)port, (void)size;
	if (!write) {
		*val = 0;
		return;
	}
	if (*val & 4)
		vm_request_stop(dev, "guest requested a reset");
}

/* debugcon_pio: port 0xE9: bytes written appear on the VM console (Bochs/QEMU convention). */
static void debugcon_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write,
                         uint32_t *val)
{
	(void)v, (void)port;
	if (!write) {
		*val = 0xe9;
		return;
	}
	char c[4];
	for (unsigned i = 0; i < size; i++)
		c[i] = (char)(*val >> (8 * i));
	gconsole_output(dev, c, size);
}

/* sink_pio: ports Linux pokes on every PC that need no behaviour (POST code, 8042 probe). */
static void sink_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write,
                     uint32_t *val)
{
	(void)dev, (void)v, (void)port, (void)size;
	if (!write)
		*val = 0xffffffffu;
}

static void ioapic_mmio(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write,
                        uint64_t *val)
{
	vioapic_mmio(dev, v, gpa, size, write, val);
}

/* lapic_mmio: each vCPU reaches its own LAPIC at the same address. */
static void lapic_mmio(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write,
                       uint64_t *val)
{
	(void)dev;
	vlapic_mmio(&v->lapic, gpa - GUEST_LAPIC_BASE, size, write, val);
}

void platform_init(struct vm *vm)
{
	struct platform *p = &vm->plat;
	uint64_t low = vm->mem.slot[0].size;
	uint64_t high = vm->mem.nslots > 1 ? vm->mem.slot[1].size : 0;
	vioapic_init(&p->ioapic, vm);
	vpic_init(&p->pic, vm);
	vpit_init(&p->pit, vm);
	vrtc_init(&p->rtc, low, high);
	vuart_init(&p->uart, vm, 0x3f8, IRQ_COM1);
	vpci_init(&p->pci, vm);
	memset(&p->pm, 0, sizeof(p->pm));
	vm->npio = vm->nmmio = 0;
	vm_add_pio(vm, 0x20, 0x21, vpic_pio, &p->pic);
	vm_add_pio(vm, 0xa0, 0xa1, vpic_pio, &p->pic);
	vm_add_pio(vm, 0x4d0, 0x4d1, vpic_pio, &p->pic);
	vm_add_pio(vm, 0x40, 0x43, vpit_pio, &p->pit);
	vm_add_pio(vm, 0x61, 0x61, vpit_pio, &p->pit);
	vm_add_pio(vm, 0x70, 0x71, vrtc_pio, &p->rtc);
	vm_add_pio(vm, 0x3f8, 0x3ff, vuart_pio, &p->uart);
	/* before the PCI window 0xcf8-0xcff: the first matching range handles a port */
	vm_add_pio(vm, PORT_RESET, PORT_RESET, reset_pio, vm);
	vm_add_pio(vm, 0xcf8, 0xcff, vpci_pio, &p->pci);
	vm_add_pio(vm, PORT_ACPI_PM1A_EVT, PORT_ACPI_PM_TMR + 3, pm_pio, vm);
	vm_add_pio(vm, PORT_DEBUGCON, PORT_DEBUGCON, debugcon_pio, vm);
	vm_add_pio(vm, 0x80, 0x80, sink_pio, vm);
	vm_add_pio(vm, 0x60, 0x64, sink_pio, vm);
	vm_add_mmio(vm, GUEST_LAPIC_BASE, GUEST_LAPIC_BASE + 0xfff, lapic_mmio, vm);
	vm_add_mmio(vm, GUEST_IOAPIC_BASE, GUEST_IOAPIC_BASE + 0xff, ioapic_mmio, &p->ioapic);
	vm_add_mmio(vm, GUEST_ECAM_BASE, GUEST_ECAM_BASE + (GUEST_ECAM_BUSES << 20) - 1, vpci_ecam,
	            &p->pci);
	vm_add_mmio(vm, GUEST_PCI_MMIO, GUEST_PCI_MMIO_END, vpci_mmio, &p->pci);
}

/* isa_pin: the IOAPIC pin of an ISA IRQ (IRQ 0 is wired to pin 2, as the MADT says). */
static unsigned isa_pin(unsigned gsi)
{
	return gsi == 0 ? 2 : gsi;
}

void platform_set_irq(struct vm *vm, unsigned gsi, bool level)
{
	if (gsi < 16)
		vpic_set_irq(&vm->plat.pic, gsi, level);
	vioapic_set_irq(&vm->plat.ioapic, isa_pin(gsi), level);
}

void platform_pulse_irq(struct vm *vm, unsigned gsi)
{
	platform_set_irq(vm, gsi, true);
	platform_set_irq(vm, gsi, false);
}

uint64_t platform_timers(struct vm *vm)
{
	return vpit_timer(&vm->plat.pit);
}
