/*
 * The contract between the UEFI loader (boot/) and the kernel: one boot_info structure, passed
 * in RDI to the kernel entry point. All addresses are physical unless named *_virt. The loader
 * leaves everything it hands over (kernel image, files, this structure, page tables) in
 * EfiLoaderData memory, which the kernel treats as in use.
 */
#ifndef TERN_BOOTINFO_H
#define TERN_BOOTINFO_H

#include <stdint.h>

#define BOOTINFO_MAGIC   0x544f4f424e524554ULL /* "TERNBOOT" little-endian */
#define BOOTINFO_VERSION 1

/* Kernel virtual layout, fixed by linker.ld and the loader. */
#define KERNEL_VBASE 0xffffffff80000000ULL /* kernel image: KERNEL_VBASE + offset in image */
#define PHYSMAP_BASE 0xffff800000000000ULL /* direct map of physical memory */

/* Simplified memory types: the loader folds UEFI's types into these. */
enum boot_mem_type {
	BOOT_MEM_FREE = 1,         /* conventional + boot services memory: the kernel's to use */
	BOOT_MEM_LOADER = 2,       /* handed over by the loader (kernel, files, tables) */
	BOOT_MEM_ACPI_RECLAIM = 3, /* ACPI tables: keep until parsed */
	BOOT_MEM_ACPI_NVS = 4,
	BOOT_MEM_RUNTIME = 5, /* UEFI runtime services code/data */
	BOOT_MEM_RESERVED = 6,
	BOOT_MEM_MMIO = 7,
	BOOT_MEM_BAD = 8,
};

struct boot_mem_region {
	uint64_t base;
	uint64_t pages; /* 4 KiB pages */
	uint32_t type;  /* enum boot_mem_type */
	uint32_t efi_type;
	uint64_t attr; /* UEFI attribute bits */
};

#define BOOT_FILE_NAME_MAX 48

/* A file the loader read from the ESP (\tern\tern.conf, \tern\images\*). */
struct boot_file {
	char name[BOOT_FILE_NAME_MAX];
	uint64_t phys;
	uint64_t size;
};

#define BOOT_CMDLINE_MAX 256

struct boot_info {
	uint64_t magic;
	uint32_t version;
	uint32_t size; /* sizeof(struct boot_info) as the loader built it */

	uint64_t kernel_phys;      /* physical address of KERNEL_VBASE */
	uint64_t kernel_pages;     /* pages of the loaded image (incl. bss) */
	uint64_t kernel_file_phys; /* the raw ELF file (for its symbol table) */
	uint64_t kernel_file_size;

	uint64_t rsdp_phys; /* ACPI RSDP (2.0+ preferred), 0 if none */
	uint64_t efi_system_table;

	uint64_t mmap_phys; /* array of struct boot_mem_region */
	uint32_t mmap_count;
	uint32_t file_count;
	uint64_t files_phys; /* array of struct boot_file */

	uint64_t trampoline_phys; /* one 4 KiB page below 1 MiB for the AP start-up code */
	uint64_t boot_tsc;        /* TSC when the loader started (for boot-time reporting) */
	uint64_t loader_tsc;      /* TSC just before the jump to the kernel */

	uint64_t fb_phys; /* GOP framebuffer, 0 if none */
	uint32_t fb_width, fb_height, fb_stride, fb_format;

	char cmdline[BOOT_CMDLINE_MAX];
};

#endif
