test_vswitch_SRCS := vmm/vswitch.c kernel/string.c
