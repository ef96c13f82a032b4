fuzz_virtq_SRCS := vmm/virtq.c vmm/vblk.c vmm/vdisk.c vmm/gmem.c kernel/bitmap.c kernel/string.c
