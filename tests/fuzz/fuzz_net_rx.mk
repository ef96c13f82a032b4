fuzz_net_rx_SRCS := $(wildcard net/*.c)
$(B)/fuzz/fuzz_net_rx: $(wildcard net/*.h)
