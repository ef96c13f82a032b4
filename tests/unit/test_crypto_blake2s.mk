test_crypto_blake2s_SRCS := migrate/blake2s.c migrate/crypto_util.c
