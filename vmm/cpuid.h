/* The CPUID a guest sees: the host's, minus what Tern cannot virtualise, plus Tern's leaves. */
#ifndef TERN_CPUID_H
#define TERN_CPUID_H

#include "kernel/compiler.h"

struct vcpu;

#define TERN_CPUID_SIGNATURE "TernTernTern"
#define TERN_CPUID_BASE      0x40000000u

/* cpuid_guest: the guest's answer for (leaf, subleaf) on vCPU v: out = eax, ebx, ecx, edx. */
void cpuid_guest(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4]);

#endif
