test_ramrec_SRCS := vmm/ramrec.c migrate/lz.c vmm/stream.c migrate/blake2s.c migrate/crypto_util.c kernel/string.c
