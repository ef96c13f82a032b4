fuzz_linux_header_SRCS := vmm/linux_boot.c
