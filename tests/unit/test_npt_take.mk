test_npt_take_SRCS := vmm/npt.c vmm/gmem.c kernel/bitmap.c
