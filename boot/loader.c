/*
 * Tern UEFI loader (BOOTX64.EFI).
 *
 * Reads the kernel ELF, tern.conf and the guest images from the ESP it was loaded from, gathers
 * the memory map, the ACPI RSDP and the command line, builds the first page tables, calls
 * ExitBootServices and jumps to the kernel with one struct boot_info (boot/bootinfo.h).
 *
 * ESP layout:  \EFI\BOOT\BOOTX64.EFI   this loader
 *              \tern\tern.elf          the kernel
 *              \tern\tern.conf         configuration (optional)
 *              \tern\images\*          guest kernels, initrds, disk images (optional)
 */
#include <efi.h>
#include <efilib.h>

#include "boot/bootinfo.h"
#include "boot/elf.h"
#include "boot/loader.h"

#define MAX_FILES   64
#define MAX_REGIONS 1024

static EFI_HANDLE g_image;
static struct boot_info *g_bi;
static struct boot_file *g_files;

/* load_kernel: read tern.elf, place its PT_LOAD segments in fresh pages, return the entry. */
static EFI_STATUS load_kernel(EFI_FILE_HANDLE root, uint64_t *entry)
{
	uint64_t phys, size;
	EFI_STATUS st = read_file(root, L"\\tern\\tern.elf", &phys, &size);
	if (EFI_ERROR(st))
		return fail(L"cannot read \\tern\\tern.elf", st);
	g_bi->kernel_file_phys = phys;
	g_bi->kernel_file_size = size;

	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)phys;
	const char *err = elf_check(eh, size);
	if (err) {
		loader_print(L"kernel ELF: ");
		loader_print_ascii(err);
		loader_print(L"\r\n");
		return fail(L"bad kernel image", EFI_LOAD_ERROR);
	}
	uint64_t lo, hi;
	err = elf_span(eh, size, KERNEL_VBASE, &lo, &hi);
	if (err) {
		loader_print_ascii(err);
		return fail(L"bad kernel segments", EFI_LOAD_ERROR);
	}
	uint64_t pages = (hi - KERNEL_VBASE + 4095) / 4096;
	EFI_PHYSICAL_ADDRESS base;
	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, pages, &base);
	if (EFI_ERROR(st))
		return fail(L"no memory for the kernel image", st);
	elf_load(eh, (void *)base, KERNEL_VBASE, pages * 4096);
	g_bi->kernel_phys = base;
	g_bi->kernel_pages = pages;
	*entry = eh->e_entry;
	return EFI_SUCCESS;
}

/* add_file: record a loaded file in the boot_info file table. */
static void add_file(const char *name, uint64_t phys, uint64_t size)
{
	if (g_bi->file_count >= MAX_FILES) {
		loader_print(L"warning: too many files, ignoring the rest\r\n");
		return;
	}
	struct boot_file *f = &g_files[g_bi->file_count++];
	int i;
	for (i = 0; name[i] && i < BOOT_FILE_NAME_MAX - 1; i++)
		f->name[i] = name[i];
	f->name[i] = 0;
	f->phys = phys;
	f->size = size;
}

/* load_images: read every regular file in \tern\images into memory. */
static void load_images(EFI_FILE_HANDLE root)
{
	EFI_FILE_HANDLE dir;
	EFI_STATUS st =
	    uefi_call_wrapper(root->Open, 5, root, &dir, L"\\tern\\images", EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st))
		return; /* no images directory: nothing to do */
	for (;;) {
		char buf[512] __attribute__((aligned(8)));
		UINTN len = sizeof(buf);
		st = uefi_call_wrapper(dir->Read, 3, dir, &len, buf);
		if (EFI_ERROR(st) || len == 0)
			break;
		EFI_FILE_INFO *fi = (EFI_FILE_INFO *)buf;
		if (fi->Attribute & EFI_FILE_DIRECTORY)
			continue;
		char name[BOOT_FILE_NAME_MAX];
		if (!ucs2_to_ascii(fi->FileName, name, sizeof(name))) {
			loader_print(L"warning: skipping image with unusable name\r\n");
			continue;
		}
		CHAR16 path[128] = L"\\tern\\images\\";
		int p = 13;
		for (int i = 0; name[i] && p < 127; i++)
			path[p++] = name[i];
		path[p] = 0;
		uint64_t phys, size;
		st = read_file(root, path, &phys, &size);
		if (EFI_ERROR(st)) {
			fail(path, st);
			continue;
		}
		add_file(name, phys, size);
	}
	uefi_call_wrapper(dir->Close, 1, dir);
}

/* find_rsdp: locate the ACPI RSDP in the UEFI configuration table (2.0 preferred). */
static uint64_t find_rsdp(void)
{
	EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
	uint64_t v1 = 0;
	for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];
		if (!CompareGuid(&t->VendorGuid, &acpi20))
			return (uint64_t)t->VendorTable;
		if (!CompareGuid(&t->VendorGuid, &acpi10))
			v1 = (uint64_t)t->VendorTable;
	}
	return v1;
}

/* get_cmdline: the image's load options, as ASCII, without a leading program name. */
static void get_cmdline(EFI_LOADED_IMAGE *li)
{
	g_bi->cmdline[0] = 0;
	if (!li->LoadOptions || li->LoadOptionsSize < 2)
		return;
	CHAR16 *opt = li->LoadOptions;
	UINTN n = li->LoadOptionsSize / 2, i = 0, o = 0;
	/* The UEFI shell passes "prog.efi args": drop the first word if it names an .efi. */
	UINTN w = 0;
	while (w < n && opt[w] && opt[w] != ' ')
		w++;
	if (w >= 4 && (opt[w - 1] | 0x20) == 'i' && (opt[w - 4] == '.'))
		i = w;
	for (; i < n && opt[i] && o < BOOT_CMDLINE_MAX - 1; i++) {
		if (opt[i] < 0x20 || opt[i] > 0x7e)
			return; /* binary boot-manager data, not a command line */
		if (o == 0 && opt[i] == ' ')
			continue;
		g_bi->cmdline[o++] = (char)opt[i];
		g_bi->cmdline[o] = 0;
	}
}

/* efi_to_boot_type: fold a UEFI memory type into enum boot_mem_type. */
static uint32_t efi_to_boot_type(UINT32 t)
{
	switch (t) {
	case EfiConventionalMemory:
	case EfiBootServicesCode:
	case EfiBootServicesData:
	case EfiLoaderCode:
		return BOOT_MEM_FREE;
	case EfiLoaderData:
		return BOOT_MEM_LOADER;
	case EfiACPIReclaimMemory:
		return BOOT_MEM_ACPI_RECLAIM;
	case EfiACPIMemoryNVS:
		return BOOT_MEM_ACPI_NVS;
	case EfiRuntimeServicesCode:
	case EfiRuntimeServicesData:
		return BOOT_MEM_RUNTIME;
	case EfiMemoryMappedIO:
	case EfiMemoryMappedIOPortSpace:
		return BOOT_MEM_MMIO;
	case EfiUnusableMemory:
		return BOOT_MEM_BAD;
	default:
		return BOOT_MEM_RESERVED;
	}
}

/*
 * exit_boot: fetch the final memory map, call ExitBootServices (retrying if the map changed, as
 * UEFI 2.x 7.4 requires) and convert the map into boot_mem_region entries.
 */
static EFI_STATUS exit_boot(struct boot_mem_region *regions, void *mapbuf, UINTN mapcap)
{
	UINTN size, key, dsize;
	UINT32 dver;
	EFI_STATUS st = EFI_LOAD_ERROR;
	for (int tries = 0; tries < 4; tries++) {
		size = mapcap;
		st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, mapbuf, &key, &dsize, &dver);
		if (EFI_ERROR(st))
			return fail(L"GetMemoryMap failed", st);
		st = uefi_call_wrapper(BS->ExitBootServices, 2, g_image, key);
		if (!EFI_ERROR(st))
			break;
	}
	if (EFI_ERROR(st))
		return fail(L"ExitBootServices failed", st);
	/* Boot services are gone: no more firmware calls from here on. */
	UINTN count = size / dsize;
	uint32_t out = 0;
	for (UINTN i = 0; i < count && out < MAX_REGIONS; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((char *)mapbuf + i * dsize);
		regions[out].base = d->PhysicalStart;
		regions[out].pages = d->NumberOfPages;
		regions[out].efi_type = d->Type;
		regions[out].type = efi_to_boot_type(d->Type);
		regions[out].attr = d->Attribute;
		out++;
	}
	g_bi->mmap_count = out;
	return EFI_SUCCESS;
}

/* alloc_zeroed: allocate and clear pages of EfiLoaderData, optionally below max. */
EFI_STATUS alloc_zeroed(UINTN pages, uint64_t max, uint64_t *out)
{
	EFI_PHYSICAL_ADDRESS a = max ? max : 0;
	EFI_STATUS st =
	    uefi_call_wrapper(BS->AllocatePages, 4, max ? AllocateMaxAddress : AllocateAnyPages,
	                      EfiLoaderData, pages, &a);
	if (EFI_ERROR(st))
		return st;
	uefi_call_wrapper(BS->SetMem, 3, (void *)a, pages * 4096, 0);
	*out = a;
	return EFI_SUCCESS;
}

/* efi_main: the loader's entry point, called by the firmware. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	InitializeLib(image, systab);
	g_image = image;
	uint64_t t0 = rdtsc();
	loader_print(L"Tern loader\r\n");

	uint64_t bi_phys, files_phys, regions_phys, map_phys, tramp;
	EFI_STATUS st;
	UINTN files_pages = EFI_SIZE_TO_PAGES(MAX_FILES * sizeof(struct boot_file));
	UINTN region_pages = EFI_SIZE_TO_PAGES(MAX_REGIONS * sizeof(struct boot_mem_region));
	if (EFI_ERROR((st = alloc_zeroed(1, 0, &bi_phys))) ||
	    EFI_ERROR((st = alloc_zeroed(files_pages, 0, &files_phys))) ||
	    EFI_ERROR((st = alloc_zeroed(region_pages, 0, &regions_phys))) ||
	    EFI_ERROR((st = alloc_zeroed(16, 0, &map_phys))) ||
	    EFI_ERROR((st = alloc_zeroed(1, 0x9f000, &tramp))))
		return fail(L"out of memory", st);
	g_bi = (struct boot_info *)bi_phys;
	g_files = (struct boot_file *)files_phys;
	g_bi->magic = BOOTINFO_MAGIC;
	g_bi->version = BOOTINFO_VERSION;
	g_bi->size = sizeof(*g_bi);
	g_bi->files_phys = files_phys;
	g_bi->mmap_phys = regions_phys;
	g_bi->trampoline_phys = tramp;
	g_bi->boot_tsc = t0;
	g_bi->efi_system_table = (uint64_t)systab;

	EFI_LOADED_IMAGE *li;
	st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st))
		return fail(L"no LoadedImage protocol", st);
	get_cmdline(li);
	EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle);
	if (!root)
		return fail(L"cannot open the boot partition", EFI_NOT_FOUND);

	uint64_t entry = 0;
	if (EFI_ERROR((st = load_kernel(root, &entry))))
		return st;
	uint64_t phys, size;
	if (!EFI_ERROR(read_file(root, L"\\tern\\tern.conf", &phys, &size)))
		add_file("tern.conf", phys, size);
	else
		loader_print(L"note: no \\tern\\tern.conf, kernel uses defaults\r\n");
	load_images(root);
	g_bi->rsdp_phys = find_rsdp();
	if (!g_bi->rsdp_phys)
		loader_print(L"warning: no ACPI RSDP found\r\n");

	uint64_t cr3;
	if (EFI_ERROR((st = build_page_tables(g_bi, map_phys, 16 * 4096, &cr3))))
		return fail(L"cannot build page tables", st);
	loader_print(L"Tern loader: starting kernel\r\n");
	st = exit_boot((struct boot_mem_region *)regions_phys, (void *)map_phys, 16 * 4096);
	if (EFI_ERROR(st))
		return st;
	g_bi->loader_tsc = rdtsc();
	enter_kernel(cr3, entry, PHYSMAP_BASE + bi_phys);
	return EFI_LOAD_ERROR; /* not reached */
}
