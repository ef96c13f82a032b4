/* ELF64 kernel-image validation and loading; pure C, used by the loader and the host tests. */
#include "boot/elf.h"

/* phdr: the i-th program header (the caller checked the table lies inside the file). */
static const Elf64_Phdr *phdr(const Elf64_Ehdr *eh, int i)
{
	return (const Elf64_Phdr *)((const char *)eh + eh->e_phoff + (uint64_t)i * eh->e_phentsize);
}

/* elf_check: header sanity: magic, 64-bit LE, x86-64 executable, table inside the file. */
const char *elf_check(const Elf64_Ehdr *eh, uint64_t size)
{
	if (size < sizeof(*eh))
		return "file smaller than an ELF header";
	if (eh->e_ident[0] != 0x7f || eh->e_ident[1] != 'E' || eh->e_ident[2] != 'L' ||
	    eh->e_ident[3] != 'F')
		return "not an ELF file";
	if (eh->e_ident[4] != 2 || eh->e_ident[5] != 1)
		return "not a 64-bit little-endian ELF";
	if (eh->e_type != ELF_ET_EXEC || eh->e_machine != ELF_EM_X86_64)
		return "not an x86-64 executable";
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0)
		return "bad program header table";
	if (eh->e_phoff > size || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
		return "program header table outside the file";
	if (eh->e_phoff % 8)
		return "program header table misaligned"; /* its 64-bit fields are read directly */
	return 0;
}

/* elf_span: the virtual range the loadable segments cover; checks each against the file. */
const char *elf_span(const Elf64_Ehdr *eh, uint64_t size, uint64_t base, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = ~0ULL, h = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = phdr(eh, i);
		if (p->p_type != ELF_PT_LOAD)
			continue;
		if (p->p_filesz > p->p_memsz)
			return "segment file size exceeds memory size";
		if (p->p_offset > size || p->p_filesz > size - p->p_offset)
			return "segment data outside the file";
		if (p->p_vaddr < base || p->p_memsz > ELF_MAX_IMAGE ||
		    p->p_vaddr - base > ELF_MAX_IMAGE - p->p_memsz)
			return "segment outside the kernel window";
		if (p->p_vaddr < l)
			l = p->p_vaddr;
		if (p->p_vaddr + p->p_memsz > h)
			h = p->p_vaddr + p->p_memsz;
	}
	if (h == 0)
		return "no loadable segments";
	if (eh->e_entry < l || eh->e_entry >= h)
		return "entry point outside the image";
	*lo = l;
	*hi = h;
	return 0;
}

/* elf_load: zero the destination, then copy each segment's file bytes to its place. */
void elf_load(const Elf64_Ehdr *eh, void *dst, uint64_t base, uint64_t dst_size)
{
	unsigned char *d = dst;
	for (uint64_t i = 0; i < dst_size; i++)
		d[i] = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = phdr(eh, i);
		if (p->p_type != ELF_PT_LOAD)
			continue;
		const unsigned char *s = (const unsigned char *)eh + p->p_offset;
		for (uint64_t j = 0; j < p->p_filesz; j++)
			d[p->p_vaddr - base + j] = s[j];
	}
}
