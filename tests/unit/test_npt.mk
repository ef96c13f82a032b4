test_npt_SRCS := vmm/npt.c vmm/gmem.c kernel/bitmap.c
