#!/usr/bin/python3
"""Diagnostic (not a test, not in `make bench`): how the Debian guest's own clock moves across
live migrations a -> b -> a, against the host's clock, to chase the open defect in
docs/migration.md (the guest's clock jumps forward ~1.5 s on the b -> a hop).

Boots the two hosts of tests/integration/test_migrate.py, starts g1 on a, and before and after
each hop prints the host time and, from inside the guest, /proc/uptime (TSC-based), the CMOS
RTC (hwclock, Tern's virtual RTC, host wall clock) and date +%s. Compare the growth of guest
uptime with the growth of host time between probes (minus the migration's downtime).

Run: /usr/bin/python3 tests/bench/migrate_clock.py
"""
import os
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.chdir(ROOT)
import test_migrate as tm  # noqa: E402
from netns import NetNS  # noqa: E402
from ternhost import stop_hosts  # noqa: E402

PROBE = ("cat /proc/uptime; hwclock -r -u 2>&1 | head -1; date +%s; "
         "cat /sys/devices/system/clocksource/clocksource0/current_clocksource; dmesg | tail -n 2")


def probe(h, tag, last):
    """Print host time and the guest's clocks; returns (host time, guest uptime)."""
    t = time.time()
    out = h.guest_run("g1", PROBE)
    up = float(out.split()[0]) if out.split() else 0.0
    grow = f", host +{t - last[0]:.2f} s, guest +{up - last[1]:.2f} s" if last else ""
    print(f"--- {tag}: host {t:.2f}{grow}\n{out.strip()}", flush=True)
    return t, up


def main():
    with NetNS() as ns:
        hosts = []
        try:
            for name, ip, other, oip in (("a", tm.A_IP, "b", tm.B_IP),
                                         ("b", tm.B_IP, "a", tm.A_IP)):
                hosts.append(tm.make_host(name, ns, tempfile.mkdtemp(), ip, other, oip))
                print(f"host {name} started at {time.time():.2f}", flush=True)
            a, b = hosts
            a.boot()
            b.boot()
            tm.start_guest(a, "g1")
            last = probe(a, "on a", None)
            time.sleep(2)
            last = probe(a, "on a, 2 s later", last)
            print(tm.migrate(a, "g1", "b")[1], flush=True)
            last = probe(b, "on b", last)
            time.sleep(2)
            last = probe(b, "on b, 2 s later", last)
            print(tm.migrate(b, "g1", "a")[1], flush=True)
            probe(a, "back on a", last)
        finally:
            stop_hosts(hosts)


if __name__ == "__main__":
    main()
