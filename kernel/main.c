/* kmain: the boot CPU's path from the loader's hand-off to the console shell. */
#include "boot/bootinfo.h"
#include "drivers/pci.h"
#include "drivers/uart.h"
#include "kernel/acpi.h"
#include "kernel/apic.h"
#include "kernel/bootfs.h"
#include "kernel/config.h"
#include "kernel/console.h"
#include "kernel/fpu.h"
#include "kernel/gdt.h"
#include "kernel/ksyms.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/shell.h"
#include "kernel/smp.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/vm.h"
#include "kernel/x86.h"
#include "kernel/wallclock.h"
#include "kernel/random.h"
#include "vmm/hvdetect.h"
#include "vmm/vmm.h"
#include "net/host/netd.h"
#include "migrate/server.h"
#include "ha/agent.h"
#include "vmm/vmcmd.h"

uint64_t kernel_phys_base;
static uint64_t g_boot_tsc;

/* init_main: start-up that needs a thread (it may sleep), then the console shell. */
static void init_main(void *arg)
{
	(void)arg;
	vmm_init();
	config_load();
	netd_start();
	peer_service_start();
	ha_agent_start();
	vm_autostart();
	uint64_t ms = tsc_to_ns(rdtsc() - g_boot_tsc) / 1000000;
	klog("boot: ready %llu ms after the loader started", (unsigned long long)ms);
	shell_main(NULL);
}

/* check_boot_info: the loader and kernel must agree on the hand-off structure. */
static void check_boot_info(const struct boot_info *bi)
{
	if (bi->magic != BOOTINFO_MAGIC)
		panic("boot info has bad magic %#llx (wrong loader?)",
		      (unsigned long long)bi->magic);
	if (bi->version != BOOTINFO_VERSION || bi->size != sizeof(*bi))
		panic("boot info version %u size %u, kernel expects %u/%zu", bi->version, bi->size,
		      BOOTINFO_VERSION, sizeof(*bi));
}

/* kmain: bring up memory, interrupts, time, CPUs, devices, then start the shell. */
void kmain(struct boot_info *bi)
{
	percpu_init(0);
	time_set_origin(rdtsc());
	console_init();
	kprintf("\nTern hypervisor starting\n");
	check_boot_info(bi);
	kernel_phys_base = bi->kernel_phys;
	pmm_init(bi);
	gdt_init_cpu(&cpus[0].gdt);
	idt_init();
	if (!ksyms_init(P2V(bi->kernel_file_phys), bi->kernel_file_size))
		klog("ksyms: no symbol table; stack traces show addresses only");
	vm_init(bi);
	fpu_init_cpu();
	acpi_init(bi->rsdp_phys);
	time_init();
	lapic_init_bsp();
	ioapic_init();
	sched_init_cpu();
	sti();
	smp_init(bi);
	if (uart_enable_rx_irq(COM1_PORT, COM1_IRQ))
		console_start_async(); /* output no longer waits for the serial line */
	bootfs_init(bi);
	pci_init();
	wallclock_init();
	random_init();
	g_boot_tsc = bi->boot_tsc;
	if (!thread_create("init", init_main, NULL, 0))
		panic("cannot start the init thread");
	sched_idle_loop();
}
