/* Guest MSR access: an allow-list; anything else raises #GP in the guest and is logged. */
#ifndef TERN_VMSR_H
#define TERN_VMSR_H

#include "kernel/compiler.h"

struct vcpu;

/* msr_guest_read / write: 0 on success, -1 if the guest must get #GP. */
int msr_guest_read(struct vcpu *v, uint32_t msr, uint64_t *val);
int msr_guest_write(struct vcpu *v, uint32_t msr, uint64_t val);

#endif
