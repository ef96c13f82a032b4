test_crypto_aead_SRCS := migrate/aead.c migrate/chacha20.c migrate/poly1305.c migrate/crypto_util.c -lsodium
