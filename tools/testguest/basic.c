/*
 * Tern test guest: `basic`: the things every guest relies on, checked one by one: CPUID,
 * hypercall, MSRs, RTC, PIT, LAPIC and ECAM MMIO through many instruction forms, the LAPIC
 * timer (one-shot, periodic, TSC-deadline) waking HLT, the IOAPIC, and a UART interrupt
 * through the IOAPIC.
 */
#include "tg.h"

#define VMCALL_ENOSYS ((uint64_t)-1000)
#define MSR_UNKNOWN   0x40000200u /* in no hypervisor's or vendor's range */

static void cpuid_checks(void)
{
	uint32_t r[4];
	char vendor[13];
	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	say("INFO cpu vendor=%s max_leaf=0x%x maxphys=%u apic_id=%u", vendor, r[0], g_env.maxphys,
	    g_env.apic_id);
	cpuid(1, 0, r);
	check(r[2] >> 31, "cpuid-hypervisor-bit", "leaf1.ecx=0x%x", r[2]);
	cpuid(0x40000000, 0, r);
	char sig[13];
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	sig[12] = 0;
	check(!memcmp(sig, "TernTernTern", 12) && r[0] >= 0x40000001, "cpuid-signature",
	      "signature=\"%s\" max=0x%x", sig, r[0]);
	cpuid(0x40000001, 0, r);
	say("INFO tern interface version 0x%x", r[0]);
	check(g_env.maxphys >= 32 && g_env.maxphys <= 52, "cpuid-maxphys", "maxphys=%u",
	      g_env.maxphys);
}

static void hypercall_checks(void)
{
	uint64_t rax = 0;
	int v;
	if (g_env.intel)
		v = TRY("vmcall", OUTS("+a"(rax)), INS());
	else
		v = TRY("vmmcall", OUTS("+a"(rax)), INS());
	check(v < 0 && rax == VMCALL_ENOSYS, "hypercall", "%s vector=%d rax=0x%lx",
	      g_env.intel ? "vmcall" : "vmmcall", v, rax);
	rax = 0;
	if (g_env.intel)
		v = TRY("vmmcall", OUTS("+a"(rax)), INS());
	else
		v = TRY("vmcall", OUTS("+a"(rax)), INS());
	say("INFO other-vendor hypercall %s: vector=%d rax=0x%lx",
	    g_env.intel ? "vmmcall" : "vmcall", v, rax);
}

static void msr_checks(void)
{
	uint64_t v;
	int e = rdmsr_safe(MSR_UNKNOWN, &v);
	check(e == 13 && g_fault.err == 0 && g_fault.rip_ok, "rdmsr-unknown-gp",
	      "msr=0x%x vector=%d error=0x%lx rip_ok=%d", MSR_UNKNOWN, e, g_fault.err,
	      g_fault.rip_ok);
	e = wrmsr_safe(MSR_UNKNOWN, 0x1234);
	check(e == 13 && g_fault.rip_ok, "wrmsr-unknown-gp", "vector=%d rip_ok=%d", e,
	      g_fault.rip_ok);
	e = rdmsr_safe(0x12345678, &v);
	check(e == 13, "rdmsr-out-of-range-gp", "msr=0x12345678 vector=%d", e);

	uint64_t pat = rdmsr(MSR_PAT), want = 0x0007010600070106ULL; /* WC in entries 2 and 6 */
	wrmsr(MSR_PAT, want);
	uint64_t got = rdmsr(MSR_PAT);
	wrmsr(MSR_PAT, pat);
	check(got == want && rdmsr(MSR_PAT) == pat, "pat-roundtrip",
	      "old=0x%lx wrote=0x%lx read=0x%lx", pat, want, got);
	e = wrmsr_safe(MSR_PAT, 0x0007040600070402ULL); /* type 2 is reserved */
	check(e == 13 && rdmsr(MSR_PAT) == pat, "pat-reserved-type-gp", "vector=%d", e);

	uint64_t efer = rdmsr(MSR_EFER);
	check((efer & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA), "efer-long-mode",
	      "efer=0x%lx", efer);
	e = wrmsr_safe(MSR_EFER, efer);
	check(e < 0 && rdmsr(MSR_EFER) == efer, "efer-rewrite", "vector=%d", e);

	uint64_t t0 = rdtsc(), m = rdmsr(MSR_TSC), t1 = rdtsc();
	check(m >= t0 && m <= t1, "tsc-msr", "rdtsc=%lu msr=%lu rdtsc=%lu", t0, m, t1);
	uint64_t base = rdmsr(MSR_APIC_BASE);
	check((base & ~0xfffULL) == LAPIC_BASE && (base & (1 << 11)) && (base & (1 << 8)),
	      "apic-base-msr", "value=0x%lx", base);
}

/* ---- kvmclock (vmm/kvmclock.h): the KVM clock leaves and MSRs -------------------------------- */

#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u

static uint8_t g_pv[2][4096] __attribute__((aligned(4096))); /* identity-mapped: VA = GPA */

static uint64_t ld(const volatile uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* pv_time: the guest's formula: system_time + scale(tsc - tsc_timestamp). */
static uint64_t pv_time(const volatile uint8_t *r, uint64_t tsc)
{
	uint64_t d = tsc - ld(r + 8, 8);
	int8_t shift = (int8_t)r[28];
	d = shift < 0 ? d >> -shift : d << shift;
	return ld(r + 16, 8) + (uint64_t)(((unsigned __int128)d * ld(r + 24, 4)) >> 32);
}

/* untouched: the 64 bytes at p still hold the fill pattern. */
static bool untouched(const uint8_t *p)
{
	for (int i = 0; i < 64; i++)
		if (p[i] != 0xa5)
			return false;
	return true;
}

static void kvmclock_checks(void)
{
	uint32_t r[4];
	cpuid(0x40000100, 0, r);
	check(!memcmp(&r[1], "KVMKVMKVM\0\0\0", 12) && r[0] >= 0x40000101, "kvmclock-cpuid",
	      "max=0x%x", r[0]);
	cpuid(0x40000101, 0, r);
	check((r[0] & (1u << 3)) && (r[0] & (1u << 24)), "kvmclock-features", "eax=0x%x", r[0]);

	volatile uint8_t *rec = g_pv[0];
	memset(g_pv, 0xa5, sizeof(g_pv));
	uint64_t gpa = (uint64_t)(uintptr_t)g_pv[0] | 1;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, gpa);
	uint32_t ver = (uint32_t)ld(rec, 4), mul = (uint32_t)ld(rec + 24, 4);
	check(rdmsr(MSR_KVM_SYSTEM_TIME_NEW) == gpa && !(ver & 1) && ver && mul && (rec[29] & 1),
	      "kvmclock-record", "version=%u mul=0x%x shift=%d flags=0x%x", ver, mul,
	      (int8_t)rec[28], rec[29]);
	/* the record's rate is the TSC's: the frequency a guest derives from it, against ours */
	uint64_t khz = (1000000ULL << 32) / (mul ? mul : 1);
	khz = (int8_t)rec[28] < 0 ? khz << -(int8_t)rec[28] : khz >> (int8_t)rec[28];
	uint64_t want = g_env.tsc_hz / 1000, diff = khz > want ? khz - want : want - khz;
	check(diff <= want / 50, "kvmclock-rate", "record %lu kHz, measured %lu kHz", khz, want);
	uint64_t t0 = pv_time(rec, rdtsc());
	delay_us(10000);
	uint64_t t1 = pv_time(rec, rdtsc());
	check(t1 > t0 && t1 - t0 >= 8000000 && t1 - t0 <= 12500000, "kvmclock-counts",
	      "10 ms of TSC read as %lu ns", t1 - t0);

	wrmsr(MSR_KVM_WALL_CLOCK_NEW, (uint64_t)(uintptr_t)g_pv[1]);
	uint64_t secs = ld(g_pv[1] + 4, 4) + pv_time(rec, rdtsc()) / 1000000000ULL;
	check(!(ld(g_pv[1], 4) & 1) && secs > 1577836800ULL && secs < 4102444800ULL,
	      "kvmclock-wall", "version=%lu now=%lu s", ld(g_pv[1], 4), secs);

	/* records Tern must not write: unaligned, across a page, not RAM; no #GP either */
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
	memset(g_pv, 0xa5, sizeof(g_pv));
	int e1 = wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)g_pv[0] + 2 + 1);
	int e2 = wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)g_pv[1] - 16 + 1);
	int e3 = wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, 0xfee00000ULL + 1); /* the LAPIC */
	int e4 = wrmsr_safe(MSR_KVM_SYSTEM_TIME_NEW, (1ULL << 45) + 1);  /* past RAM */
	check(e1 < 0 && e2 < 0 && e3 < 0 && e4 < 0 && untouched(g_pv[0]) && untouched(g_pv[1] - 32),
	      "kvmclock-bad-records", "vectors %d %d %d %d", e1, e2, e3, e4);
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
}

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned bcd(uint8_t v, bool binary)
{
	return binary ? v : (v & 15) + (v >> 4) * 10;
}

static void rtc_checks(void)
{
	for (int i = 0; i < 1000 && (cmos(0x0a) & 0x80); i++)
		delay_us(10); /* update in progress */
	uint8_t b = cmos(0x0b);
	bool bin = b & 4;
	unsigned s = bcd(cmos(0), bin), mi = bcd(cmos(2), bin), h = bcd(cmos(4) & 0x7f, bin);
	unsigned d = bcd(cmos(7), bin), mo = bcd(cmos(8), bin), y = bcd(cmos(9), bin);
	unsigned c = bcd(cmos(0x32), bin);
	if (!(b & 2) && (cmos(4) & 0x80))
		h = (h % 12) + 12;
	unsigned year = c * 100 + y;
	check(s < 60 && mi < 60 && h < 24 && d >= 1 && d <= 31 && mo >= 1 && mo <= 12 &&
	          year >= 2000 && year <= 2099,
	      "rtc-time", "%04u-%02u-%02u %02u:%02u:%02u regB=0x%x", year, mo, d, h, mi, s, b);
	check((cmos(0x0d) & 0x80) != 0, "rtc-valid", "regD=0x%x", cmos(0x0d));
}

/* pit_latch2: latch and read PIT channel 2's count. */
static uint16_t pit_latch2(void)
{
	outb(0x43, 0x80); /* channel 2 counter latch */
	uint8_t lo = inb(0x42);
	return (uint16_t)(lo | inb(0x42) << 8);
}

static void pit_checks(void)
{
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb4); /* channel 2, lo/hi, mode 2 */
	outb(0x42, 0xff);
	outb(0x42, 0xff);
	bool ok = false;
	uint16_t c0 = 0, c1 = 0;
	uint64_t ticks = 0, expect = 0;
	for (int tries = 0; tries < 5 && !ok; tries++) {
		uint64_t t0 = rdtsc();
		c0 = pit_latch2();
		delay_us(2000);
		c1 = pit_latch2();
		uint64_t dt = rdtsc() - t0;
		ticks = (uint16_t)(c0 - c1);
		expect = dt * PIT_HZ / g_env.tsc_hz;
		if (expect > 40000)
			continue; /* the host stalled us for a whole wrap: try again */
		ok = ticks >= expect / 2 && ticks <= expect * 2 + 200;
	}
	check(ok, "pit-counts-down", "count %u -> %u: %lu ticks, %lu expected from the TSC", c0, c1,
	      ticks, expect);
	outb(0x43, 0xe8); /* read-back: status of channel 2 */
	uint8_t st = inb(0x42);
	check((st & 0x3f) == 0x34, "pit-readback-status", "status=0x%x", st);
	outb(0x61, inb(0x61) & ~0x03);
}

/* ---- MMIO through many instruction forms -------------------------------------------------- */
static void lapic_mmio_checks(void)
{
	uint64_t lapic = LAPIC_BASE;
	uint32_t ver = lapic_read(LAPIC_VER), id = lapic_read(LAPIC_ID);
	check((ver & 0xff) >= 0x10 && (ver & 0xff) <= 0x15 && ((ver >> 16) & 0xff) >= 3,
	      "lapic-version", "version=0x%x", ver);
	check(id >> 24 == g_env.apic_id, "lapic-id", "id=0x%x cpuid=%u", id, g_env.apic_id);
	uint32_t moffs;
	__asm__ volatile("movabs 0xfee00030, %%eax" : "=a"(moffs)); /* A1 moffs64 */
	check(moffs == ver, "mmio-mov-moffs", "read=0x%x", moffs);

	volatile uint32_t *tpr = (volatile uint32_t *)(lapic + LAPIC_TPR);
	__asm__ volatile("movl $0x20, (%0)" : : "r"(tpr) : "memory"); /* C7 /0 */
	uint32_t t1 = *tpr;
	__asm__ volatile("orl $0x10, (%0)" : : "r"(tpr) : "memory"); /* 83 /1 */
	uint32_t t2 = *tpr;
	__asm__ volatile("andl $0x20, (%0)" : : "r"(tpr) : "memory"); /* 83 /4 */
	uint32_t t3 = *tpr;
	uint32_t r = 0x40;
	__asm__ volatile("orl %1, (%0)" : : "r"(tpr), "r"(r) : "memory"); /* 09 */
	uint32_t t4 = *tpr;
	r = 0x10;
	__asm__ volatile("xchgl %0, (%1)" : "+r"(r) : "r"(tpr) : "memory"); /* 87 */
	uint32_t t5 = *tpr;
	uint8_t zf, cf;
	__asm__ volatile("testl $0x10, (%2); setnz %0; btl $4, (%2); setc %1"
	                 : "=r"(zf), "=r"(cf)
	                 : "r"(tpr)
	                 : "memory", "cc"); /* F7 /0, 0F BA /4 */
	uint8_t eq;
	__asm__ volatile("cmpl $0x10, (%1); sete %0" : "=r"(eq) : "r"(tpr) : "memory", "cc");
	uint32_t sub = 0x08;
	__asm__ volatile("addl %1, (%0)" : : "r"(tpr), "r"(sub) : "memory"); /* 01 */
	uint32_t t6 = *tpr;
	check(t1 == 0x20 && t2 == 0x30 && t3 == 0x20 && t4 == 0x60 && r == 0x60 && t5 == 0x10 &&
	          zf && cf && eq && t6 == 0x18,
	      "mmio-alu-forms",
	      "mov=0x%x or=0x%x and=0x%x orreg=0x%x xchg=0x%x/0x%x test=%u bt=%u cmp=%u add=0x%x",
	      t1, t2, t3, t4, r, t5, zf, cf, eq, t6);

	/* rep stosd over TPR and the three unaligned (ignored) dwords after it */
	uint64_t rdi = lapic + LAPIC_TPR, rcx = 4;
	__asm__ volatile("rep stosl" : "+D"(rdi), "+c"(rcx) : "a"(0x50) : "memory");
	uint32_t t7 = *tpr;
	check(t7 == 0x50 && rcx == 0 && rdi == lapic + LAPIC_TPR + 16, "mmio-rep-stosd",
	      "tpr=0x%x rcx=%lu rdi=0x%lx", t7, rcx, rdi);
	/* rep movsd: 256 bytes of LAPIC registers to RAM, and one dword RAM -> TPR */
	static uint32_t buf[64];
	uint64_t rsi = lapic;
	rdi = (uint64_t)buf, rcx = 64;
	__asm__ volatile("rep movsl" : "+D"(rdi), "+S"(rsi), "+c"(rcx) : : "memory");
	check(buf[0x30 / 4] == ver && buf[0x20 / 4] == id && buf[0x80 / 4] == 0x50 && rcx == 0,
	      "mmio-rep-movsd-from", "ver=0x%x id=0x%x tpr=0x%x rcx=%lu", buf[0x30 / 4],
	      buf[0x20 / 4], buf[0x80 / 4], rcx);
	static uint32_t src = 0x70;
	rsi = (uint64_t)&src, rdi = lapic + LAPIC_TPR, rcx = 1;
	__asm__ volatile("rep movsl" : "+D"(rdi), "+S"(rsi), "+c"(rcx) : : "memory");
	uint32_t t8 = *tpr;
	check(t8 == 0x70, "mmio-rep-movsd-to", "tpr=0x%x", t8);
	*tpr = 0;
	check(*tpr == 0, "lapic-tpr-zero", "tpr=0x%x", *tpr);
}

static uint32_t pci_cf8_read(unsigned dev, unsigned off)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	return inl(0xcfc);
}

static void ecam_checks(void)
{
	uint32_t id = pci_cf8_read(0, 0), cls = pci_cf8_read(0, 8), hdr = pci_cf8_read(0, 0xc);
	check((id & 0xffff) != 0xffff, "pci-host-bridge", "id=0x%x class=0x%x", id, cls);
	uint64_t ecam = ECAM_BASE;
	uint32_t vendor, device, hdrtype, clsb, dword;
	__asm__ volatile("movzwl (%1), %0" : "=r"(vendor) : "r"(ecam) : "memory");     /* 0F B7 */
	__asm__ volatile("movzbl 0xe(%1), %0" : "=r"(hdrtype) : "r"(ecam) : "memory"); /* 0F B6 */
	uint16_t dev16;
	__asm__ volatile("movw 2(%1), %0" : "=r"(dev16) : "r"(ecam) : "memory"); /* 66 8B */
	device = dev16;
	uint8_t c8;
	__asm__ volatile("movb 0xb(%1), %0" : "=q"(c8) : "r"(ecam) : "memory"); /* 8A */
	clsb = c8;
	__asm__ volatile("movl 8(%1), %0" : "=r"(dword) : "r"(ecam) : "memory"); /* 8B */
	int32_t sx;
	__asm__ volatile("movsbl (%1), %0"
	                 : "=r"(sx)
	                 : "r"(ecam + (31 << 15))
	                 : "memory"); /* 0F BE */
	check(vendor == (id & 0xffff) && device == id >> 16 && hdrtype == ((hdr >> 16) & 0xff) &&
	          clsb == cls >> 24 && dword == cls && sx == -1,
	      "ecam-forms", "vendor=0x%x device=0x%x header=0x%x class=0x%x dword=0x%x absent=%d",
	      vendor, device, hdrtype, clsb, dword, sx);
	uint32_t buf[16];
	uint64_t rsi = ecam, rdi = (uint64_t)buf, rcx = 16;
	__asm__ volatile("rep movsl" : "+D"(rdi), "+S"(rsi), "+c"(rcx) : : "memory");
	int bad = -1;
	for (unsigned i = 0; i < 16; i++)
		if (buf[i] != pci_cf8_read(0, i * 4) && bad < 0)
			bad = (int)i;
	check(bad < 0 && rcx == 0, "ecam-rep-movsd", "first mismatch at dword %d", bad);
	__asm__ volatile("movb $0x40, 0xd(%0)" : : "r"(ecam) : "memory"); /* C6: latency timer */
	uint32_t lat = (pci_cf8_read(0, 0xc) >> 8) & 0xff;
	__asm__ volatile("movb $0, 0xd(%0)" : : "r"(ecam) : "memory");
	check(lat == 0x40, "ecam-byte-write", "latency timer=0x%x", lat);
}

/* ---- LAPIC timer ----------------------------------------------------------------------------- */
static uint64_t g_lapic_hz;

/* wait_irqs: hlt with interrupts on until `want` interrupts at vec, or timeout; returns TSC
 * ticks waited. Every wake-up is counted in *wakes. */
static uint64_t wait_irqs(unsigned vec, uint64_t want, uint64_t timeout_ms, unsigned *wakes)
{
	uint64_t t0 = rdtsc(), end = t0 + timeout_ms * (g_env.tsc_hz / 1000);
	while (g_irq_count[vec] < want && rdtsc() < end) {
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		if (wakes)
			(*wakes)++;
	}
	return rdtsc() - t0;
}

static void lapic_timer_checks(void)
{
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lapic_write(LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, 1 << 16 | VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	uint64_t t0 = rdtsc();
	delay_us(10000);
	uint32_t cur = lapic_read(LAPIC_TIMER_CUR);
	uint64_t dt = rdtsc() - t0;
	g_lapic_hz = (uint64_t)(0xffffffffu - cur) * g_env.tsc_hz / dt;
	lapic_write(LAPIC_TIMER_INIT, 0);
	check(cur < 0xffffffffu && g_lapic_hz > 1000000, "lapic-timer-counts",
	      "current=0x%x timer=%lu kHz", cur, g_lapic_hz / 1000);
	if (g_lapic_hz <= 1000000)
		return;

	/* one-shot, 5 ms: the HLT must wake on it, once */
	g_irq_count[VEC_TIMER] = 0;
	unsigned wakes = 0;
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, (uint32_t)(g_lapic_hz / 200));
	uint64_t waited = wait_irqs(VEC_TIMER, 1, 3000, &wakes);
	delay_us(20000);
	check(g_irq_count[VEC_TIMER] == 1 && tsc_ms(waited) >= 4, "lapic-timer-oneshot",
	      "interrupts=%lu after %lu ms, %u hlt wake-ups", g_irq_count[VEC_TIMER],
	      tsc_ms(waited), wakes);

	/* periodic, 2 ms: five interrupts */
	g_irq_count[VEC_TIMER] = 0;
	wakes = 0;
	lapic_write(LAPIC_LVT_TIMER, 1 << 17 | VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, (uint32_t)(g_lapic_hz / 500));
	waited = wait_irqs(VEC_TIMER, 5, 3000, &wakes);
	uint32_t running = lapic_read(LAPIC_TIMER_CUR);
	lapic_write(LAPIC_LVT_TIMER, 1 << 16 | VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, 0);
	check(g_irq_count[VEC_TIMER] >= 5 && tsc_ms(waited) >= 8 && running != 0,
	      "lapic-timer-periodic", "interrupts=%lu in %lu ms, %u hlt wake-ups, current=0x%x",
	      g_irq_count[VEC_TIMER], tsc_ms(waited), wakes, running);

	/* TSC-deadline mode (CPUID.1:ECX[24]), 5 ms ahead */
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 24))) {
		say("INFO no TSC-deadline timer in CPUID");
		return;
	}
	g_irq_count[VEC_TIMER] = 0;
	lapic_write(LAPIC_LVT_TIMER, 2 << 17 | VEC_TIMER);
	uint64_t deadline = rdtsc() + g_env.tsc_hz / 200;
	wrmsr(0x6e0, deadline);
	uint64_t readback = rdmsr(0x6e0);
	waited = wait_irqs(VEC_TIMER, 1, 3000, NULL);
	uint64_t late = rdtsc();
	lapic_write(LAPIC_LVT_TIMER, 1 << 16 | VEC_TIMER);
	check(g_irq_count[VEC_TIMER] == 1 && late >= deadline && readback == deadline,
	      "lapic-timer-tsc-deadline", "interrupts=%lu after %lu ms, msr read back %s",
	      g_irq_count[VEC_TIMER], tsc_ms(waited), readback == deadline ? "ok" : "wrong");
}

/* ---- IOAPIC and a UART interrupt through it ---------------------------------------------------
 */
static uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

static void ioapic_checks(void)
{
	uint32_t ver = ioapic_read(1), id = ioapic_read(0);
	unsigned maxredir = (ver >> 16) & 0xff;
	check(((ver & 0xff) == 0x11 || (ver & 0xff) == 0x20) && maxredir >= 15, "ioapic-version",
	      "version=0x%x (%u pins) id=0x%x", ver, maxredir + 1, id);
	check(ioapic_read(0x10 + 2 * 4) & (1 << 16), "ioapic-pin4-masked", "redir4=0x%x",
	      ioapic_read(0x10 + 2 * 4));
	ioapic_write(0x10 + 2 * 10, 0x10000 | 0x55);
	ioapic_write(0x11 + 2 * 10, 0xab000000);
	uint32_t lo = ioapic_read(0x10 + 2 * 10), hi = ioapic_read(0x11 + 2 * 10);
	ioapic_write(0x10 + 2 * 10, 0x10000);
	ioapic_write(0x11 + 2 * 10, 0);
	check((lo & 0x1ffff) == 0x10055 && hi >> 24 == 0xab, "ioapic-redir-rw", "lo=0x%x hi=0x%x",
	      lo, hi);

	/* COM1 (ISA IRQ 4, IOAPIC pin 4): THRE interrupt, edge, to this CPU */
	g_irq_count[VEC_UART] = 0;
	g_uart_iir = 0;
	ioapic_write(0x11 + 2 * 4, g_env.apic_id << 24);
	ioapic_write(0x10 + 2 * 4, VEC_UART);
	outb(COM1 + 4, 0x0b); /* DTR, RTS, OUT2 */
	outb(COM1 + 1, 0x02); /* IER: THR empty */
	uint64_t dt = irq_window(&g_irq_count[VEC_UART], 1, 1000000);
	outb(COM1 + 1, 0);
	ioapic_write(0x10 + 2 * 4, 1 << 16 | VEC_UART);
	outb(COM1 + 4, 0x03);
	check(g_irq_count[VEC_UART] == 1 && (g_uart_iir & 0x0f) == 0x02, "uart-irq-via-ioapic",
	      "interrupts=%lu iir=0x%x after %lu us", g_irq_count[VEC_UART], g_uart_iir,
	      dt * 1000000 / g_env.tsc_hz);
}

void test_basic(void)
{
	test_begin("basic");
	cpuid_checks();
	hypercall_checks();
	msr_checks();
	kvmclock_checks();
	rtc_checks();
	pit_checks();
	lapic_mmio_checks();
	ecam_checks();
	lapic_timer_checks();
	ioapic_checks();
	test_end();
}
