/* Symbol lookup in the kernel's own ELF file (every offset checked against the file size). */
#include "kernel/ksyms.h"
#include "boot/elf.h"

static const Elf64_Sym *g_syms;
static uint64_t g_nsyms;
static const char *g_strs;
static uint64_t g_strsize;

/* ksyms_init: locate the symbol and string tables via the section headers. */
bool ksyms_init(const void *elf, uint64_t size)
{
	const Elf64_Ehdr *eh = elf;
	const char *base = elf;
	/* the section and symbol tables are read in place: they must be 8-byte aligned */
	if (size < sizeof(*eh) || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > size ||
	    (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > size - eh->e_shoff || eh->e_shoff % 8)
		return false;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != ELF_SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		const Elf64_Shdr *st = &sh[sh[i].sh_link];
		if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
		    st->sh_offset > size || st->sh_size > size - st->sh_offset || !st->sh_size ||
		    sh[i].sh_offset % 8)
			return false;
		g_syms = (const Elf64_Sym *)(base + sh[i].sh_offset);
		g_nsyms = sh[i].sh_size / sizeof(Elf64_Sym);
		g_strs = base + st->sh_offset;
		g_strsize = st->sh_size;
		return true;
	}
	return false;
}

/* ksym_lookup: linear scan for the closest function start at or below addr. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
	const Elf64_Sym *best = 0;
	for (uint64_t i = 0; i < g_nsyms; i++) {
		const Elf64_Sym *s = &g_syms[i];
		if (ELF_ST_TYPE(s->st_info) != ELF_STT_FUNC || s->st_value > addr ||
		    s->st_name >= g_strsize)
			continue;
		if (!best || s->st_value > best->st_value)
			best = s;
	}
	if (!best || (best->st_size && addr - best->st_value > best->st_size + 64))
		return 0;
	*offset = addr - best->st_value;
	const char *name = g_strs + best->st_name;
	/* the table must hold a terminator before its end */
	for (uint64_t i = best->st_name; i < g_strsize; i++)
		if (!g_strs[i])
			return name;
	return 0;
}
