test_lineedit_SRCS := kernel/lineedit.c kernel/fmt.c kernel/string.c
