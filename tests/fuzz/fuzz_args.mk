fuzz_args_SRCS := kernel/args.c kernel/fmt.c
