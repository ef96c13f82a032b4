test_bitmap_gmem_SRCS := kernel/bitmap.c vmm/gmem.c
