test_x86_decode_SRCS := vmm/x86_decode.c
