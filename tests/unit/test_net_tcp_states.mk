test_net_tcp_states_SRCS := $(wildcard net/*.c) tests/unit/net_sim.c
$(B)/unit/test_net_tcp_states: $(wildcard net/*.h)
