/* IDT set-up, exception reports and interrupt dispatch. */
#include "kernel/trap.h"
#include "kernel/apic.h"
#include "kernel/gdt.h"
#include "kernel/ksyms.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/x86.h"
#include "kernel/mmu.h"

extern const uint64_t isr_table[256];

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type; /* P | DPL | type (0xE = 64-bit interrupt gate) */
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
} __packed;

static struct idt_gate g_idt[256] __aligned(16);
static bool g_idt_built;
static struct {
	irq_handler_fn fn;
	void *arg;
} g_handlers[256];
static struct spinlock g_vec_lock = SPINLOCK_INIT("vectors");

static const char *const g_exc_names[32] = {"#DE divide error",
                                            "#DB debug",
                                            "NMI",
                                            "#BP breakpoint",
                                            "#OF overflow",
                                            "#BR bound range",
                                            "#UD invalid opcode",
                                            "#NM device not available",
                                            "#DF double fault",
                                            "coprocessor overrun",
                                            "#TS invalid TSS",
                                            "#NP segment not present",
                                            "#SS stack fault",
                                            "#GP general protection",
                                            "#PF page fault",
                                            "reserved 15",
                                            "#MF x87 error",
                                            "#AC alignment check",
                                            "#MC machine check",
                                            "#XM SIMD exception",
                                            "#VE virtualization",
                                            "#CP control protection",
                                            "reserved 22",
                                            "reserved 23",
                                            "reserved 24",
                                            "reserved 25",
                                            "reserved 26",
                                            "reserved 27",
                                            "#HV hypervisor injection",
                                            "#VC VMM communication",
                                            "#SX security",
                                            "reserved 31"};

/* set_gate: an interrupt gate (IF cleared on entry) for vector v. */
static void set_gate(int v, uint64_t handler, int ist)
{
	g_idt[v] = (struct idt_gate){
	    .off_lo = handler & 0xffff,
	    .sel = SEL_KCODE,
	    .ist = (uint8_t)ist,
	    .type = 0x8e,
	    .off_mid = (handler >> 16) & 0xffff,
	    .off_hi = (uint32_t)(handler >> 32),
	};
}

/* idt_init: gates for all 256 vectors; #DF, NMI and #MC on their own IST stacks. */
void idt_init(void)
{
	if (!g_idt_built) {
		for (int v = 0; v < 256; v++)
			set_gate(v, isr_table[v], 0);
		set_gate(8, isr_table[8], IST_DOUBLE_FAULT);
		set_gate(2, isr_table[2], IST_NMI);
		set_gate(18, isr_table[18], IST_MCE);
		g_idt_built = true;
	}
	struct __packed {
		uint16_t limit;
		uint64_t base;
	} idtr = {sizeof(g_idt) - 1, (uint64_t)g_idt};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* irq_register: install a handler for a vector. */
void irq_register(int vector, irq_handler_fn fn, void *arg)
{
	ASSERT(vector >= 32 && vector < 256);
	g_handlers[vector].arg = arg;
	__atomic_store_n(&g_handlers[vector].fn, fn, __ATOMIC_RELEASE);
}

/* irq_alloc_vector: first device vector without a handler. */
int irq_alloc_vector(void)
{
	spin_lock(&g_vec_lock);
	for (int v = VEC_DEVICE_LO; v <= VEC_DEVICE_HI; v++) {
		if (!g_handlers[v].fn) {
			g_handlers[v].fn = (irq_handler_fn)1; /* reserved until registered */
			spin_unlock(&g_vec_lock);
			return v;
		}
	}
	spin_unlock(&g_vec_lock);
	return -1;
}

/* print_sym: "  ffffffff80001234 kmain+0x34". */
static void print_sym(uint64_t addr)
{
	uint64_t off;
	const char *name = ksym_lookup(addr, &off);
	if (name)
		kprintf("  %016llx %s+%#llx\n", (unsigned long long)addr, name,
		        (unsigned long long)off);
	else
		kprintf("  %016llx\n", (unsigned long long)addr);
}

/* stack_trace: follow saved RBPs while they point into plausible kernel stack memory. */
void stack_trace(uint64_t rbp, uint64_t rip)
{
	kprintf("Stack trace:\n");
	print_sym(rip);
	for (int depth = 0; depth < 32; depth++) {
		if (rbp < PHYSMAP_BASE || (rbp & 7))
			break;
		uint64_t *fp = (uint64_t *)rbp;
		uint64_t ret = fp[1];
		if (ret < KERNEL_VBASE)
			break;
		print_sym(ret);
		if (fp[0] <= rbp)
			break; /* frames must move up the stack */
		rbp = fp[0];
	}
}

/* trap_dump: the register dump printed for every fatal exception. */
void trap_dump(const struct trap_frame *f)
{
	kprintf("Register dump (CPU %d):\n", cpu_id());
	kprintf("RIP=%016llx CS=%04llx RFLAGS=%016llx ERR=%016llx\n", (unsigned long long)f->rip,
	        (unsigned long long)f->cs, (unsigned long long)f->rflags,
	        (unsigned long long)f->error);
	kprintf("RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", (unsigned long long)f->rax,
	        (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
	kprintf("RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", (unsigned long long)f->rsi,
	        (unsigned long long)f->rdi, (unsigned long long)f->rbp, (unsigned long long)f->rsp);
	kprintf("R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", (unsigned long long)f->r8,
	        (unsigned long long)f->r9, (unsigned long long)f->r10, (unsigned long long)f->r11);
	kprintf("R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", (unsigned long long)f->r12,
	        (unsigned long long)f->r13, (unsigned long long)f->r14, (unsigned long long)f->r15);
	kprintf("CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n", (unsigned long long)read_cr0(),
	        (unsigned long long)read_cr2(), (unsigned long long)read_cr3(),
	        (unsigned long long)read_cr4());
	stack_trace(f->rbp, f->rip);
}

/* exception: a CPU exception in the kernel is a bug: report it and panic. */
static void exception(struct trap_frame *f)
{
	if (f->vector == VEC_NMI) {
		if (panic_in_progress())
			panic_stop_cpu(); /* another CPU panicked and stopped us */
		klog("cpu %d: NMI received (ignored)", cpu_id());
		return;
	}
	kprintf("\nCPU %d: exception %s (vector %llu)", cpu_id(), g_exc_names[f->vector],
	        (unsigned long long)f->vector);
	if (f->vector == 14)
		kprintf(" accessing %#llx", (unsigned long long)read_cr2());
	kprintf("\n");
	trap_dump(f);
	panic("unhandled exception %s at %#llx", g_exc_names[f->vector],
	      (unsigned long long)f->rip);
}

/* trap_dispatch: called by trap_common for every vector. */
void trap_dispatch(struct trap_frame *f)
{
	if (f->vector < 32) {
		exception(f);
		return;
	}
	struct cpu *c = this_cpu();
	c->irq_count++;
	if (f->vector == VEC_SPURIOUS)
		return; /* no EOI for spurious interrupts (SDM 3A 11.9) */
	irq_handler_fn fn = __atomic_load_n(&g_handlers[f->vector].fn, __ATOMIC_ACQUIRE);
	if (fn && fn != (irq_handler_fn)1)
		fn(g_handlers[f->vector].arg);
	lapic_eoi();
	if (f->rflags & RFLAGS_IF)
		sched_irq_exit();
}

uint64_t irq_total(int id)
{
	return cpus[id].irq_count;
}
