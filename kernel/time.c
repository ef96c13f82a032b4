/* TSC calibration and conversions. */
#include "kernel/time.h"
#include "kernel/acpi.h"
#include "kernel/log.h"
#include "kernel/x86.h"

#define PIT_HZ      1193182ULL
#define PM_TIMER_HZ 3579545ULL
#define CAL_MS      10

uint64_t tsc_hz;
static uint64_t g_tsc0;

/* pit_measure: TSC ticks during CAL_MS of PIT channel 2 counting down (mode 0); 0 on failure. */
static uint64_t pit_measure(void)
{
	uint16_t latch = (uint16_t)(PIT_HZ * CAL_MS / 1000);
	outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate on, speaker off */
	outb(0x43, 0xb0);                       /* channel 2, lo/hi byte, mode 0, binary */
	outb(0x42, latch & 0xff);
	outb(0x42, latch >> 8);
	uint64_t t0 = rdtsc();
	for (uint64_t n = 0; !(inb(0x61) & 0x20); n++)
		if (n > 100000000ULL)
			return 0; /* OUT2 never rose: no working PIT */
	return rdtsc() - t0;
}

/* pm_timer_measure: TSC ticks during CAL_MS of the ACPI PM timer; 0 if there is none. */
static uint64_t pm_timer_measure(void)
{
	uint16_t port = acpi_pm_timer_port();
	if (!port)
		return 0;
	uint32_t ticks = PM_TIMER_HZ * CAL_MS / 1000;
	uint32_t start = inl(port) & 0xffffff;
	uint64_t t0 = rdtsc();
	while (((inl(port) - start) & 0xffffff) < ticks)
		;
	return rdtsc() - t0;
}

/* time_init: best (smallest) of three PIT measurements; PM timer as the fallback. */
void time_init(void)
{
	uint64_t best = 0;
	const char *src = "PIT";
	for (int i = 0; i < 3; i++) {
		uint64_t d = pit_measure();
		if (d && (!best || d < best))
			best = d;
	}
	if (!best) {
		src = "ACPI PM timer";
		best = pm_timer_measure();
	}
	if (!best) {
		src = "assumed";
		best = 2000000000ULL * CAL_MS / 1000;
	}
	tsc_hz = best * 1000 / CAL_MS;
	if (!g_tsc0)
		g_tsc0 = rdtsc();
	klog("time: TSC %llu.%03llu MHz (%s)", (unsigned long long)(tsc_hz / 1000000),
	     (unsigned long long)(tsc_hz / 1000 % 1000), src);
}

/* time_set_origin: the TSC value that counts as time zero. */
void time_set_origin(uint64_t tsc)
{
	g_tsc0 = tsc;
}

uint64_t tsc_to_ns(uint64_t tsc)
{
	if (!tsc_hz)
		return 0;
	return muldiv64(tsc, 1000000000ULL, tsc_hz);
}

uint64_t ns_to_tsc(uint64_t ns)
{
	return muldiv64(ns, tsc_hz, 1000000000ULL);
}

uint64_t time_ns(void)
{
	return tsc_to_ns(rdtsc() - g_tsc0);
}

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + ns_to_tsc(us * 1000);
	while (rdtsc() < end)
		cpu_relax();
}

uint64_t deadline_ms(uint64_t ms)
{
	return rdtsc() + ns_to_tsc(ms * 1000000ULL);
}
