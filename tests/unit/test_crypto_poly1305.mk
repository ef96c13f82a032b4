test_crypto_poly1305_SRCS := migrate/poly1305.c migrate/crypto_util.c -lsodium
