test_vdisk_SRCS := vmm/vdisk.c vmm/vblk.c vmm/virtq.c vmm/gmem.c kernel/bitmap.c kernel/string.c
