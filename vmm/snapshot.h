/*
 * VM state save/restore: every vCPU's architectural state, the LAPICs, every device and guest
 * RAM, serialised into a versioned, self-describing stream of typed, length-prefixed records
 * (vmm/state.c). `vm snapshot` keeps one stream in host memory; `vm restore` loads it back.
 * Migration sends exactly these records over the network.
 */
#ifndef TERN_SNAPSHOT_H
#define TERN_SNAPSHOT_H

#include "kernel/compiler.h"

struct vm;

int vm_snapshot(struct vm *vm, const char **err);
int vm_restore(struct vm *vm, const char **err);
/* snapshot_describe: one line about the VM's snapshot (size, age). */
const char *snapshot_describe(struct vm *vm);
/* snapshot_free: drop the VM's snapshot (when the VM is destroyed). */
void snapshot_free(struct vm *vm);

#endif
