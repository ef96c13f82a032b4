test_elf_SRCS := boot/elf.c kernel/ksyms.c
