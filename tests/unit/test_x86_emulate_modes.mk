test_x86_emulate_modes_SRCS := vmm/x86_decode.c vmm/x86_emulate.c
