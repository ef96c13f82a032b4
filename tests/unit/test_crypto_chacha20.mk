test_crypto_chacha20_SRCS := migrate/chacha20.c migrate/crypto_util.c -lsodium
