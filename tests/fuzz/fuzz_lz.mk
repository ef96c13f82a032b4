fuzz_lz_SRCS := migrate/lz.c
