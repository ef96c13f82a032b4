/* ELF64 definitions and the kernel-image checks shared by the loader and host tests (pure). */
#ifndef TERN_ELF_H
#define TERN_ELF_H

#include <stdint.h>

typedef struct {
	unsigned char e_ident[16];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff;
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
} Elf64_Ehdr;

typedef struct {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
} Elf64_Phdr;

typedef struct {
	uint32_t sh_name;
	uint32_t sh_type;
	uint64_t sh_flags;
	uint64_t sh_addr;
	uint64_t sh_offset;
	uint64_t sh_size;
	uint32_t sh_link;
	uint32_t sh_info;
	uint64_t sh_addralign;
	uint64_t sh_entsize;
} Elf64_Shdr;

typedef struct {
	uint32_t st_name;
	unsigned char st_info;
	unsigned char st_other;
	uint16_t st_shndx;
	uint64_t st_value;
	uint64_t st_size;
} Elf64_Sym;

#define ELF_PT_LOAD    1
#define ELF_ET_EXEC    2
#define ELF_EM_X86_64  62
#define ELF_SHT_SYMTAB 2
#define ELF_STT_FUNC   2
#define ELF_ST_TYPE(i) ((i)&0xf)

#define ELF_MAX_IMAGE (64ULL << 20) /* refuse kernel images spanning more than 64 MiB */

/* elf_check: validate the header of an x86-64 executable of size bytes; NULL or an error. */
const char *elf_check(const Elf64_Ehdr *eh, uint64_t size);
/* elf_span: [lo, hi) virtual span of the PT_LOAD segments, all at or above base; NULL or error. */
const char *elf_span(const Elf64_Ehdr *eh, uint64_t size, uint64_t base, uint64_t *lo,
                     uint64_t *hi);
/* elf_load: copy the segments into dst (dst maps virtual address base), zero the rest. */
void elf_load(const Elf64_Ehdr *eh, void *dst, uint64_t base, uint64_t dst_size);

#endif
