test_x86_walk_SRCS := vmm/x86_walk.c
