test_x86_emulate_SRCS := vmm/x86_decode.c vmm/x86_emulate.c
