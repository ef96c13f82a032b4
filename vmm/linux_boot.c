/* Linux boot protocol loader; see linux_boot.h. */
#include "vmm/linux_boot.h"
#include "kernel/bootfs.h"
#include "kernel/heap.h"
#include "kernel/endian.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/vm.h"

/* Setup-header offsets in the bzImage and in boot_params (boot.rst "the real-mode kernel
 * header" and "the zero page"). */
#define HDR_SETUP_SECTS      0x1f1
#define HDR_BOOT_FLAG        0x1fe
#define HDR_MAGIC            0x202
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_MAX       0x22c
#define HDR_KERNEL_ALIGN     0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260
#define ZP_ACPI_RSDP         0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE  0x0c4
#define ZP_EXT_CMD_LINE_PTR  0x0c8
#define ZP_E820_ENTRIES      0x1e8
#define ZP_E820_TABLE        0x2d0
#define ZP_E820_MAX          128
#define LOADED_HIGH          0x01
#define XLF_KERNEL_64        0x01

const char *linux_parse_header(const uint8_t *img, uint64_t size, struct linux_header *h)
{
	memset(h, 0, sizeof(*h));
	if (size < 0x270)
		return "file too small for a Linux kernel";
	if (le16_load(img + HDR_BOOT_FLAG) != 0xaa55 || memcmp(img + HDR_MAGIC, "HdrS", 4) != 0)
		return "not a Linux bzImage (no HdrS setup header)";
	h->version = le16_load(img + HDR_VERSION);
	if (h->version < 0x020c)
		return "boot protocol older than 2.12 (no 64-bit entry)";
	unsigned sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	h->setup_size = (sects + 1) * 512;
	if (h->setup_size >= size)
		return "setup code larger than the file";
	h->kernel_size = size - h->setup_size;
	h->loadflags = img[HDR_LOADFLAGS];
	h->xloadflags = le16_load(img + HDR_XLOADFLAGS);
	if (!(h->loadflags & LOADED_HIGH))
		return "not a bzImage (zImage kernels are not supported)";
	if (!(h->xloadflags & XLF_KERNEL_64))
		return "kernel has no 64-bit entry point";
	h->initrd_addr_max = le32_load(img + HDR_INITRD_MAX);
	h->kernel_alignment = le32_load(img + HDR_KERNEL_ALIGN);
	h->relocatable = img[HDR_RELOCATABLE] != 0;
	h->cmdline_size = le32_load(img + HDR_CMDLINE_SIZE);
	h->pref_address = (uint64_t)le32_load(img + HDR_PREF_ADDRESS) |
	                  (uint64_t)le32_load(img + HDR_PREF_ADDRESS + 4) << 32;
	h->init_size = le32_load(img + HDR_INIT_SIZE);
	h->hdr_end = 0x202 + img[0x201];
	if (h->hdr_end > 0x280 || h->hdr_end < 0x268) /* a 2.12+ header reaches 0x268 at least */
		h->hdr_end = 0x268;
	if (h->kernel_alignment & (h->kernel_alignment - 1) || h->kernel_alignment > (1u << 30))
		return "bad kernel_alignment";
	if (h->init_size < h->kernel_size)
		h->init_size = (uint32_t)MIN(h->kernel_size * 4, (uint64_t)UINT32_MAX);
	return NULL;
}

#ifndef TERN_HOST /* the loader is kernel glue; host tests take linux_parse_header only */
/* page_tables: PML4 -> PDPT -> 4 PDs of 2 MiB pages: identity map of [0, 4 GiB). */
static bool page_tables(struct gmem *m)
{
	uint64_t e;
	e = LB_PDPT | 3;
	if (!gmem_fill(m, LB_PML4, 0, 4096) || !gmem_write(m, LB_PML4, &e, 8) ||
	    !gmem_fill(m, LB_PDPT, 0, 4096))
		return false;
	for (uint64_t g = 0; g < 4; g++) {
		e = (LB_PD + g * 4096) | 3;
		if (!gmem_write(m, LB_PDPT + g * 8, &e, 8))
			return false;
		for (uint64_t i = 0; i < 512; i++) {
			e = ((g << 30) + (i << 21)) | 0x83; /* present, writable, 2 MiB */
			if (!gmem_write(m, LB_PD + g * 4096 + i * 8, &e, 8))
				return false;
		}
	}
	static const uint64_t gdt[4] = {0, 0, 0x00af9a000000ffffULL, 0x00cf92000000ffffULL};
	return gmem_write(m, LB_GDT, gdt, sizeof(gdt));
}

/* boot_state: long mode, CS = __BOOT_CS (0x10), data 0x18, RSI = zero page (boot.rst 64-bit
 * boot protocol). */
static void boot_state(struct vcpu *v, uint64_t entry)
{
	struct vcpu_arch_state st;
	memset(&st, 0, sizeof(st));
	st.rip = entry;
	st.rflags = 2;
	st.gpr[R_RSI] = LB_ZERO_PAGE;
	st.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	st.cr3 = LB_PML4;
	st.cr4 = CR4_PAE;
	st.efer = EFER_LME | EFER_LMA;
	st.seg[S_CS] = (struct seg){0x10, 0xa09b, 0xffffffff, 0};
	for (int s = S_ES; s <= S_GS; s++)
		if (s != S_CS)
			st.seg[s] = (struct seg){0x18, 0xc093, 0xffffffff, 0};
	st.seg[S_LDTR] = (struct seg){0, 0x82, 0xffff, 0};
	st.seg[S_TR] = (struct seg){0, 0x8b, 0x67, 0};
	st.gdt = (struct dtable){LB_GDT, 4 * 8 - 1};
	st.idt = (struct dtable){0, 0};
	st.pat = 0x0007040600070406ULL;
	st.xcr0 = 1;
	vmm->set_state(v, &st);
}

/* find: a boot-stick file by name, with a clear error. */
static const struct bootfs_file *find(const char *name, const char **err, const char *what)
{
	const struct bootfs_file *f = bootfs_find(name);
	if (!f)
		*err = what;
	return f;
}

int linux_boot_load(struct vm *vm, const char **err)
{
	struct gmem *m = &vm->mem;
	struct linux_header h;
	const struct bootfs_file *k =
	    find(vm->cfg.kernel, err, "kernel file not on the boot stick");
	if (!k)
		return -1;
	if ((*err = linux_parse_header(k->data, k->size, &h)))
		return -1;
	uint64_t low_end = m->slot[0].size;
	uint64_t align = h.kernel_alignment ? h.kernel_alignment : 0x200000;
	uint64_t load =
	    h.relocatable ? ALIGN_UP(MAX(h.pref_address, LB_KERNEL_MIN), align) : h.pref_address;
	if (!range_within(load, h.init_size, 0, low_end)) {
		*err = "not enough guest RAM for the kernel";
		return -1;
	}
	if (!gmem_write(m, load, k->data + h.setup_size, h.kernel_size)) {
		*err = "cannot copy the kernel";
		return -1;
	}
	uint8_t *zp = kzalloc(4096);
	if (!zp) {
		*err = "out of memory";
		return -1;
	}
	memcpy(zp + HDR_SETUP_SECTS, k->data + HDR_SETUP_SECTS, h.hdr_end - HDR_SETUP_SECTS);
	zp[HDR_TYPE_OF_LOADER] = 0xff;
	zp[HDR_LOADFLAGS] = h.loadflags & ~0x20u; /* QUIET_FLAG off: early messages wanted */
	size_t cl = strnlen(vm->cfg.cmdline, VM_CMDLINE_MAX);
	uint32_t cmax = h.cmdline_size ? MIN(h.cmdline_size, (uint32_t)LB_CMDLINE_MAX - 1) : 255;
	if (cl > cmax) {
		kfree(zp);
		*err = "command line too long for this kernel";
		return -1;
	}
	gmem_fill(m, LB_CMDLINE, 0, LB_CMDLINE_MAX);
	gmem_write(m, LB_CMDLINE, vm->cfg.cmdline, cl);
	le32_store(zp + HDR_CMD_LINE_PTR, (uint32_t)LB_CMDLINE);
	if (vm->cfg.initrd[0]) {
		const struct bootfs_file *rd =
		    find(vm->cfg.initrd, err, "initrd file not on the boot stick");
		uint64_t top = MIN(low_end, (uint64_t)h.initrd_addr_max + 1);
		uint64_t at = rd && rd->size < top ? ALIGN_DOWN(top - rd->size, 4096) : 0;
		if (rd && (at < load + h.init_size || !gmem_write(m, at, rd->data, rd->size))) {
			*err = "not enough guest RAM below the initrd limit for the initrd";
			rd = NULL;
		}
		if (!rd) {
			kfree(zp);
			return -1;
		}
		le32_store(zp + HDR_RAMDISK_IMAGE, (uint32_t)at);
		le32_store(zp + HDR_RAMDISK_SIZE, (uint32_t)rd->size);
	}
	uint64_t e820[ZP_E820_MAX][3];
	int n = platform_e820(vm, e820, ZP_E820_MAX);
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		memcpy(zp + ZP_E820_TABLE + 20 * i, &e820[i][0], 8);
		memcpy(zp + ZP_E820_TABLE + 20 * i + 8, &e820[i][1], 8);
		le32_store(zp + ZP_E820_TABLE + 20 * i + 16, (uint32_t)e820[i][2]);
	}
	uint64_t rsdp = GUEST_BIOS_AREA;
	memcpy(zp + ZP_ACPI_RSDP, &rsdp, 8);
	bool ok = gmem_write(m, LB_ZERO_PAGE, zp, 4096) && page_tables(m);
	kfree(zp);
	if (!ok) {
		*err = "cannot write the boot structures";
		return -1;
	}
	boot_state(vm->vcpu[0], load + 0x200); /* startup_64 is 512 bytes into the kernel */
	return 0;
}
#endif
