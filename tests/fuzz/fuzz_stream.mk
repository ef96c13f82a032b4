fuzz_stream_SRCS := vmm/stream.c vmm/ramrec.c migrate/lz.c migrate/blake2s.c migrate/crypto_util.c kernel/string.c
