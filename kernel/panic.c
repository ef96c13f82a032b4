/* panic(): report, stop the other CPUs with an NMI, and halt. */
#include "kernel/panic.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/fmt.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/trap.h"
#include "kernel/x86.h"

static volatile int g_panicking = -1; /* id of the CPU that panicked first */

bool panic_in_progress(void)
{
	return g_panicking >= 0;
}

/* panic_stop_cpu: interrupts off, halt forever. */
void panic_stop_cpu(void)
{
	for (;;) {
		cli();
		hlt();
	}
}

/* panic: print "PANIC (cpu N): message" and a stack trace, then stop every CPU. */
void panic(const char *fmt, ...)
{
	cli();
	int me = cpu_id();
	int expect = -1;
	if (!__atomic_compare_exchange_n(&g_panicking, &expect, me, false, __ATOMIC_SEQ_CST,
	                                 __ATOMIC_SEQ_CST) &&
	    expect != me)
		panic_stop_cpu(); /* someone else is already reporting */
	console_set_emergency();
	lapic_nmi_others();
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("\nPANIC (cpu %d): %s\n", me, buf);
	stack_trace(*(uint64_t *)read_rbp(), (uint64_t)__builtin_return_address(0));
	kprintf("System halted.\n");
	panic_stop_cpu();
}
