/* Fetching, decoding and emulating guest instructions for exits that need it. */
#ifndef TERN_EMULATE_H
#define TERN_EMULATE_H

#include "kernel/compiler.h"

struct vcpu;

/* vcpu_insn_len: length of the instruction at CS:RIP; -1 if it cannot be fetched (a fault
 * was injected) or decoded. */
int vcpu_insn_len(struct vcpu *v, unsigned *len);
/* vcpu_emulate_mmio: emulate the instruction that faulted on MMIO at gpa; 0 done (or a
 * guest fault injected), -1 with a reason for a guest error the VM cannot continue from. */
int vcpu_emulate_mmio(struct vcpu *v, uint64_t gpa, char *why, size_t why_len);

/* vcpu_string_operand: address size (2/4/8) and segment (enum x86_seg) of the string
 * instruction at CS:RIP; -1 if its fetch faulted (the fault was injected). */
int vcpu_string_operand(struct vcpu *v, unsigned *addr_size, unsigned *seg);

/* vcpu_translate: guest linear -> guest-physical through the guest's page tables; -1 after
 * injecting the #PF (or #GP) the access would raise. */
int vcpu_translate(struct vcpu *v, uint64_t la, bool write, uint64_t *gpa);

#endif
