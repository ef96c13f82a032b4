#!/bin/sh
# make bench: longer measurements and soaks than `make test`. Every figure printed comes with
# the command that produced it.
set -eu
cd "$(dirname "$0")/.."
echo "== boot benchmarks"
/usr/bin/python3 tests/bench/bench_boot.py
echo "== fuzzers, ${BENCH_FUZZ_SECONDS:-120} s each"
make -s fuzz FUZZ_SECONDS="${BENCH_FUZZ_SECONDS:-120}"
echo "== virtio: guest disk and guest-to-guest TCP throughput, Tern vs plain QEMU"
/usr/bin/python3 tests/bench/bench_virtio.py
echo "== HA: failover time, checkpoint overhead and replication bandwidth (three hosts)"
/usr/bin/python3 tests/bench/bench_ha.py
