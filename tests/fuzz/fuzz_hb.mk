fuzz_hb_SRCS := kernel/string.c ha/member.c ha/witness.c ha/hb_wire.c migrate/keys.c migrate/aead.c migrate/chacha20.c migrate/poly1305.c migrate/blake2s.c migrate/crypto_util.c
