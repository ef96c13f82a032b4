/* Local APIC driver; see apic.h. */
#include "kernel/apic.h"
#include "kernel/acpi.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/sched.h"
#include "kernel/vm.h"
#include "kernel/x86.h"

/* Register offsets (xAPIC MMIO; the x2APIC MSR is 0x800 + offset / 16). */
#define LAPIC_ID         0x020
#define LAPIC_EOI        0x0b0
#define LAPIC_SVR        0x0f0
#define LAPIC_ICR_LO     0x300
#define LAPIC_ICR_HI     0x310
#define LAPIC_LVT_TIMER  0x320
#define LAPIC_LVT_LINT0  0x350
#define LAPIC_LVT_LINT1  0x360
#define LAPIC_LVT_ERROR  0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR  0x390
#define LAPIC_TIMER_DIV  0x3e0

#define APIC_BASE_ENABLE (1ULL << 11)
#define APIC_BASE_X2APIC (1ULL << 10)
#define SVR_ENABLE       (1u << 8)
#define LVT_MASKED       (1u << 16)
#define ICR_PENDING      (1u << 12)
#define ICR_INIT         (5u << 8)
#define ICR_STARTUP      (6u << 8)
#define ICR_NMI          (4u << 8)
#define ICR_ASSERT       (1u << 14)
#define ICR_LEVEL        (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)

static volatile uint32_t *g_mmio;
static bool g_x2apic;
static uint64_t g_timer_hz; /* LAPIC timer ticks per second at divide-by-1 */

/* rd / wr: register access in either mode. */
static uint32_t rd(uint32_t reg)
{
	if (g_x2apic)
		return (uint32_t)rdmsr(0x800 + (reg >> 4));
	return g_mmio[reg / 4];
}
static void wr(uint32_t reg, uint32_t v)
{
	if (g_x2apic)
		wrmsr(0x800 + (reg >> 4), v);
	else
		g_mmio[reg / 4] = v;
}

/* write_icr: send an IPI command; x2APIC takes it in one 64-bit MSR write. */
static void write_icr(uint32_t dest, uint32_t lo)
{
	if (g_x2apic) {
		wrmsr(0x830, ((uint64_t)dest << 32) | lo);
		return;
	}
	uint64_t f = irq_save();
	while (rd(LAPIC_ICR_LO) & ICR_PENDING)
		cpu_relax();
	wr(LAPIC_ICR_HI, dest << 24);
	wr(LAPIC_ICR_LO, lo);
	irq_restore(f);
}

bool lapic_x2apic_mode(void)
{
	return g_x2apic;
}

uint32_t lapic_id(void)
{
	return g_x2apic ? rd(LAPIC_ID) : rd(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	wr(LAPIC_EOI, 0);
}

/* timer_irq: the one-shot timer fired. */
static void timer_irq(void *arg)
{
	(void)arg;
	sched_timer_irq();
}

/* resched_irq: nothing to do: the interrupt exit path reschedules. */
static void resched_irq(void *arg)
{
	(void)arg;
	this_cpu()->need_resched = true;
}

/* kick_irq: a vCPU kick: the exit from guest mode was the point; nothing else to do. */
static void kick_irq(void *arg)
{
	(void)arg;
}

/*
 * timer_oneshot: divide by 1 and an unmasked one-shot LVT entry (SDM 3A 11.5.4). Set once per
 * CPU; lapic_timer_deadline then writes only the initial count, since every LAPIC access
 * costs an exit when Tern itself runs virtualised.
 */
static void timer_oneshot(void)
{
	wr(LAPIC_TIMER_DIV, 0xb);
	wr(LAPIC_LVT_TIMER, VEC_TIMER);
}

/* calibrate: LAPIC timer ticks in 10 ms of TSC time. */
static void calibrate(void)
{
	wr(LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	wr(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	wr(LAPIC_TIMER_INIT, 0xffffffff);
	uint64_t end = rdtsc() + tsc_hz / 100;
	while (rdtsc() < end)
		cpu_relax();
	uint32_t elapsed = 0xffffffff - rd(LAPIC_TIMER_CUR);
	wr(LAPIC_TIMER_INIT, 0);
	timer_oneshot();
	g_timer_hz = (uint64_t)elapsed * 100;
	if (!g_timer_hz)
		panic("lapic: timer does not count");
	klog("lapic: %s mode, timer %llu kHz", g_x2apic ? "x2APIC" : "xAPIC",
	     (unsigned long long)(g_timer_hz / 1000));
}

/* lapic_init_bsp: pick the mode the firmware left, map the registers, calibrate. */
void lapic_init_bsp(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	g_x2apic = (base & APIC_BASE_X2APIC) != 0;
	if (!g_x2apic) {
		uint64_t pa = acpi.lapic_phys ? acpi.lapic_phys : (base & ~0xfffULL);
		g_mmio = ioremap(pa & ~0xfffULL, 4096);
	}
	irq_register(VEC_TIMER, timer_irq, NULL);
	irq_register(VEC_RESCHED, resched_irq, NULL);
	irq_register(VEC_CALL, kick_irq, NULL);
	lapic_init_cpu();
	calibrate();
}

/* lapic_init_cpu: software-enable the LAPIC, mask LINT0/LINT1/error, stop the timer (one-shot
 * mode, timer_oneshot), accept all priorities. */
void lapic_init_cpu(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	if (!(base & APIC_BASE_ENABLE))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
	wr(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	wr(LAPIC_LVT_LINT0, LVT_MASKED);
	wr(LAPIC_LVT_LINT1, LVT_MASKED);
	wr(LAPIC_LVT_ERROR, LVT_MASKED);
	wr(LAPIC_TIMER_INIT, 0); /* stopped until the first lapic_timer_deadline */
	timer_oneshot();
	wr(0x80, 0); /* TPR: accept every priority */
	lapic_eoi();
}

/* lapic_timer_deadline: one-shot count for the distance to tsc (at least 1 tick). */
void lapic_timer_deadline(uint64_t tsc)
{
	if (!tsc) {
		wr(LAPIC_TIMER_INIT, 0);
		return;
	}
	uint64_t now = rdtsc();
	uint64_t delta = tsc > now ? tsc - now : 0;
	uint64_t ticks = muldiv64(delta, g_timer_hz, tsc_hz);
	if (ticks == 0)
		ticks = 1;
	if (ticks > 0xffffffffULL)
		ticks = 0xffffffffULL;
	wr(LAPIC_TIMER_INIT, (uint32_t)ticks); /* one-shot mode and divider: timer_oneshot */
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	write_icr(apic_id, vector);
}

void lapic_send_resched(uint32_t apic_id)
{
	lapic_send_ipi(apic_id, VEC_RESCHED);
}

void lapic_nmi_others(void)
{
	if (g_x2apic || g_mmio)
		write_icr(0, ICR_ALL_BUT_SELF | ICR_NMI | ICR_ASSERT);
}

/* lapic_start_ap: the universal start-up algorithm (SDM 3A 8.4.4.1): INIT, 10 ms, SIPI x2. */
void lapic_start_ap(uint32_t apic_id, uint8_t sipi_page)
{
	write_icr(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	udelay(10000);
	write_icr(apic_id, ICR_STARTUP | sipi_page);
	udelay(200);
	write_icr(apic_id, ICR_STARTUP | sipi_page);
	udelay(200);
}
