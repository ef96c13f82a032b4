test_net_tcp_bulk_SRCS := $(wildcard net/*.c) tests/unit/net_sim.c
$(B)/unit/test_net_tcp_bulk: $(wildcard net/*.h)
