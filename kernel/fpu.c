/* FPU state management; see fpu.h. */
#include "kernel/fpu.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "kernel/panic.h"

#define XCR0_X87 (1ULL << 0)
#define XCR0_SSE (1ULL << 1)
#define XCR0_AVX (1ULL << 2)

static uint64_t g_xcr0;
static size_t g_size = 512 + 64; /* legacy FXSAVE area + XSAVE header */
static bool g_xsave;

/* xsetbv: write extended control register 0. */
static void xsetbv0(uint64_t v)
{
	__asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* fpu_init_cpu: CR0.MP/NE, CR4.OSFXSR/OSXMMEXCPT (+OSXSAVE), XCR0 = x87|SSE|AVX as present. */
void fpu_init_cpu(void)
{
	uint32_t r[4];
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
	cpuid(1, 0, r);
	g_xsave = (r[2] >> 26) & 1; /* CPUID.1:ECX.XSAVE */
	if (g_xsave)
		cr4 |= CR4_OSXSAVE;
	write_cr4(cr4);
	__asm__ volatile("fninit");
	if (!g_xsave)
		return;
	cpuid(0xd, 0, r);
	uint64_t supported = ((uint64_t)r[3] << 32) | r[0];
	g_xcr0 = supported & (XCR0_X87 | XCR0_SSE | XCR0_AVX);
	xsetbv0(g_xcr0);
	cpuid(0xd, 0, r);
	g_size = r[1]; /* EBX: size for the features now enabled in XCR0 */
}

size_t fpu_area_size(void)
{
	return g_size;
}

uint64_t fpu_xcr0(void)
{
	return g_xcr0;
}

/* fpu_alloc: zeroed area (XSTATE_BV = 0 means "initial state") with the default MXCSR. */
void *fpu_alloc(void)
{
	uint8_t *a = pmm_alloc_kva(g_size);
	if (a) {
		*(uint16_t *)(a + 0) = 0x037f;  /* FCW default */
		*(uint32_t *)(a + 24) = 0x1f80; /* MXCSR default */
	}
	return a;
}

void fpu_free(void *area)
{
	pmm_free_kva(area, g_size);
}

/* save: XSAVE (or FXSAVE) the registers into area. */
static void save(void *area)
{
	if (g_xsave)
		__asm__ volatile("xsave64 (%0)"
		                 :
		                 : "r"(area), "a"((uint32_t)g_xcr0), "d"((uint32_t)(g_xcr0 >> 32))
		                 : "memory");
	else
		__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

/* restore: XRSTOR (or FXRSTOR) the registers from area. */
static void restore(void *area)
{
	if (g_xsave)
		__asm__ volatile("xrstor64 (%0)"
		                 :
		                 : "r"(area), "a"((uint32_t)g_xcr0), "d"((uint32_t)(g_xcr0 >> 32))
		                 : "memory");
	else
		__asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

/* fpu_switch: lazy hand-over of the registers between FPU-owning threads. */
void fpu_switch(struct cpu *c, struct thread *prev, struct thread *next)
{
	(void)prev;
	if (!next->fpu || c->fpu_owner == next)
		return;
	if (c->fpu_owner)
		save(c->fpu_owner->fpu);
	restore(next->fpu);
	c->fpu_owner = next;
}

/* fpu_release: an exiting thread no longer owns the registers. */
void fpu_release(struct cpu *c, struct thread *t)
{
	if (c->fpu_owner == t)
		c->fpu_owner = NULL;
}

/* fpu_save_current: sync the owner's area with the registers (for snapshots). */
void fpu_save_current(struct cpu *c)
{
	if (c->fpu_owner)
		save(c->fpu_owner->fpu);
}
