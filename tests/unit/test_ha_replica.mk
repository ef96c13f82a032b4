test_ha_replica_SRCS := ha/ckpt.c ha/outbuf.c vmm/stream.c migrate/blake2s.c migrate/crypto_util.c
