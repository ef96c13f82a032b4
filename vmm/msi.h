/* Delivering a guest MSI / MSI-X message (address 0xFEExxxxx, data = vector...) to its vLAPICs
 * (SDM 3A 11.11). */
#ifndef TERN_VMSI_H
#define TERN_VMSI_H

#include "kernel/compiler.h"

struct vm;

/* vm_msi: deliver the message; false if the address is not an interrupt message. */
bool vm_msi(struct vm *vm, uint64_t addr, uint32_t data);

#endif
