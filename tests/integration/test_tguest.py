"""Tern's own test guest (tools/testguest, docs/testguest.md) on AMD-V.

One Tern host (QEMU TCG, EPYC-Rome with SVM+NPT) for the module; each test creates small
VMs running build/images/tguest with a `tguest.test=` command line and reads the guest's
`TGUEST ...` lines through `vm console`:

- basic:   CPUID, hypercall, MSRs, RTC, PIT, LAPIC/ECAM MMIO forms, LAPIC timer, IOAPIC,
           UART interrupt; every CHECK must pass; ends with an ACPI power-off.
- dirty:   the exact guest-physical pages the guest wrote must come back from
           `vm-dirty NAME fetch list` (plus, at most, the guest's own page-table pages).
- hostile: a guest poking everything it should not must end in a reported triple fault,
           while the host shell and a second guest (running `count`) keep working.
"""
import re
import time

import pytest

SMP = 2
MEM = 1024

ANY_LINE = r"[^\r\n]*"


def create(host, name, cmdline, mem="64M"):
    out = host.cmd(f'vm create {name} mem={mem} vcpus=1 kernel=tguest cmdline="{cmdline}"')
    assert f"created VM {name}" in out, out


def start(host, name):
    assert f"{name} started" in host.cmd(f"vm start {name}")


def console(host, name):
    """`vm console NAME` without waiting for the attach marker: the lines the guest printed
    before (the history) can still be matched."""
    host.send(f"vm console {name}\r")
    host.expect(re.escape(f"vm console {name}") + r"\r*\n")


def line(host, pattern, timeout=60):
    """The rest of the next line matching pattern (a regex prefix), as text."""
    host.expect(pattern + r"(" + ANY_LINE + r")\r*\n", timeout=timeout)
    return host.con.match.group(host.con.match.re.groups).strip()


def failed_checks(text):
    return re.findall(r"TGUEST CHECK (\S+) FAIL" + ANY_LINE, text)


def destroy(host, name):
    assert f"{name} destroyed" in host.cmd(f"vm destroy {name}")


def test_basic(host):
    t0 = time.monotonic()
    create(host, "b1", "tguest.test=basic tguest.end=poweroff")
    start(host, "b1")
    console(host, "b1")
    result = line(host, r"TGUEST DONE basic ", timeout=120)
    seen = host.con.before
    # the same line again: once from COM1, once from port 0xE9 (both feed the VM console)
    host.expect(r"TGUEST DONE basic ", timeout=30)
    host.expect(r"\[b1 is stopped\]", timeout=60)
    host.expect(r"tern> ")
    elapsed = time.monotonic() - t0
    assert result == "ok", (result, failed_checks(seen))
    info = host.cmd("vm info b1")
    assert "last stop: guest powered off (ACPI S5)" in info, info
    for reason in ("cpuid", "rdmsr", "wrmsr", "io", "hlt", "npf/mmio", "vmcall"):
        assert re.search(rf"^\s+{re.escape(reason)}\s+\d+", info, re.M), (reason, info)
    destroy(host, "b1")
    print(f"basic: create to power-off {elapsed:.1f} s")


def fetch(host, name):
    """`vm-dirty NAME fetch list`: (count, set of guest-physical addresses)."""
    out = host.cmd(f"vm-dirty {name} fetch list")
    m = re.search(r"(\d+) dirty pages", out)
    assert m, out
    n = int(m.group(1))
    gpas = {int(x, 16) for x in re.findall(r"0x[0-9a-f]+", out.split("\n", 1)[1])}
    assert n == len(gpas) or n > 256, out
    return n, gpas


def test_dirty_pages_exact(host):
    t0 = time.monotonic()
    create(host, "d1", "tguest.test=dirty tguest.out=com1 tguest.pages=8 tguest.stride=3 "
                       "tguest.end=reset")
    start(host, "d1")
    console(host, "d1")
    armed = line(host, r"TGUEST DIRTY ARMED ")
    host.detach()
    region = int(re.search(r"region=(0x[0-9a-f]+)", armed).group(1), 16)
    k = int(re.search(r"k=(\d+)", armed).group(1))
    pts = {int(x, 16) for x in re.search(r"pt=(\S+)", armed).group(1).split(",")}
    assert k == 8 and region % (2 << 20) == 0, armed

    assert "dirty logging on for d1" in host.cmd("vm-dirty d1 start")
    fetch(host, "d1")  # whatever happened before: cleared
    time.sleep(0.5)
    n, idle = fetch(host, "d1")
    # A waiting guest writes nothing. Its page-table pages may still show up: after each
    # fetch the guest TLB is flushed and the nested walk of the guest's tables counts as a
    # write (SDM 28.2.4; QEMU's SVM model does the same for NPT).
    assert idle <= pts, (sorted(map(hex, idle)), armed)

    seen = set()
    for r in range(3):
        host.attach("d1")
        host.send("w")
        wrote = line(host, r"TGUEST DIRTY WROTE ")
        host.detach()
        written = {int(x, 16) for x in re.search(r"gpas=(\S+)", wrote).group(1).split(",")}
        assert len(written) == k and f"round={r}" in wrote, wrote
        n, dirty = fetch(host, "d1")
        assert written <= dirty, ("missed", sorted(map(hex, written - dirty)))
        assert dirty - written <= pts, ("extra", sorted(map(hex, dirty - written - pts)))
        assert k <= n <= k + len(pts), (n, wrote)
        seen |= written
    assert len(seen) == 3 * k  # every round wrote different pages

    host.attach("d1")
    host.send("p")
    line(host, r"TGUEST DIRTY IDLE ")
    host.detach()
    n, idle = fetch(host, "d1")
    assert idle <= pts, sorted(map(hex, idle))
    assert "dirty logging off for d1" in host.cmd("vm-dirty d1 stop")

    host.attach("d1")
    host.send("q")
    assert line(host, r"TGUEST DONE dirty ") == "ok"
    host.expect(r"\[d1 is stopped\]", timeout=60)  # tguest.end=reset: port 0xCF9
    host.expect(r"tern> ")
    assert "last stop: guest requested a reset" in host.cmd("vm info d1")
    destroy(host, "d1")
    print(f"dirty: {time.monotonic() - t0:.1f} s")


def counts(host, n, timeout=60):
    """The next n COUNT lines: [(n, errors)]."""
    got = []
    for _ in range(n):
        host.expect(r"TGUEST COUNT n=(\d+) tsc=\d+ ms=\d+ pass=\d+ sum=0x[0-9a-f]+ errors=(\d+)",
                    timeout=timeout)
        got.append((int(host.con.match.group(1)), int(host.con.match.group(2))))
    return got


def test_hostile_guest_triple_faults_alone(host):
    t0 = time.monotonic()
    create(host, "c1", "tguest.test=count tguest.out=com1 tguest.interval=100", mem="32M")
    start(host, "c1")
    host.attach("c1")
    before = counts(host, 2)
    host.detach()

    create(host, "h1", "tguest.test=hostile")
    start(host, "h1")
    console(host, "h1")
    result = line(host, r"TGUEST DONE hostile ", timeout=300)
    seen = host.con.before
    host.expect(r"\[h1 is stopped\]", timeout=120)
    host.expect(r"tern> ")
    hostile_s = time.monotonic() - t0
    assert result == "ok", (result, failed_checks(seen))
    info = host.cmd("vm info h1")
    assert "state:    stopped" in info, info
    assert "last stop: guest error: triple fault" in info, info

    # the host shell and the other guest are unharmed
    assert re.search(r"^Tern \d+\.\d+\.\d+", host.cmd("version"), re.M)
    out = host.cmd("vm list")
    assert re.search(r"^c1\s+running", out, re.M) and re.search(r"^h1\s+stopped", out, re.M), out
    host.attach("c1")
    after = counts(host, 3)
    host.detach()
    ns = [c[0] for c in after]
    assert ns == list(range(ns[0], ns[0] + 3)) and ns[0] > before[-1][0], (before, after)
    assert all(c[1] == 0 for c in before + after), (before, after)  # its memory is intact
    destroy(host, "h1")
    destroy(host, "c1")
    print(f"hostile: start to triple fault {hostile_s:.1f} s, whole test "
          f"{time.monotonic() - t0:.1f} s")
