test_stream_SRCS := vmm/stream.c migrate/blake2s.c migrate/crypto_util.c
