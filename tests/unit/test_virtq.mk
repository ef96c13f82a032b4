test_virtq_SRCS := vmm/virtq.c vmm/gmem.c kernel/bitmap.c kernel/string.c
