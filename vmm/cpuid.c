/*
 * Guest CPUID policy. Every feature bit passed through is either handled by hardware inside
 * the guest or emulated by Tern; everything else (nested virtualisation, performance
 * monitoring, MTRRs, machine-check architecture, x2APIC, RDTSCP/RDPID, PKU, TSX, speculation
 * controls, AVX-512, XSAVEC/XSAVES) is hidden. Bit positions: SDM vol. 2A CPUID, APM vol. 3 E.
 */
#include "vmm/cpuid.h"
#include "kernel/fpu.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/hvdetect.h"
#include "vmm/kvmclock.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vmx/vmx.h"

#define BIT(n) (1u << (n))

/* Leaf 1 ECX: SSE3 PCLMUL SSSE3 FMA CX16 PCID SSE4.1 SSE4.2 MOVBE POPCNT AES XSAVE AVX F16C
 * RDRAND (TSC-deadline, OSXSAVE and the hypervisor bit are set separately). */
#define L1_ECX_PASS                                                                                \
	(BIT(0) | BIT(1) | BIT(9) | BIT(12) | BIT(13) | BIT(17) | BIT(19) | BIT(20) | BIT(22) |    \
	 BIT(23) | BIT(25) | BIT(26) | BIT(28) | BIT(29) | BIT(30))
#define L1_ECX_TSC_DEADLINE BIT(24)
#define L1_ECX_OSXSAVE      BIT(27)
#define L1_ECX_HYPERVISOR   BIT(31)
/* Leaf 1 EDX: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE
 * SSE2 (HTT set for SMP guests). */
#define L1_EDX_PASS                                                                                \
	(BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(9) | \
	 BIT(11) | BIT(13) | BIT(15) | BIT(16) | BIT(17) | BIT(19) | BIT(23) | BIT(24) | BIT(25) | \
	 BIT(26))
#define L1_EDX_HTT BIT(28)
/* Leaf 7.0 EBX: FSGSBASE BMI1 AVX2 SMEP BMI2 ERMS INVPCID RDSEED ADX SMAP CLFLUSHOPT CLWB SHA */
#define L7_EBX_PASS                                                                                \
	(BIT(0) | BIT(3) | BIT(5) | BIT(7) | BIT(8) | BIT(9) | BIT(10) | BIT(18) | BIT(19) |       \
	 BIT(20) | BIT(23) | BIT(24) | BIT(29))
/* Leaf 7.0 ECX: UMIP VAES VPCLMULQDQ */
#define L7_ECX_PASS (BIT(2) | BIT(9) | BIT(10))
/* 8000_0001 ECX: LAHF ABM SSE4A MisAlignSse 3DNowPrefetch XOP FMA4 TBM */
#define E1_ECX_PASS (BIT(0) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(11) | BIT(16) | BIT(21))
/* 8000_0001 EDX: the leaf-1 mirror bits plus SYSCALL NX MMXEXT FFXSR Page1GB LM 3DNowExt 3DNow */
#define E1_EDX_PASS                                                                                \
	((L1_EDX_PASS & ~BIT(11)) | BIT(11) | BIT(20) | BIT(22) | BIT(25) | BIT(26) | BIT(29) |    \
	 BIT(30) | BIT(31))

#define MAX_BASIC    0xd
#define MAX_EXT      0x80000008u
#define XCR0_ALLOWED 0x7ULL /* x87, SSE, AVX */

/* xsave_size: bytes of the XSAVE area for the components in mask (from host CPUID 0xD). */
static uint32_t xsave_size(uint64_t mask)
{
	uint32_t size = 576, r[4];
	for (uint32_t i = 2; i < 32; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		cpuid(0xd, i, r);
		if (r[1] + r[0] > size)
			size = r[1] + r[0];
	}
	return size;
}

/* log2_ceil: bits needed to number n items. */
static uint32_t log2_ceil(uint32_t n)
{
	uint32_t b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

/* host_is_intel: Intel leaves (2, 4) are offered, AMD ones (8000_0008h ECX) are not. */
static bool host_is_intel(void)
{
	return !strcmp(hv_detect()->cpu_vendor, "GenuineIntel");
}

/* intel_cache_leaf: leaf 4 (SDM vol. 2A CPUID, deterministic cache parameters) with the
 * topology rewritten for the guest: n cores in one package, one thread each; caches above
 * level 2 are shared by the package, the others are per core. */
static void intel_cache_leaf(uint32_t n, const uint32_t *h, uint32_t *o)
{
	uint32_t ids = (1u << log2_ceil(n)) - 1;
	uint32_t level = (h[0] >> 5) & 7;
	memcpy(o, h, 16);
	if (!(h[0] & 0x1f))
		return; /* no more caches */
	o[0] = (h[0] & 0x3fff) | ((level > 2 ? ids : 0) << 14) | (ids << 26);
}

/* basic_leaf: leaves 0..0xD. */
static void basic_leaf(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t *o)
{
	uint32_t h[4];
	cpuid(leaf, sub, h);
	uint32_t n = (uint32_t)v->vm->nvcpus;
	uint64_t host_xcr0 = fpu_xcr0() & XCR0_ALLOWED;
	switch (leaf) {
	case 0:
		o[0] = MIN(h[0], (uint32_t)MAX_BASIC);
		o[1] = h[1], o[2] = h[2], o[3] = h[3];
		break;
	case 1:
		o[0] = h[0];
		o[1] =
		    (h[1] & 0xff00) | ((uint32_t)v->lapic.id << 24) | ((1u << log2_ceil(n)) << 16);
		o[2] = (h[2] & L1_ECX_PASS) | L1_ECX_TSC_DEADLINE | L1_ECX_HYPERVISOR;
		if (!host_xcr0)
			o[2] &= ~(BIT(26) | BIT(28));
		if (!(host_xcr0 & 4))
			o[2] &= ~(BIT(12) | BIT(28) | BIT(29)); /* FMA, AVX, F16C need AVX state */
		if (vmm->get_cr(v, 4) & CR4_OSXSAVE)
			o[2] |= L1_ECX_OSXSAVE;
		o[3] = (h[3] & L1_EDX_PASS) | (n > 1 ? L1_EDX_HTT : 0);
		break;
	case 6:
		o[0] = BIT(2); /* ARAT: the APIC timer runs in every C-state */
		break;
	case 7:
		if (sub == 0) {
			o[1] = h[1] & L7_EBX_PASS;
			if (!(host_xcr0 & 4))
				o[1] &= ~BIT(5); /* AVX2 */
			if (vmm == &vmx_backend && !vmx_caps.invpcid)
				o[1] &= ~BIT(10); /* INVPCID would raise #UD in the guest */
			o[2] = h[2] & L7_ECX_PASS;
		}
		break;
	case 2: /* Intel cache and TLB descriptors: only descriptions */
		if (host_is_intel())
			memcpy(o, h, 16);
		break;
	case 4:
		if (host_is_intel())
			intel_cache_leaf(n, h, o);
		break;
	case 0xb: /* x2APIC topology: one thread per core, n cores in one package */
		if (sub == 0) {
			o[0] = 0, o[1] = 1, o[2] = (1u << 8);
		} else if (sub == 1) {
			o[0] = log2_ceil(n), o[1] = n, o[2] = 1 | (2u << 8);
		} else {
			o[2] = sub & 0xff;
		}
		o[3] = v->lapic.id;
		break;
	case 0xd:
		if (sub == 0) {
			o[0] = (uint32_t)host_xcr0;
			o[1] = xsave_size(v->xcr0);
			o[2] = xsave_size(host_xcr0);
		} else if (sub == 1) {
			o[0] = h[0] & BIT(0); /* XSAVEOPT only */
		} else if (sub < 32 && (host_xcr0 & (1ULL << sub))) {
			memcpy(o, h, 16);
		}
		break;
	default:
		break; /* 3, 5, 8-0xa, 0xc: nothing to offer */
	}
}

/* ext_leaf: leaves 0x80000000..0x80000008. */
static void ext_leaf(struct vcpu *v, uint32_t leaf, uint32_t *o)
{
	uint32_t h[4];
	cpuid(leaf, 0, h);
	uint32_t n = (uint32_t)v->vm->nvcpus;
	switch (leaf) {
	case 0x80000000:
		o[0] = MIN(h[0], MAX_EXT);
		o[1] = h[1], o[2] = h[2], o[3] = h[3];
		break;
	case 0x80000001:
		o[0] = h[0];
		o[2] = h[2] & E1_ECX_PASS;
		o[3] = h[3] & E1_EDX_PASS;
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004:
	case 0x80000005:
	case 0x80000006:
		memcpy(o, h, 16); /* brand string and cache descriptions */
		break;
	case 0x80000007:
		o[3] = BIT(8); /* invariant TSC */
		break;
	case 0x80000008:
		o[0] = h[0] & 0xffff; /* physical and linear address bits */
		if (!host_is_intel()) /* AMD core count (APM vol. 3 E.4.7); reserved on Intel */
			o[2] = (n - 1) | (log2_ceil(n) << 12);
		break;
	default:
		break;
	}
}

void cpuid_guest(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	memset(out, 0, 16);
	if (leaf <= MAX_BASIC) {
		uint32_t h[4];
		cpuid(0, 0, h);
		if (leaf <= h[0])
			basic_leaf(v, leaf, sub, out);
	} else if (leaf == TERN_CPUID_BASE) {
		out[0] = TERN_CPUID_BASE + 1;
		memcpy(&out[1], TERN_CPUID_SIGNATURE, 4);
		memcpy(&out[2], TERN_CPUID_SIGNATURE + 4, 4);
		memcpy(&out[3], TERN_CPUID_SIGNATURE + 8, 4);
	} else if (leaf == TERN_CPUID_BASE + 1) {
		out[0] = 0x00000100; /* Tern interface version 0.1 */
	} else if (kvmclock_cpuid(leaf, out)) {
		/* the KVM clock leaves at 0x40000100 */
	} else if (leaf >= 0x80000000 && leaf <= MAX_EXT) {
		uint32_t h[4];
		cpuid(0x80000000, 0, h);
		if (leaf <= h[0])
			ext_leaf(v, leaf, out);
	}
}
