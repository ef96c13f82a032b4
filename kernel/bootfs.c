/* The in-memory boot file table; see bootfs.h. */
#include "kernel/bootfs.h"
#include "kernel/args.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/shell.h"
#include "kernel/string.h"

#define BOOTFS_MAX 64

static struct bootfs_file g_files[BOOTFS_MAX];
static int g_count;

/* bootfs_init: copy the entries whose name and memory range make sense. */
void bootfs_init(const struct boot_info *bi)
{
	const struct boot_file *f = P2V(bi->files_phys);
	struct pmm_stats st;
	pmm_get_stats(&st);
	for (uint32_t i = 0; i < bi->file_count && g_count < BOOTFS_MAX; i++) {
		if (strnlen(f[i].name, BOOT_FILE_NAME_MAX) >= BOOT_FILE_NAME_MAX ||
		    !range_within(f[i].phys, f[i].size, 0, st.managed_end)) {
			klog("bootfs: entry %u is malformed, ignored", i);
			continue;
		}
		struct bootfs_file *b = &g_files[g_count++];
		memcpy(b->name, f[i].name, BOOT_FILE_NAME_MAX);
		b->data = P2V(f[i].phys);
		b->size = f[i].size;
	}
	klog("bootfs: %d file(s) from the boot stick", g_count);
}

const struct bootfs_file *bootfs_find(const char *name)
{
	for (int i = 0; i < g_count; i++)
		if (!strcmp(g_files[i].name, name))
			return &g_files[i];
	return NULL;
}

int bootfs_count(void)
{
	return g_count;
}

const struct bootfs_file *bootfs_get(int i)
{
	return i >= 0 && i < g_count ? &g_files[i] : NULL;
}

/* cmd_files: list the files on the boot stick. */
static int cmd_files(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("files");
	kprintf("%-40s %10s\n", "NAME", "SIZE");
	for (int i = 0; i < g_count; i++) {
		char sz[16];
		format_size(g_files[i].size, sz, sizeof(sz));
		kprintf("%-40s %10s\n", g_files[i].name, sz);
	}
	return 0;
}
SHELL_COMMAND(files, "files", "files", "list the files loaded from the boot stick", cmd_files);
