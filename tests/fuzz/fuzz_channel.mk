fuzz_channel_SRCS := migrate/channel.c migrate/keys.c migrate/aead.c migrate/chacha20.c migrate/poly1305.c migrate/blake2s.c migrate/crypto_util.c kernel/string.c
