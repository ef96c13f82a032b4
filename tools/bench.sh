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
echo "== Intel VT-x backend under Bochs: Debian guest (2 vCPUs) from vm start to its shell"
echo "   (TERN_BOCHS_LINUX=1 /usr/bin/python3 -m pytest -q -s tests/integration/test_vmx.py -k linux_boot_time)"
TERN_BOCHS_LINUX=1 /usr/bin/python3 -m pytest -q -s tests/integration/test_vmx.py -k linux_boot_time |
	grep -E "Bochs boot to the prompt|Linux on Tern on Bochs|passed|failed|skipped"
echo "== network: Tern's TCP stack, Tern->Tern and bridged guests vs plain QEMU (issue 4)"
/usr/bin/python3 tests/bench/bench_net.py
echo "== live migration: Tern->Tern vs QEMU's own migration (issue 7)"
/usr/bin/python3 tests/bench/bench_migrate.py
