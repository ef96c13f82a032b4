/* Internal interfaces of the UEFI loader. */
#ifndef TERN_LOADER_H
#define TERN_LOADER_H

#include <efi.h>
#include "boot/bootinfo.h"

/* loader_print: write a UCS-2 string on the firmware console. */
void loader_print(const CHAR16 *s);
/* loader_print_ascii: write an ASCII string on the firmware console. */
void loader_print_ascii(const char *s);
/* fail: report an error on the firmware console and COM1; returns st. */
EFI_STATUS fail(const CHAR16 *what, EFI_STATUS st);
/* read_file: read a whole file from the ESP into fresh EfiLoaderData pages. */
EFI_STATUS read_file(EFI_FILE_HANDLE root, const CHAR16 *path, uint64_t *phys, uint64_t *size);
/* ucs2_to_ascii: convert a printable-ASCII UCS-2 name; false if it does not fit or is not ASCII. */
int ucs2_to_ascii(const CHAR16 *in, char *out, int cap);
/* alloc_zeroed: allocate zeroed EfiLoaderData pages (below max if max != 0). */
EFI_STATUS alloc_zeroed(UINTN pages, uint64_t max, uint64_t *out);
/* build_page_tables: identity + direct map of RAM, and the kernel image at KERNEL_VBASE. */
EFI_STATUS build_page_tables(struct boot_info *bi, uint64_t mapbuf, UINTN mapcap, uint64_t *cr3);
/* enter_kernel: load CR3 and jump to the kernel entry with RDI = boot_info (never returns). */
void enter_kernel(uint64_t cr3, uint64_t entry, uint64_t bootinfo) __attribute__((noreturn));

/* rdtsc: read the time-stamp counter. */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#endif
