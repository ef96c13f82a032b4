fuzz_x86_SRCS := vmm/x86_decode.c vmm/x86_emulate.c vmm/x86_walk.c
