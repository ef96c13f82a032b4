/* Thin wrappers for x86-64 instructions the kernel uses (Intel SDM vol. 2, AMD APM vol. 3). */
#ifndef TERN_X86_H
#define TERN_X86_H

#include "kernel/compiler.h"

/* RFLAGS bits (SDM 3A 2.3). */
#define RFLAGS_CF (1ULL << 0)
#define RFLAGS_ZF (1ULL << 6)
#define RFLAGS_IF (1ULL << 9)
#define RFLAGS_DF (1ULL << 10)

/* CR0 / CR4 bits (SDM 3A 2.5). */
#define CR0_PE         (1ULL << 0)
#define CR0_MP         (1ULL << 1)
#define CR0_EM         (1ULL << 2)
#define CR0_TS         (1ULL << 3)
#define CR0_ET         (1ULL << 4)
#define CR0_NE         (1ULL << 5)
#define CR0_WP         (1ULL << 16)
#define CR0_AM         (1ULL << 18)
#define CR0_NW         (1ULL << 29)
#define CR0_CD         (1ULL << 30)
#define CR0_PG         (1ULL << 31)
#define CR4_VME        (1ULL << 0)
#define CR4_PSE        (1ULL << 4)
#define CR4_PAE        (1ULL << 5)
#define CR4_MCE        (1ULL << 6)
#define CR4_PGE        (1ULL << 7)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_VMXE       (1ULL << 13)
#define CR4_FSGSBASE   (1ULL << 16)
#define CR4_OSXSAVE    (1ULL << 18)

/* MSRs used by the kernel. */
#define MSR_APIC_BASE       0x1b
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_TSC_DEADLINE    0x6e0
#define MSR_PAT             0x277
#define MSR_EFER            0xc0000080
#define MSR_STAR            0xc0000081
#define MSR_LSTAR           0xc0000082
#define MSR_FS_BASE         0xc0000100
#define MSR_GS_BASE         0xc0000101
#define MSR_KERNEL_GS_BASE  0xc0000102
#define MSR_TSC_AUX         0xc0000103
#define EFER_SCE            (1ULL << 0)
#define EFER_LME            (1ULL << 8)
#define EFER_LMA            (1ULL << 10)
#define EFER_NXE            (1ULL << 11)
#define EFER_SVME           (1ULL << 12)

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* cpuid: leaf/subleaf into r[0..3] = eax, ebx, ecx, edx. */
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	                 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	                 : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR(n)                                                                               \
	static inline uint64_t read_cr##n(void)                                                    \
	{                                                                                          \
		uint64_t v;                                                                        \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                  \
		return v;                                                                          \
	}                                                                                          \
	static inline void write_cr##n(uint64_t v)                                                 \
	{                                                                                          \
		__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");                         \
	}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline uint64_t read_rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}
static inline void cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
static inline void sti(void)
{
	__asm__ volatile("sti" ::: "memory");
}
static inline void hlt(void)
{
	__asm__ volatile("hlt" ::: "memory");
}
/* sti_hlt: enable interrupts and halt atomically (the sti shadow covers the hlt). */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti; hlt" ::: "memory");
}
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}
static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}
static inline uint64_t read_rbp(void)
{
	uint64_t v;
	__asm__ volatile("mov %%rbp, %0" : "=r"(v));
	return v;
}
/* irq_save: disable interrupts, returning the previous RFLAGS for irq_restore. */
static inline uint64_t irq_save(void)
{
	uint64_t f = read_rflags();
	cli();
	return f;
}
static inline void irq_restore(uint64_t flags)
{
	if (flags & RFLAGS_IF)
		sti();
}
static inline bool irqs_enabled(void)
{
	return read_rflags() & RFLAGS_IF;
}

#endif
