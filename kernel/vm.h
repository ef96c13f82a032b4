/* The kernel's own page tables: direct map, kernel image with W^X, and the ioremap window. */
#ifndef TERN_VM_H
#define TERN_VM_H

#include "kernel/compiler.h"
#include "boot/bootinfo.h"

/* vm_init: build and load the kernel page tables (boot CPU). */
void vm_init(const struct boot_info *bi);
/* vm_load: load the kernel page tables and paging features on this CPU (APs). */
void vm_load(void);
/* vm_kernel_cr3: physical address of the kernel PML4 (below 4 GiB). */
uint64_t vm_kernel_cr3(void);
/* ioremap: map device registers uncached; returns the virtual address (panics on failure). */
void *ioremap(uint64_t pa, uint64_t size);
/* vm_identity_map_page: identity-map one low page executable (the AP trampoline). */
void vm_identity_map_page(uint64_t pa);

#endif
