#!/usr/bin/python3
"""HA benchmark (run by `make bench` through tools/bench.sh; not a test).

Three Tern hosts (QEMU TCG, -smp 2) on a netns bridge, as tests/integration/test_ha_failover.py.
The guest is the counting test guest (tools/testguest/count.c), which rewrites a 64-page region
without pause: its `pass` counter per second is the workload's throughput.
  - checkpoint overhead: passes/s of the guest without HA, then as an HA guest (checkpoints
    every ha_checkpoint_ms, default 200 ms), over BENCH_HA_SECONDS (default 10) each;
  - replication bandwidth: bytes the owner sent to the standby per second, and per checkpoint;
  - failover time: owner's QEMU killed -> the standby prints the failover line, and -> the
    guest's next counter line on the new host (BENCH_RUNS times, default 1; all reported).
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from netns import NetNS  # noqa: E402
from ternhost import TernHost, image_with_conf  # noqa: E402
from test_ha_failover import HOSTS, HOSTS_UP, conf, drain_others, run, wait_for, wait_on  # noqa: E402,E501

SECONDS = float(os.environ.get("BENCH_HA_SECONDS", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "1"))
GUEST = ('vm create g1 mem=32M vcpus=1 kernel=tguest '
         'cmdline="tguest.test=count tguest.out=com1 tguest.interval=500"')
LINE = re.compile(r"TGUEST COUNT n=(\d+) tsc=\d+ ms=(\d+) pass=(\d+) sum=")


def rate(h, seconds):
    """Passes per second of g1 between two counter lines `seconds` apart."""
    h.attach("g1")
    wait_on(h, LINE, 30)
    ms0, p0 = int(h.con.match.group(2)), int(h.con.match.group(3))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        wait_on(h, LINE, 30)
    ms1, p1 = int(h.con.match.group(2)), int(h.con.match.group(3))
    h.detach()
    return (p1 - p0) * 1000.0 / max(ms1 - ms0, 1)


def sent_kib(h):
    m = re.search(r"^guest g1: .*?(\d+) checkpoints, (\d+) KiB sent", run(h, "ha guests"), re.M)
    return int(m.group(1)), int(m.group(2))


def one_run(ns, tmp):
    hosts = {}
    for n in HOSTS:
        d = os.path.join(tmp, n)
        os.makedirs(d, exist_ok=True)
        hosts[n] = TernHost(f"bha-{n}", image=image_with_conf(conf(n), d), smp=2, mem=512,
                            netns=ns, nics=[ns.add_tap(f"tapb{n}{len(ns.taps)}")])
        hosts[n].start()
    try:
        for h in hosts.values():
            h.boot()
        HOSTS_UP[:] = hosts.values()
        a = hosts["a"]
        for h in hosts.values():
            wait_for(h, "ha status", r"quorum: yes \(3 of 3", timeout=60)
        run(a, GUEST)
        run(a, "vm start g1")
        drain_others(a, 5)
        plain = rate(a, SECONDS)
        run(a, "ha add g1")
        m = wait_for(a, "ha guests", r"^guest g1: owner a, standby (\w+), protected", timeout=120)
        c0, k0 = sent_kib(a)
        t0 = time.monotonic()
        ha = rate(a, SECONDS)
        c1, k1 = sent_kib(a)
        dt = time.monotonic() - t0
        run(a, "ha remove g1")
        drain_others(a, 3)
        plain2 = rate(a, SECONDS)
        print(f"checkpoint overhead: guest passes/s {plain:.0f} and {plain2:.0f} without HA "
              f"(before and after), {ha:.0f} as an HA guest "
              f"({100.0 * (1 - 2 * ha / (plain + plain2)):.1f}% less than their mean)")
        print(f"replication bandwidth: {(k1 - k0) / 1024.0 / dt:.2f} MiB/s, {c1 - c0} checkpoints "
              f"in {dt:.1f} s, {(k1 - k0) / max(c1 - c0, 1):.0f} KiB per checkpoint")
        run(a, "ha add g1")
        m = wait_for(a, "ha guests", r"^guest g1: owner a, standby (\w+), protected", timeout=120)
        sb = hosts[m.group(1)]
        drain_others(a, 3)
        print(run(a, "ha guests").strip())
        a.kill()
        t_kill = time.monotonic()
        wait_on(sb, r"ha: g1 failed over to this host from a: [^\r\n]*", 30)
        t_res = time.monotonic()
        print(sb.con.match.group(0))
        sb.attach("g1")
        wait_on(sb, LINE, 30)
        t_ans = time.monotonic()
        sb.detach()
        print(f"failover: kill -> resumed {t_res - t_kill:.2f} s, kill -> guest counting again "
              f"{t_ans - t_kill:.2f} s")
    finally:
        for h in hosts.values():
            h.stop()


def main():
    import tempfile
    for _ in range(RUNS):
        with NetNS() as ns, tempfile.TemporaryDirectory() as tmp:
            one_run(ns, tmp)


if __name__ == "__main__":
    main()
