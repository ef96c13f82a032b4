fuzz_aead_open_SRCS := migrate/aead.c migrate/chacha20.c migrate/poly1305.c migrate/blake2s.c migrate/keys.c migrate/crypto_util.c
