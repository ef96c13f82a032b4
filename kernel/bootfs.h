/* Files the loader read from the USB stick's ESP (\tern\tern.conf, \tern\images\*), in memory. */
#ifndef TERN_BOOTFS_H
#define TERN_BOOTFS_H

#include "kernel/compiler.h"
#include "boot/bootinfo.h"

struct bootfs_file {
	char name[BOOT_FILE_NAME_MAX];
	const uint8_t *data;
	uint64_t size;
};

/* bootfs_init: validate and adopt the loader's file table. */
void bootfs_init(const struct boot_info *bi);
const struct bootfs_file *bootfs_find(const char *name);
int bootfs_count(void);
const struct bootfs_file *bootfs_get(int i);

#endif
