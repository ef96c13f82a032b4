/*
 * The Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst, protocol 2.12+): load a
 * bzImage, an initramfs and a command line from the boot stick into guest memory, fill in the
 * zero page (boot_params) with the e820 map and the ACPI RSDP, and start vCPU 0 at the 64-bit
 * entry point in long mode with identity-mapped page tables.
 */
#ifndef TERN_LINUX_BOOT_H
#define TERN_LINUX_BOOT_H

#include "kernel/compiler.h"

struct vm;

/* Fixed guest-physical locations used while booting (all in low RAM). */
#define LB_GDT         0x6000ULL
#define LB_ZERO_PAGE   0x7000ULL
#define LB_PML4        0x9000ULL
#define LB_PDPT        0xa000ULL
#define LB_PD          0xb000ULL /* four pages: identity map of 4 GiB in 2 MiB pages */
#define LB_CMDLINE     0x20000ULL
#define LB_CMDLINE_MAX 4096
#define LB_KERNEL_MIN  0x1000000ULL /* 16 MiB, the usual preferred load address */

/* What the setup header says (parsed by linux_parse_header, pure and host-tested). */
struct linux_header {
	uint16_t version;
	uint32_t setup_size;  /* bytes of real-mode setup before the protected-mode kernel */
	uint64_t kernel_size; /* bytes of protected-mode kernel in the file */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	bool relocatable;
	uint32_t cmdline_size;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t hdr_end; /* offset just past the setup header, to copy into the zero page */
};

/* linux_parse_header: validate a bzImage for the 64-bit boot protocol; NULL or an error. */
const char *linux_parse_header(const uint8_t *img, uint64_t size, struct linux_header *h);
/* linux_boot_load: load the VM's kernel/initrd/cmdline and set up vCPU 0; -1 with *err. */
int linux_boot_load(struct vm *vm, const char **err);

#endif
