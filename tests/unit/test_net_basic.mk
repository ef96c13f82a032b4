test_net_basic_SRCS := $(wildcard net/*.c) tests/unit/net_sim.c
$(B)/unit/test_net_basic: $(wildcard net/*.h)
