test_pvclock_SRCS := vmm/pvclock.c
