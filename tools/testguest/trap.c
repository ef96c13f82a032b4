/* Tern test guest: GDT, IDT, the trap handler with its fix-ups, MSR helpers. */
#include "tg.h"

struct tg_fault g_fault = {.vec = -1};
volatile uint64_t g_fix_rip, g_fix_start;
volatile uint64_t g_irq_count[256];
volatile uint32_t g_uart_iir;

extern const uint8_t isr_stubs[]; /* 256 stubs, 16 bytes apart (head.asm) */

struct __attribute__((packed)) dtr {
	uint16_t limit;
	uint64_t base;
};

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
};

#define SEL_CODE 0x08
#define SEL_DATA 0x10

static uint64_t g_gdt[3] __attribute__((aligned(16)));
static struct idt_entry g_idt[256] __attribute__((aligned(16)));

/* trap_init: own GDT (64-bit code 0x08, data 0x10) and an IDT of interrupt gates. */
void trap_init(void)
{
	g_gdt[0] = 0;
	g_gdt[1] = 0x00af9a000000ffffULL; /* code: present, DPL 0, L */
	g_gdt[2] = 0x00cf92000000ffffULL; /* data: present, writable */
	struct dtr gdtr = {sizeof(g_gdt) - 1, (uint64_t)g_gdt};
	tg_load_gdt(&gdtr, SEL_CODE, SEL_DATA);
	for (int v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)(isr_stubs + 16 * v);
		g_idt[v] = (struct idt_entry){
		    (uint16_t)a, SEL_CODE, 0, 0x8e, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0};
	}
	struct dtr idtr = {sizeof(g_idt) - 1, (uint64_t)g_idt};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

static uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* irq: device interrupts of the tests; EOI to the LAPIC except for the spurious vector. */
static void irq(struct tg_frame *f)
{
	g_irq_count[f->vec]++;
	if (f->vec == VEC_UART) {
		g_uart_iir = inb(COM1 + 2); /* reading IIR acknowledges THRE */
		outb(COM1 + 1, 0);          /* IER off: printing would raise it again */
	}
	if (f->vec != VEC_SPURIOUS)
		lapic_write(LAPIC_EOI, 0);
}

void tg_trap(struct tg_frame *f)
{
	if (f->vec == VEC_NMI) {
		g_irq_count[VEC_NMI]++;
		return;
	}
	if (f->vec >= 32) {
		irq(f);
		return;
	}
	if (g_fix_rip) { /* an expected fault: record it and continue after the instruction */
		g_fault.vec = (int)f->vec;
		g_fault.err = f->err;
		g_fault.rip = f->rip;
		g_fault.cr2 = f->vec == 14 ? read_cr2() : 0;
		g_fault.rip_ok = f->rip == g_fix_start;
		f->rip = g_fix_rip;
		g_fix_rip = 0;
		return;
	}
	say("EXC vector=%lu error=0x%lx rip=0x%lx cr2=0x%lx rsp=0x%lx rflags=0x%lx", f->vec, f->err,
	    f->rip, read_cr2(), f->rsp, f->rflags);
	fail_stop("unexpected exception");
}

int rdmsr_safe(uint32_t msr, uint64_t *val)
{
	uint32_t lo = 0, hi = 0;
	int v = TRY("rdmsr", OUTS("=a"(lo), "=d"(hi)), INS("c"(msr)));
	*val = (uint64_t)hi << 32 | lo;
	return v;
}

int wrmsr_safe(uint32_t msr, uint64_t val)
{
	return TRY("wrmsr", OUTS(), INS("c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))));
}

uint64_t rdmsr(uint32_t msr)
{
	uint64_t v = 0;
	int e = rdmsr_safe(msr, &v);
	if (e >= 0)
		check(false, "rdmsr", "msr=0x%x vector=%d", msr, e);
	return v;
}

void wrmsr(uint32_t msr, uint64_t val)
{
	int e = wrmsr_safe(msr, val);
	if (e >= 0)
		check(false, "wrmsr", "msr=0x%x value=0x%lx vector=%d", msr, val, e);
}

void lapic_setup(void)
{
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lapic_write(LAPIC_TIMER_DIV, 0xb); /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, 1 << 16 | VEC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	uint64_t t0 = rdtsc();
	delay_us(10000);
	uint32_t cur = lapic_read(LAPIC_TIMER_CUR);
	uint64_t dt = rdtsc() - t0;
	lapic_write(LAPIC_TIMER_INIT, 0);
	g_env.lapic_hz = (uint64_t)(0xffffffffu - cur) * g_env.tsc_hz / dt;
}

uint64_t irq_window(volatile uint64_t *counter, uint64_t want, uint64_t us)
{
	uint64_t t0 = rdtsc(), end = t0 + g_env.tsc_hz / 1000000 * us;
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER); /* one-shot */
	for (;;) {
		uint64_t now = rdtsc();
		if ((counter && *counter >= want) || now >= end || !g_env.lapic_hz)
			break;
		uint64_t left_us = (end - now) / (g_env.tsc_hz / 1000000) + 1;
		lapic_write(LAPIC_TIMER_INIT, (uint32_t)(g_env.lapic_hz / 1000000 * left_us + 1));
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
	lapic_write(LAPIC_TIMER_INIT, 0);
	lapic_write(LAPIC_LVT_TIMER, 1 << 16 | VEC_TIMER);
	return rdtsc() - t0;
}
