/* Kernel symbol lookup for stack traces, from the ELF symbol table the loader kept in memory. */
#ifndef TERN_KSYMS_H
#define TERN_KSYMS_H

#include "kernel/compiler.h"

/* ksyms_init: find .symtab/.strtab in the kernel ELF file image (pure; size-checked). */
bool ksyms_init(const void *elf, uint64_t size);
/* ksym_lookup: the function containing addr and the offset into it, or NULL. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);

#endif
