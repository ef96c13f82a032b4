/* Application-processor start-up and per-CPU initialisation; see smp.h. */
#include "kernel/smp.h"
#include "kernel/acpi.h"
#include "kernel/apic.h"
#include "kernel/fpu.h"
#include "kernel/gdt.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/vm.h"
#include "kernel/x86.h"

extern char tramp_start[], tramp_end[], tramp_p_cr3[], tramp_p_efer[], tramp_p_stack[],
    tramp_p_entry[], tramp_p_arg[];

#define AP_STACK_SIZE (32 * 1024)

struct cpu cpus[MAX_CPUS];
int ncpus = 1;

/* percpu_init: GS_BASE -> cpus[id]. */
void percpu_init(int id)
{
	cpus[id].self = &cpus[id];
	cpus[id].id = id;
	wrmsr(MSR_GS_BASE, (uint64_t)&cpus[id]);
}

/* ap_main: first C code of an application processor. */
static void ap_main(struct cpu *c)
{
	percpu_init(c->id);
	gdt_init_cpu(&c->gdt);
	idt_init();
	vm_load();
	fpu_init_cpu();
	lapic_init_cpu();
	sched_init_cpu();
	c->tsc_online = rdtsc();
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
	sched_idle_loop();
}

/* patch: write a parameter into the trampoline copy at the offset of its symbol. */
static void patch(uint8_t *copy, const char *sym, const void *v, size_t n)
{
	memcpy(copy + (sym - tramp_start), v, n);
}

/* start_one: start the AP with this APIC id as cpus[id]; true once it reports online. */
static bool start_one(uint8_t *copy, uint64_t tramp_pa, int id, uint32_t apic_id)
{
	struct cpu *c = &cpus[id];
	c->id = id;
	c->apic_id = apic_id;
	c->present = true;
	void *stack = pmm_alloc_kva(AP_STACK_SIZE);
	if (!stack)
		return false;
	uint64_t sp = (uint64_t)stack + AP_STACK_SIZE - 8; /* as after a call */
	uint64_t entry = (uint64_t)ap_main, arg = (uint64_t)c;
	patch(copy, tramp_p_stack, &sp, 8);
	patch(copy, tramp_p_entry, &entry, 8);
	patch(copy, tramp_p_arg, &arg, 8);
	lapic_start_ap(apic_id, (uint8_t)(tramp_pa >> 12));
	uint64_t deadline = rdtsc() + tsc_hz; /* 1 s */
	while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE) && rdtsc() < deadline)
		cpu_relax();
	return c->online;
}

/* smp_init: copy the trampoline low, then start each AP in MADT order. */
int smp_init(const struct boot_info *bi)
{
	uint32_t me = lapic_id();
	cpus[0].apic_id = me;
	cpus[0].present = true;
	cpus[0].online = true;
	cpus[0].tsc_online = rdtsc();
	size_t len = (size_t)(tramp_end - tramp_start);
	uint64_t tpa = bi->trampoline_phys;
	if (!tpa || tpa >= 0x100000 || (tpa & 0xfff) || len > PAGE_SIZE) {
		klog("smp: no usable trampoline page; running on one CPU");
		return 1;
	}
	uint8_t *copy = P2V(tpa);
	memcpy(copy, tramp_start, len);
	vm_identity_map_page(tpa);
	uint32_t cr3 = (uint32_t)vm_kernel_cr3();
	uint32_t efer = (uint32_t)((rdmsr(MSR_EFER) & EFER_NXE) | EFER_LME);
	ASSERT(vm_kernel_cr3() < (1ULL << 32));
	patch(copy, tramp_p_cr3, &cr3, 4);
	patch(copy, tramp_p_efer, &efer, 4);
	int online = 1;
	for (int i = 0; i < acpi.ncpu && ncpus < MAX_CPUS; i++) {
		uint32_t apic_id = acpi.cpu_apic_id[i];
		if (apic_id == me)
			continue;
		if (apic_id > 0xff && !lapic_x2apic_mode()) {
			klog("smp: CPU with APIC id %u needs x2APIC mode, skipped", apic_id);
			continue;
		}
		int id = ncpus++;
		if (start_one(copy, tpa, id, apic_id))
			online++;
		else
			klog("smp: CPU %d (APIC id %u) did not come up", id, apic_id);
	}
	klog("smp: %d of %d CPU(s) online", online, ncpus);
	return online;
}

/* cpus_online: CPUs that finished start-up. */
int cpus_online(void)
{
	int n = 0;
	for (int i = 0; i < ncpus; i++)
		n += cpus[i].online;
	return n;
}
