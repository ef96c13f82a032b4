test_net_tcp_data_SRCS := $(wildcard net/*.c) tests/unit/net_sim.c
$(B)/unit/test_net_tcp_data: $(wildcard net/*.h)
