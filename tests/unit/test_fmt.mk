test_fmt_SRCS := kernel/fmt.c
