/*
 * Tern test guest (tguest): shared declarations. Freestanding C, no libc; see
 * docs/testguest.md for what the tests do and the output protocol.
 */
#ifndef TG_H
#define TG_H

#pragma GCC visibility push(hidden)

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uint64_t)(a)-1))

/* Guest platform (vmm/platform.h): addresses and ports the tests use. */
#define COM1        0x3f8
#define PORT_E9     0xe9
#define LAPIC_BASE  0xfee00000ULL
#define IOAPIC_BASE 0xfec00000ULL
#define ECAM_BASE   0xb0000000ULL
#define HOLE_START  0xb0000000ULL
#define PCI_MMIO    0xc0000000ULL
#define PIT_HZ      1193182ULL

/* Interrupt vectors used by the tests. */
#define VEC_NMI      2
#define VEC_TIMER    0x40
#define VEC_UART     0x41
#define VEC_SELF     0x42
#define VEC_NOBODY   0x50
#define VEC_SPURIOUS 0xff

/* LAPIC registers (SDM 3A table 11-1). */
#define LAPIC_ID         0x020
#define LAPIC_VER        0x030
#define LAPIC_TPR        0x080
#define LAPIC_EOI        0x0b0
#define LAPIC_SVR        0x0f0
#define LAPIC_ESR        0x280
#define LAPIC_ICR_LO     0x300
#define LAPIC_ICR_HI     0x310
#define LAPIC_LVT_TIMER  0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR  0x390
#define LAPIC_TIMER_DIV  0x3e0

/* MSRs. */
#define MSR_TSC       0x10
#define MSR_APIC_BASE 0x1b
#define MSR_PAT       0x277
#define MSR_EFER      0xc0000080
#define MSR_FS_BASE   0xc0000100
#define EFER_LME      (1ULL << 8)
#define EFER_LMA      (1ULL << 10)

/* ---- port I/O, MSRs, CPUID, TSC ---------------------------------------------------------- */
static inline void outb(uint16_t p, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(p));
}
static inline void outw(uint16_t p, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(p));
}
static inline void outl(uint16_t p, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(p));
}
static inline uint8_t inb(uint16_t p)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint16_t inw(uint16_t p)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint32_t inl(uint16_t p)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	                 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	                 : "a"(leaf), "c"(sub));
}
static inline void cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
static inline void sti(void)
{
	__asm__ volatile("sti" ::: "memory");
}
static inline void pause(void)
{
	__asm__ volatile("pause");
}
static inline uint64_t read_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}
static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}
static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* MMIO with an explicit 32-bit access (the LAPIC and IOAPIC want nothing else). */
static inline uint32_t mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline uint32_t lapic_read(uint32_t r)
{
	return mmio_read32(LAPIC_BASE + r);
}
static inline void lapic_write(uint32_t r, uint32_t v)
{
	mmio_write32(LAPIC_BASE + r, v);
}

/* ---- faults the tests provoke on purpose ---------------------------------------------------
 * TRY(insn, OUTS(...), INS(...)) runs one instruction with a fix-up: if it faults, the trap
 * handler records the exception in g_fault and resumes after it. Evaluates to the vector, or
 * -1 when nothing faulted. g_fault.rip_ok says whether the reported RIP was the instruction's.
 */
struct tg_fault {
	volatile int vec;
	volatile uint64_t err, rip, cr2;
	volatile bool rip_ok;
};
extern struct tg_fault g_fault;
extern volatile uint64_t g_fix_rip, g_fix_start;

#define OUTS(...) __VA_ARGS__
#define INS(...)  __VA_ARGS__
#define TRY(insn, outs, ins)                                                                       \
	({                                                                                         \
		g_fault.vec = -1;                                                                  \
		__asm__ volatile("lea 0f(%%rip), %%r11\n\t"                                        \
		                 "mov %%r11, g_fix_start(%%rip)\n\t"                               \
		                 "lea 1f(%%rip), %%r11\n\t"                                        \
		                 "mov %%r11, g_fix_rip(%%rip)\n"                                   \
		                 "0:\n\t" insn "\n"                                                \
		                 "1:\n\t"                                                          \
		                 "movq $0, g_fix_rip(%%rip)"                                       \
		                 : outs:ins                                                        \
		                 : "r11", "memory", "cc");                                         \
		g_fault.vec;                                                                       \
	})

int rdmsr_safe(uint32_t msr, uint64_t *val); /* -1 ok, else the vector */
int wrmsr_safe(uint32_t msr, uint64_t val);
uint64_t rdmsr(uint32_t msr); /* a failure is reported as a check failure */
void wrmsr(uint32_t msr, uint64_t val);

/* ---- interrupts -------------------------------------------------------------------------- */
struct tg_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vec, err, rip, cs, rflags, rsp, ss;
};
extern volatile uint64_t g_irq_count[256];
extern volatile uint32_t g_uart_iir; /* what the UART interrupt handler read from IIR */
void trap_init(void);
void lapic_setup(void); /* software-enable the LAPIC, measure its timer against the TSC */
/* irq_window: interrupts on (STI; HLT) until *counter reaches want (counter may be NULL) or
 * us microseconds pass; a LAPIC one-shot on VEC_TIMER bounds every HLT. Returns TSC ticks. */
uint64_t irq_window(volatile uint64_t *counter, uint64_t want, uint64_t us);

/* ---- output -------------------------------------------------------------------------------
 * say(): one line "TGUEST <text>" on COM1 and/or port 0xE9 (tguest.out=).
 * check(): a CHECK line; failures are counted for the DONE line of the running test.
 */
void out_init(void);
int tg_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
int tg_snprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool check(bool ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void test_begin(const char *name);
bool test_end(void); /* prints DONE <test> ok|FAIL ...; true if ok */
void fail_stop(const char *why) __attribute__((noreturn));
extern bool g_out_com1, g_out_e9;
extern const char *g_test;

/* ---- library ------------------------------------------------------------------------------ */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
bool streq_n(const char *a, size_t alen, const char *b); /* a[0..alen) equals string b */

/* ---- environment: command line, memory map, time ------------------------------------------ */
struct tg_env {
	const uint8_t *boot_params;
	const char *cmdline;
	uint64_t ram_top;                /* end of the RAM range below 4 GiB that holds the image */
	uint64_t ram_above_4g;           /* end of RAM above 4 GiB (0 if none) */
	uint64_t image_start, image_end; /* load address and end of .bss */
	uint64_t tsc_hz;
	uint64_t lapic_hz; /* LAPIC timer input clock (divide by 1), measured */
	unsigned maxphys;  /* CPUID 0x80000008 EAX[7:0] */
	bool amd, intel;
	uint32_t apic_id;
};
extern struct tg_env g_env;

/* opt(): the value of "tguest.KEY=" on the command line (length in *len), or NULL. */
const char *opt(const char *key, size_t *len);
uint64_t opt_u64(const char *key, uint64_t dflt);
bool e820_is_ram(uint64_t addr, uint64_t len);
void tsc_calibrate(void);
void delay_us(uint64_t us);
uint64_t tsc_ms(uint64_t ticks);

/* ---- paging: own tables; a window maps any physical page at a fixed virtual address ------- */
void paging_init(void);
uint64_t map_phys(uint64_t pa, bool uncached);    /* virtual address of physical page pa */
uint64_t map_phys_raw(uint64_t pte);              /* install a raw PTE in the window, return VA */
void paging_pt_pages(uint64_t *out, unsigned *n); /* the page-table pages the low map uses */

/* ---- tests --------------------------------------------------------------------------------- */
void test_basic(void);
void test_hostile(void);
void test_dirty(void);
void test_count(void);

/* dirty.asm's parameter block (field offsets are fixed there). */
struct tg_dirty {
	uint64_t base, npages, k, stride, npt, pt[4];
	uint8_t com1, e9;
};
extern struct tg_dirty g_dirty;
uint64_t tg_dirty_loop(void);
void tg_triple_fault(void) __attribute__((noreturn));
void tg_load_gdt(const void *gdtr, uint16_t cs, uint16_t ds);

#pragma GCC visibility pop

#endif
