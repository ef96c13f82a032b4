test_buddy_SRCS := kernel/buddy.c
