/*
 * Unit tests for boot/elf.c (kernel-image checks and loading) and kernel/ksyms.c (symbol
 * lookup), on an ELF image built here and, when it has been built, on build/tern.elf itself
 * (checked against `nm`; override the path with TERN_ELF).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/bootinfo.h"
#include "boot/elf.h"
#include "kernel/ksyms.h"

#define BASE KERNEL_VBASE

/* ---- a small kernel-like image -----------------------------------------------------------
 * 0x000 Ehdr, 0x040 3 Phdrs (text, data+bss, GNU_STACK), 0x100 text (0x100 bytes),
 * 0x200 data (0x40 bytes), 0x240 .symtab, then .strtab and the section headers.
 * text at BASE + 0x1000, data at BASE + 0x3000 with 0x1000 bytes of memory in all. */
#define T_OFF    0x100
#define T_SIZE   0x100
#define T_VADDR  (BASE + 0x1000)
#define D_OFF    0x200
#define D_SIZE   0x40
#define D_MEMSZ  0x1000
#define D_VADDR  (BASE + 0x3000)
#define SYM_OFF  0x240
#define NSYMS    8
#define STR_OFF  (SYM_OFF + NSYMS * sizeof(Elf64_Sym))
#define IMG_SIZE 0x800

static const char strtab[] = "\0alpha\0beta\0gvar\0asm_entry\0after\0unterminated";
/* name offsets in strtab */
#define N_ALPHA  1
#define N_BETA   7
#define N_GVAR   12
#define N_ASM    17
#define N_AFTER  27
#define N_UNTERM 33
#define SH_OFF   ((STR_OFF + sizeof(strtab) - 1 + 7) & ~7UL) /* without the last NUL */

struct img {
	union {
		uint8_t b[IMG_SIZE];
		uint64_t align;
	};
	uint64_t size;
};

static Elf64_Ehdr *eh(struct img *m)
{
	return (Elf64_Ehdr *)m->b;
}
static Elf64_Phdr *ph(struct img *m, int i)
{
	return (Elf64_Phdr *)(m->b + 0x40) + i;
}
static Elf64_Shdr *sh(struct img *m, int i)
{
	return (Elf64_Shdr *)(m->b + SH_OFF) + i;
}
static Elf64_Sym *sym(struct img *m, int i)
{
	return (Elf64_Sym *)(m->b + SYM_OFF) + i;
}

static void make_img(struct img *m)
{
	memset(m, 0, sizeof(*m));
	Elf64_Ehdr *e = eh(m);
	memcpy(e->e_ident,
	       "\x7f"
	       "ELF\x02\x01\x01",
	       7);
	e->e_type = ELF_ET_EXEC;
	e->e_machine = ELF_EM_X86_64;
	e->e_version = 1;
	e->e_entry = T_VADDR + 0x10;
	e->e_phoff = 0x40;
	e->e_ehsize = sizeof(Elf64_Ehdr);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = 3;
	e->e_shoff = SH_OFF;
	e->e_shentsize = sizeof(Elf64_Shdr);
	e->e_shnum = 4;
	e->e_shstrndx = 0;
	*ph(m, 0) = (Elf64_Phdr){ELF_PT_LOAD, 5, T_OFF, T_VADDR, T_VADDR, T_SIZE, T_SIZE, 0x1000};
	*ph(m, 1) = (Elf64_Phdr){ELF_PT_LOAD, 6, D_OFF, D_VADDR, D_VADDR, D_SIZE, D_MEMSZ, 0x1000};
	*ph(m, 2) = (Elf64_Phdr){0x6474e551, 6, 0, 0, 0, 0, 0, 16}; /* PT_GNU_STACK */
	for (int i = 0; i < T_SIZE; i++)
		m->b[T_OFF + i] = (uint8_t)(0x90 + i);
	for (int i = 0; i < D_SIZE; i++)
		m->b[D_OFF + i] = (uint8_t)(0x11 * (i + 1));
	/* symbols: alpha [+0x00,+0x40), beta [+0x40,+0x60), gvar (object), asm_entry at +0x80
	 * without a size, "after" with a name past the table, and one without a terminator */
	*sym(m, 1) = (Elf64_Sym){N_ALPHA, 0x12, 0, 1, T_VADDR, 0x40};
	*sym(m, 2) = (Elf64_Sym){N_BETA, 0x02, 0, 1, T_VADDR + 0x40, 0x20};
	*sym(m, 3) = (Elf64_Sym){N_GVAR, 0x11, 0, 2, D_VADDR, 8};
	*sym(m, 4) = (Elf64_Sym){N_ASM, 0x10 | ELF_STT_FUNC, 0, 1, T_VADDR + 0x80, 0};
	*sym(m, 5) = (Elf64_Sym){0x5000, 0x12, 0, 1, T_VADDR + 0xc0, 0x10};
	*sym(m, 6) = (Elf64_Sym){N_UNTERM, 0x12, 0, 1, T_VADDR + 0xe0, 0x10};
	*sym(m, 7) = (Elf64_Sym){N_AFTER, 0x03, 0, 1, T_VADDR + 0xd0, 0}; /* a SECTION symbol */
	memcpy(m->b + STR_OFF, strtab, sizeof(strtab) - 1);
	/* sections: null, .text, .symtab (link 3), .strtab */
	*sh(m, 1) = (Elf64_Shdr){0, 1, 6, T_VADDR, T_OFF, T_SIZE, 0, 0, 16, 0};
	*sh(m, 2) =
	    (Elf64_Shdr){0, ELF_SHT_SYMTAB,   0, 0, SYM_OFF, NSYMS * sizeof(Elf64_Sym), 3, 1,
	                 8, sizeof(Elf64_Sym)};
	*sh(m, 3) = (Elf64_Shdr){0, 3, 0, 0, STR_OFF, sizeof(strtab) - 1, 0, 0, 1, 0};
	m->size = SH_OFF + 4 * sizeof(Elf64_Shdr);
	assert_true(m->size <= IMG_SIZE);
}

/* copy: the image in a heap block of exactly size bytes (ASan sees any read past it). */
static void *copy(const struct img *m, uint64_t size)
{
	void *p = malloc(size ? size : 1);
	memcpy(p, m->b, size);
	return p;
}

/* ---- elf_check ---------------------------------------------------------------------------- */
static void test_check_ok(void **state)
{
	struct img m;
	make_img(&m);
	void *p = copy(&m, m.size);
	assert_null(elf_check(p, m.size));
	free(p);
	/* a file just holding the header and program headers is still fine for elf_check */
	p = copy(&m, 0x40 + 3 * sizeof(Elf64_Phdr));
	assert_null(elf_check(p, 0x40 + 3 * sizeof(Elf64_Phdr)));
	free(p);
}

static void check_fails(struct img *m, const char *err)
{
	void *p = copy(m, m->size);
	const char *got = elf_check(p, m->size);
	assert_non_null(got);
	assert_string_equal(got, err);
	free(p);
}

static void test_check_errors(void **state)
{
	struct img m;
	make_img(&m);
	for (uint64_t s = 0; s < sizeof(Elf64_Ehdr); s++) {
		void *p = copy(&m, s);
		assert_string_equal(elf_check(p, s), "file smaller than an ELF header");
		free(p);
	}
	for (int i = 0; i < 4; i++) {
		make_img(&m);
		m.b[i] ^= 0x20;
		check_fails(&m, "not an ELF file");
	}
	make_img(&m);
	m.b[4] = 1; /* ELFCLASS32 */
	check_fails(&m, "not a 64-bit little-endian ELF");
	make_img(&m);
	m.b[5] = 2; /* big-endian */
	check_fails(&m, "not a 64-bit little-endian ELF");
	make_img(&m);
	eh(&m)->e_type = 3; /* ET_DYN */
	check_fails(&m, "not an x86-64 executable");
	make_img(&m);
	eh(&m)->e_machine = 3; /* i386 */
	check_fails(&m, "not an x86-64 executable");
	make_img(&m);
	eh(&m)->e_phentsize = 32;
	check_fails(&m, "bad program header table");
	make_img(&m);
	eh(&m)->e_phnum = 0;
	check_fails(&m, "bad program header table");
	const uint64_t bad_off[] = {IMG_SIZE, IMG_SIZE + 8, ~0ULL - 7, ~0ULL & ~7ULL, (1ULL << 63)};
	for (size_t i = 0; i < sizeof(bad_off) / sizeof(bad_off[0]); i++) {
		make_img(&m);
		m.size = IMG_SIZE;
		eh(&m)->e_phoff = bad_off[i];
		check_fails(&m, "program header table outside the file");
	}
	/* the table must end inside the file */
	make_img(&m);
	m.size = 0x40 + 3 * sizeof(Elf64_Phdr) - 1;
	check_fails(&m, "program header table outside the file");
	make_img(&m);
	eh(&m)->e_phnum = 0xffff;
	check_fails(&m, "program header table outside the file");
	/* a misaligned table (the headers would be read with misaligned loads) */
	make_img(&m);
	memmove(m.b + 0x41, m.b + 0x40, 3 * sizeof(Elf64_Phdr));
	eh(&m)->e_phoff = 0x41;
	check_fails(&m, "program header table misaligned");
}

/* ---- elf_span ----------------------------------------------------------------------------- */
static const char *span(struct img *m, uint64_t base, uint64_t *lo, uint64_t *hi)
{
	void *p = copy(m, m->size);
	assert_null(elf_check(p, m->size));
	const char *err = elf_span(p, m->size, base, lo, hi);
	free(p);
	return err;
}

static void span_fails(struct img *m, const char *err)
{
	uint64_t lo = 1, hi = 2;
	const char *got = span(m, BASE, &lo, &hi);
	assert_non_null(got);
	assert_string_equal(got, err);
	assert_int_equal(lo, 1); /* untouched on failure */
	assert_int_equal(hi, 2);
}

static void test_span_ok(void **state)
{
	struct img m;
	make_img(&m);
	uint64_t lo, hi;
	assert_null(span(&m, BASE, &lo, &hi));
	assert_true(lo == T_VADDR);
	assert_true(hi == D_VADDR + D_MEMSZ);
	/* segments in any order; an entry on the last byte */
	Elf64_Phdr t = *ph(&m, 0);
	*ph(&m, 0) = *ph(&m, 1);
	*ph(&m, 1) = t;
	eh(&m)->e_entry = D_VADDR + D_MEMSZ - 1;
	assert_null(span(&m, BASE, &lo, &hi));
	assert_true(lo == T_VADDR && hi == D_VADDR + D_MEMSZ);
	/* a segment filling exactly the 64 MiB window */
	make_img(&m);
	eh(&m)->e_phnum = 1;
	ph(&m, 0)->p_vaddr = BASE;
	ph(&m, 0)->p_memsz = ELF_MAX_IMAGE;
	eh(&m)->e_entry = BASE;
	assert_null(span(&m, BASE, &lo, &hi));
	assert_true(hi == BASE + ELF_MAX_IMAGE);
	/* an empty segment file size (all bss) */
	make_img(&m);
	ph(&m, 1)->p_filesz = 0;
	ph(&m, 1)->p_offset = IMG_SIZE * 4;        /* not read when filesz is 0 ... */
	assert_non_null(span(&m, BASE, &lo, &hi)); /* ... but still has to lie in the file */
	ph(&m, 1)->p_offset = m.size;
	assert_null(span(&m, BASE, &lo, &hi));
}

static void test_span_errors(void **state)
{
	struct img m;
	make_img(&m);
	ph(&m, 1)->p_filesz = D_MEMSZ + 1;
	span_fails(&m, "segment file size exceeds memory size");

	make_img(&m);
	ph(&m, 0)->p_offset = m.size + 1;
	span_fails(&m, "segment data outside the file");
	make_img(&m);
	ph(&m, 0)->p_offset = m.size - 0x10; /* starts inside, runs out */
	span_fails(&m, "segment data outside the file");
	make_img(&m);
	ph(&m, 0)->p_offset = ~0ULL - 0x10; /* offset + filesz wraps */
	span_fails(&m, "segment data outside the file");
	make_img(&m);
	ph(&m, 1)->p_filesz = ~0ULL; /* huge filesz and memsz */
	ph(&m, 1)->p_memsz = ~0ULL;
	span_fails(&m, "segment data outside the file");

	make_img(&m);
	ph(&m, 0)->p_vaddr = BASE - 0x1000; /* below the window */
	span_fails(&m, "segment outside the kernel window");
	make_img(&m);
	ph(&m, 1)->p_memsz = ELF_MAX_IMAGE + 1;
	span_fails(&m, "segment outside the kernel window");
	make_img(&m);
	ph(&m, 1)->p_vaddr = BASE + ELF_MAX_IMAGE - D_MEMSZ + 1; /* ends one byte past */
	span_fails(&m, "segment outside the kernel window");
	make_img(&m);
	ph(&m, 1)->p_vaddr = ~0ULL - 0x10; /* vaddr + memsz wraps */
	span_fails(&m, "segment outside the kernel window");

	make_img(&m);
	ph(&m, 0)->p_type = 4; /* PT_NOTE */
	ph(&m, 1)->p_type = 0; /* PT_NULL */
	span_fails(&m, "no loadable segments");

	make_img(&m);
	eh(&m)->e_entry = T_VADDR - 1;
	span_fails(&m, "entry point outside the image");
	make_img(&m);
	eh(&m)->e_entry = D_VADDR + D_MEMSZ;
	span_fails(&m, "entry point outside the image");
	make_img(&m);
	eh(&m)->e_entry = 0;
	span_fails(&m, "entry point outside the image");

	/* with base 0 a segment at 0 of size 0 is "no loadable segments", not a crash */
	make_img(&m);
	eh(&m)->e_phnum = 1;
	ph(&m, 0)->p_vaddr = 0;
	ph(&m, 0)->p_memsz = 0;
	ph(&m, 0)->p_filesz = 0;
	uint64_t lo, hi;
	assert_string_equal(span(&m, 0, &lo, &hi), "no loadable segments");
}

/* ---- elf_load ----------------------------------------------------------------------------- */
static void test_load(void **state)
{
	struct img m;
	make_img(&m);
	uint64_t lo, hi;
	assert_null(span(&m, BASE, &lo, &hi));
	uint64_t size = hi - BASE + 0x100; /* a little more than needed: zeroed too */
	uint8_t *dst = malloc(size);
	memset(dst, 0xaa, size);
	void *p = copy(&m, m.size);
	elf_load(p, dst, BASE, size);
	free(p);
	for (uint64_t i = 0; i < size; i++) {
		uint64_t va = BASE + i;
		uint8_t want = 0;
		if (va >= T_VADDR && va < T_VADDR + T_SIZE)
			want = m.b[T_OFF + (va - T_VADDR)];
		else if (va >= D_VADDR && va < D_VADDR + D_SIZE)
			want = m.b[D_OFF + (va - D_VADDR)];
		assert_int_equal(dst[i], want);
	}
	free(dst);
}

/* ---- ksyms -------------------------------------------------------------------------------- */
static void *g_ksyms_img; /* ksyms keeps pointers into the image: freed at the next init */

static bool ksyms_on(struct img *m)
{
	free(g_ksyms_img);
	g_ksyms_img = copy(m, m->size);
	return ksyms_init(g_ksyms_img, m->size);
}

static void expect_sym(uint64_t addr, const char *name, uint64_t off)
{
	uint64_t o = 0xdead;
	const char *got = ksym_lookup(addr, &o);
	if (!name) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, name);
	assert_int_equal(o, off);
}

static void test_ksyms_lookup(void **state)
{
	struct img m;
	make_img(&m);
	assert_true(ksyms_on(&m));
	expect_sym(T_VADDR, "alpha", 0);
	expect_sym(T_VADDR + 0x3f, "alpha", 0x3f);
	expect_sym(T_VADDR + 0x40, "beta", 0); /* a local function */
	expect_sym(T_VADDR + 0x5f, "beta", 0x1f);
	expect_sym(T_VADDR + 0x7f, "beta", 0x3f); /* slack of 64 bytes after the size */
	expect_sym(T_VADDR + 0x80, "asm_entry", 0);
	expect_sym(T_VADDR + 0xbf, "asm_entry", 0x3f);
	/* the closest is "after", whose name lies past the string table: skipped, so the
	 * sizeless asm_entry covers it */
	expect_sym(T_VADDR + 0xc4, "asm_entry", 0x44);
	/* the closest has a name that runs off the end of the table: no name */
	expect_sym(T_VADDR + 0xe0, NULL, 0);
	expect_sym(T_VADDR - 1, NULL, 0); /* below every function */
	expect_sym(0, NULL, 0);
	expect_sym(D_VADDR, NULL, 0); /* data: closest is 0xe0 with size 0x10, far away */
	/* a size bound: beta's range plus 64 bytes, not one more */
	sym(&m, 4)->st_info = 0x11; /* asm_entry becomes an object */
	assert_true(ksyms_on(&m));
	expect_sym(T_VADDR + 0x60 + 64, "beta", 0x60);
	expect_sym(T_VADDR + 0x60 + 65, NULL, 0);
	expect_sym(~0ULL, NULL, 0);
}

static void test_ksyms_malformed(void **state)
{
	struct img m;
	make_img(&m);
	assert_true(ksyms_on(&m));
	for (uint64_t s = 0; s < sizeof(Elf64_Ehdr); s++) {
		void *p = copy(&m, s);
		assert_false(ksyms_init(p, s));
		free(p);
	}
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		make_img(&m);                                                                      \
		stmt;                                                                              \
		void *p_ = copy(&m, m.size);                                                       \
		assert_false(ksyms_init(p_, m.size));                                              \
		free(p_);                                                                          \
	} while (0)
	BAD(eh(&m)->e_shentsize = 40);
	BAD(eh(&m)->e_shoff = m.size + 8);
	BAD(eh(&m)->e_shoff = ~0ULL & ~7ULL);
	BAD(eh(&m)->e_shnum = 0x7fff);
	BAD(m.size -= 1);            /* section table cut short */
	BAD(eh(&m)->e_shnum = 0);    /* no sections at all */
	BAD(sh(&m, 2)->sh_type = 3); /* no SYMTAB */
	BAD(sh(&m, 2)->sh_link = 4); /* string table index out of range */
	BAD(sh(&m, 2)->sh_link = 0xffffffff);
	BAD(sh(&m, 2)->sh_offset = m.size + 1); /* symbols outside the file */
	BAD(sh(&m, 2)->sh_size = ~0ULL);
	BAD(sh(&m, 2)->sh_offset = ~0ULL - 8);
	BAD(sh(&m, 3)->sh_offset = m.size); /* strings outside the file */
	BAD(sh(&m, 3)->sh_size = m.size);
	BAD(sh(&m, 3)->sh_size = 0); /* empty string table */
	BAD(eh(&m)->e_shoff += 1; memmove(m.b + SH_OFF + 1, m.b + SH_OFF, 4 * sizeof(Elf64_Shdr));
	    m.size += 1);               /* misaligned section table */
	BAD(sh(&m, 2)->sh_offset += 4); /* misaligned symbol table */
#undef BAD
	/* a symbol table whose size is not a multiple of the entry size: the tail is ignored */
	make_img(&m);
	sh(&m, 2)->sh_size = 2 * sizeof(Elf64_Sym) + 5;
	assert_true(ksyms_on(&m));
	expect_sym(T_VADDR + 0x50, "alpha", 0x50); /* beta is not in the first two entries */
	/* a second SYMTAB after a good one is never looked at */
	make_img(&m);
	sh(&m, 0)->sh_type = ELF_SHT_SYMTAB; /* the null section, linking to itself */
	sh(&m, 0)->sh_link = 0;
	sh(&m, 0)->sh_size = 0;
	assert_false(ksyms_on(&m)); /* the first SYMTAB found (empty strings) decides */
}

/* ---- build/tern.elf ----------------------------------------------------------------------- */
static uint8_t *g_kernel;
static uint64_t g_kernel_size;
static const char *g_kernel_path;

static int load_kernel(void **state)
{
	g_kernel_path = getenv("TERN_ELF") ? getenv("TERN_ELF") : "build/tern.elf";
	FILE *f = fopen(g_kernel_path, "rb");
	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	g_kernel = malloc((size_t)n);
	if (fread(g_kernel, 1, (size_t)n, f) != (size_t)n) {
		free(g_kernel);
		g_kernel = NULL;
	}
	g_kernel_size = (uint64_t)n;
	fclose(f);
	return 0;
}

static int free_kernel(void **state)
{
	free(g_kernel);
	free(g_ksyms_img);
	g_ksyms_img = NULL;
	return 0;
}

#define NEED_KERNEL()                                                                              \
	do {                                                                                       \
		if (!g_kernel) {                                                                   \
			print_message("%s not built: skipped\n", g_kernel_path);                   \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static void test_kernel_image(void **state)
{
	NEED_KERNEL();
	const Elf64_Ehdr *e = (const Elf64_Ehdr *)g_kernel;
	assert_null(elf_check(e, g_kernel_size));
	uint64_t lo, hi;
	assert_null(elf_span(e, g_kernel_size, KERNEL_VBASE, &lo, &hi));
	assert_true(lo == KERNEL_VBASE);
	assert_true(hi > lo && hi - lo <= ELF_MAX_IMAGE);
	assert_true(e->e_entry >= lo && e->e_entry < hi);
	uint64_t size = (hi - KERNEL_VBASE + 4095) & ~4095ULL; /* as the loader sizes it */
	uint8_t *dst = malloc(size);
	memset(dst, 0xaa, size);
	elf_load(e, dst, KERNEL_VBASE, size);
	/* every PT_LOAD segment's bytes are in place, its bss zero */
	const Elf64_Phdr *p = (const Elf64_Phdr *)(g_kernel + e->e_phoff);
	int loads = 0;
	for (int i = 0; i < e->e_phnum; i++) {
		if (p[i].p_type != ELF_PT_LOAD)
			continue;
		loads++;
		uint8_t *at = dst + (p[i].p_vaddr - KERNEL_VBASE);
		assert_memory_equal(at, g_kernel + p[i].p_offset, p[i].p_filesz);
		for (uint64_t j = p[i].p_filesz; j < p[i].p_memsz; j++)
			assert_int_equal(at[j], 0);
	}
	assert_true(loads >= 2);
	/* truncating the file anywhere inside the segments is caught */
	for (uint64_t cut = 0; cut < g_kernel_size; cut += 4093) {
		const char *err = elf_check(e, cut);
		if (!err)
			err = elf_span(e, cut, KERNEL_VBASE, &lo, &hi);
		uint64_t end = 0;
		for (int i = 0; i < e->e_phnum; i++)
			if (p[i].p_type == ELF_PT_LOAD && p[i].p_offset + p[i].p_filesz > end)
				end = p[i].p_offset + p[i].p_filesz;
		assert_int_equal(err != NULL, cut < end);
	}
	free(dst);
}

/* nm_addr: the address `nm` gives for a text symbol of the kernel, or 0. */
static uint64_t nm_addr(const char *want)
{
	char cmd[512], line[512];
	snprintf(cmd, sizeof(cmd), "nm --defined-only '%s' 2>/dev/null", g_kernel_path);
	FILE *f = popen(cmd, "r");
	if (!f)
		return 0;
	uint64_t found = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256];
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 &&
		    (type == 'T' || type == 't') && !strcmp(name, want))
			found = addr;
	}
	pclose(f);
	return found;
}

/* functions located with nm resolve to their own names */
static void test_kernel_known_functions(void **state)
{
	NEED_KERNEL();
	assert_true(ksyms_init(g_kernel, g_kernel_size));
	const char *names[] = {"panic", "shell_main", "le_feed", "buddy_alloc", "kmain"};
	int found = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t addr = nm_addr(names[i]), off = 99;
		if (!addr)
			continue; /* not in this kernel (or no nm) */
		found++;
		assert_string_equal(ksym_lookup(addr, &off), names[i]);
		assert_int_equal(off, 0);
		assert_string_equal(ksym_lookup(addr + 5, &off), names[i]);
		assert_int_equal(off, 5);
	}
	if (!found)
		skip();
	uint64_t off;
	assert_null(ksym_lookup(0x1000, &off)); /* far below the kernel */
}

/* every FUNC symbol readelf lists (nm does not tell functions from asm labels) resolves to
 * its own address, and the last byte of each sized function resolves too */
static void test_kernel_all_functions(void **state)
{
	NEED_KERNEL();
	assert_true(ksyms_init(g_kernel, g_kernel_size));
	char cmd[512], line[512];
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s' 2>/dev/null", g_kernel_path);
	FILE *f = popen(cmd, "r");
	if (!f)
		skip();
	int funcs = 0, exact = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr, size;
		char type[16], bind[16], vis[16], ndx[16], name[256];
		if (sscanf(line, "%*d: %llx %llu %15s %15s %15s %15s %255s", &addr, &size, type,
		           bind, vis, ndx, name) != 7 ||
		    strcmp(type, "FUNC"))
			continue;
		funcs++;
		uint64_t off = 99;
		const char *got = ksym_lookup(addr, &off);
		assert_non_null(got);
		assert_int_equal(off, 0); /* an alias at the same address may be named instead */
		exact += !strcmp(got, name);
		if (size > 1) {
			got = ksym_lookup(addr + size - 1, &off);
			assert_non_null(got);
		}
	}
	pclose(f);
	if (!funcs)
		skip(); /* no readelf */
	assert_true(funcs > 100);
	assert_true(exact * 10 >= funcs * 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_ok),
	    cmocka_unit_test(test_check_errors),
	    cmocka_unit_test(test_span_ok),
	    cmocka_unit_test(test_span_errors),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_ksyms_lookup),
	    cmocka_unit_test(test_ksyms_malformed),
	    cmocka_unit_test(test_kernel_image),
	    cmocka_unit_test(test_kernel_known_functions),
	    cmocka_unit_test(test_kernel_all_functions),
	};
	return cmocka_run_group_tests(tests, load_kernel, free_kernel);
}
