fuzz_conf_SRCS := kernel/conf.c kernel/string.c
