/* System console commands: version, cpus, mem, uptime, log, threads, reboot, poweroff. */
#include "kernel/acpi.h"
#include "kernel/args.h"
#include "kernel/config.h"
#include "kernel/console.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/shell.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "vmm/hvdetect.h"

#ifndef TERN_VERSION
#define TERN_VERSION "0.0.0"
#endif
#ifndef TERN_GIT
#define TERN_GIT "unknown"
#endif

/* cmd_version: release, build, CPU and the virtualization backend. */
static int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("version");
	const struct hv_caps *hv = hv_detect();
	kprintf("Tern %s (git %s)\n", TERN_VERSION, TERN_GIT);
	kprintf("node: %s\n", node_name());
	kprintf("cpu: %s %s\n", hv->cpu_vendor, hv->brand);
	if (hv->vendor == HV_NONE)
		kprintf("backend: none (%s)\n", hv->why_not);
	else
		kprintf("backend: %s\n", hv_backend_name());
	return 0;
}
SHELL_COMMAND(version, "version", "version", "show version, CPU and virtualization backend",
              cmd_version);

/* cmd_cpus: one line per CPU. */
static int cmd_cpus(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("cpus");
	kprintf("%-4s %-8s %-8s %10s %10s\n", "CPU", "APIC-ID", "STATE", "IRQS", "TIMER");
	for (int i = 0; i < ncpus; i++) {
		struct cpu *c = &cpus[i];
		kprintf("%-4d %-8u %-8s %10llu %10llu\n", i, c->apic_id,
		        c->online ? "online" : "offline", (unsigned long long)irq_total(i),
		        (unsigned long long)c->ticks);
	}
	kprintf("%d of %d CPU(s) online\n", cpus_online(), ncpus);
	return 0;
}
SHELL_COMMAND(cpus, "cpus", "cpus", "list CPUs, their APIC ids and state", cmd_cpus);

/* mib: bytes to whole MiB for display. */
static unsigned long long mib(uint64_t b)
{
	return (unsigned long long)(b >> 20);
}

/* cmd_mem: host memory totals. */
static int cmd_mem(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("mem");
	struct pmm_stats s;
	struct heap_stats h;
	pmm_get_stats(&s);
	heap_get_stats(&h);
	kprintf("total: %llu MiB\n", mib(s.total));
	kprintf("free:  %llu MiB\n", mib(s.free));
	kprintf("used:  %llu MiB\n", mib(s.total - s.free));
	kprintf("heap:  %llu KiB in %llu allocation(s)\n",
	        (unsigned long long)(h.bytes_in_use >> 10), (unsigned long long)h.allocations);
	return 0;
}
SHELL_COMMAND(mem, "mem", "mem", "show total, free and used host memory", cmd_mem);

/* cmd_uptime: time since the kernel started. */
static int cmd_uptime(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("uptime");
	uint64_t ms = time_ns() / 1000000;
	uint64_t s = ms / 1000;
	kprintf("up %llud %02llu:%02llu:%02llu (%llu.%03llu s)\n", (unsigned long long)(s / 86400),
	        (unsigned long long)(s / 3600 % 24), (unsigned long long)(s / 60 % 60),
	        (unsigned long long)(s % 60), (unsigned long long)s,
	        (unsigned long long)(ms % 1000));
	return 0;
}
SHELL_COMMAND(uptime, "uptime", "uptime", "show time since boot", cmd_uptime);

/* cmd_log: print the kernel log ring. */
static int cmd_log(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("log");
	char buf[256];
	size_t pos = 0, n;
	while ((n = log_read(pos, buf, sizeof(buf))) > 0) {
		console_write(buf, n);
		pos += n;
	}
	return 0;
}
SHELL_COMMAND(log, "log", "log", "show the kernel log", cmd_log);

/* print_thread: one row of `threads`. */
static void print_thread(struct thread *t, void *arg)
{
	(void)arg;
	static const char *const st[] = {"ready", "running", "blocked", "dead"};
	kprintf("%-4d %-20s %-4d %-8s %8llu\n", t->id, t->name, t->cpu,
	        t->state >= 0 && t->state <= T_DEAD ? st[t->state] : "?",
	        (unsigned long long)(tsc_to_ns(t->run_tsc) / 1000000));
}

/* cmd_threads: kernel threads and their CPU time. */
static int cmd_threads(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("threads");
	kprintf("%-4s %-20s %-4s %-8s %8s\n", "ID", "NAME", "CPU", "STATE", "CPU-MS");
	sched_for_each_thread(print_thread, NULL);
	return 0;
}
SHELL_COMMAND(threads, "threads", "threads", "list kernel threads", cmd_threads);

/* cmd_reboot: reset the machine through ACPI or the legacy reset paths. */
static int cmd_reboot(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("reboot");
	kprintf("rebooting...\n");
	acpi_reset();
	return shell_error("reset did not happen");
}
SHELL_COMMAND(reboot, "reboot", "reboot", "restart the host", cmd_reboot);

/* cmd_poweroff: ACPI S5. */
static int cmd_poweroff(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("poweroff");
	kprintf("powering off...\n");
	acpi_poweroff();
	return shell_error("power-off failed (no ACPI S5 support found)");
}
SHELL_COMMAND(poweroff, "poweroff", "poweroff", "power the host off", cmd_poweroff);

static volatile uintptr_t g_unmapped = 16; /* page 0 is never mapped */

/* cmd_panic_test: deliberately fault, to check that crash reports work. */
static int cmd_panic_test(int argc, char **argv)
{
	const char *kind = argc == 2 ? argv[1] : "";
	if (argc != 2)
		return shell_usage("panic-test ud|gp|pf|de|panic");
	kprintf("panic-test: triggering %s\n", kind);
	if (!strcmp(kind, "ud"))
		__asm__ volatile("ud2");
	else if (!strcmp(kind, "gp"))
		__asm__ volatile("mov %0, %%rax; mov (%%rax), %%rax" ::"r"(0x8000000000000000ULL)
		                 : "rax");
	else if (!strcmp(kind, "pf"))
		(void)*(volatile uint64_t *)g_unmapped;
	else if (!strcmp(kind, "de")) {
		volatile uint64_t zero = 0;
		__asm__ volatile("xor %%edx, %%edx; mov $1, %%eax; divq %0" ::"r"(zero)
		                 : "rax", "rdx");
	} else if (!strcmp(kind, "panic"))
		panic("panic-test requested by the operator");
	else
		return shell_usage("panic-test ud|gp|pf|de|panic");
	return shell_error("the fault did not happen");
}
SHELL_DEBUG_COMMAND(panic_test, "panic-test", "panic-test ud|gp|pf|de|panic",
                    "crash the host on purpose (debug)", cmd_panic_test);
