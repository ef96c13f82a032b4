/*
 * libFuzzer target for the kernel-image checks (boot/elf.c) and the symbol lookup
 * (kernel/ksyms.c). Arbitrary bytes go through elf_check and elf_span; only when both accept
 * does elf_load run, into a buffer of exactly hi - base bytes (ASan catches any write past
 * it), and every PT_LOAD segment's bytes must then be in place. ksyms_init runs on the same
 * bytes; when it accepts, ksym_lookup runs on addresses taken from the input, and any name
 * it returns must be a terminated string inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bootinfo.h"
#include "boot/elf.h"
#include "kernel/ksyms.h"
#include "tests/fuzz/fuzz_check.h"

/* Loads bigger than this are checked but not performed, to keep the fuzzer fast. */
#define MAX_LOAD (256ULL << 10)

static void check_load(const Elf64_Ehdr *eh, uint64_t size)
{
	/* the fuzzer's base: the real one, or 0 when the input's entry point says so */
	uint64_t base = eh->e_entry < KERNEL_VBASE ? 0 : KERNEL_VBASE, lo, hi;
	if (elf_span(eh, size, base, &lo, &hi))
		return;
	CHECK(lo >= base && lo < hi && hi - base <= ELF_MAX_IMAGE);
	CHECK(eh->e_entry >= lo && eh->e_entry < hi);
	if (hi - base > MAX_LOAD)
		return;
	uint8_t *dst = malloc(hi - base);
	elf_load(eh, dst, base, hi - base);
	const Elf64_Phdr *ph = (const Elf64_Phdr *)((const uint8_t *)eh + eh->e_phoff);
	/* the last PT_LOAD covering a byte wins, as in elf_load's order */
	for (int i = eh->e_phnum - 1; i >= 0; i--) {
		if (ph[i].p_type != ELF_PT_LOAD)
			continue;
		const uint8_t *src = (const uint8_t *)eh + ph[i].p_offset;
		uint64_t at = ph[i].p_vaddr - base;
		bool later = false; /* is any of this segment overwritten by a later one? */
		for (int j = i + 1; j < eh->e_phnum; j++)
			if (ph[j].p_type == ELF_PT_LOAD &&
			    ph[j].p_vaddr < ph[i].p_vaddr + ph[i].p_memsz &&
			    ph[i].p_vaddr < ph[j].p_vaddr + ph[j].p_memsz)
				later = true;
		if (!later)
			CHECK(!memcmp(dst + at, src, ph[i].p_filesz));
	}
	free(dst);
}

static void check_ksyms(const uint8_t *data, size_t size)
{
	if (!ksyms_init(data, size))
		return;
	uint64_t probes[8] = {0, ~0ULL, KERNEL_VBASE};
	for (int i = 3; i < 8; i++) /* addresses from the input itself */
		if (size >= (size_t)(8 * i + 8))
			memcpy(&probes[i], data + size - 8 * (size_t)(i - 2), 8);
	for (int i = 0; i < 8; i++) {
		uint64_t off = 0;
		const char *name = ksym_lookup(probes[i], &off);
		if (!name)
			continue;
		CHECK(name >= (const char *)data && name < (const char *)data + size);
		CHECK(memchr(name, 0, (size_t)((const char *)data + size - name)) != NULL);
		CHECK(off <= probes[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: libFuzzer's buffer is that too, but be explicit about alignment */
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)copy;
	if (!elf_check(eh, size))
		check_load(eh, size);
	check_ksyms(copy, size);
	free(copy);
	return 0;
}
