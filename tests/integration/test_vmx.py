"""The Intel VT-x backend (vmm/vmx, docs/vmx.md) under Bochs: the same guests as on AMD-V.

One Bochs host (corei7_skylake_x: VMX, EPT with A/D bits, PML, VPID, unrestricted guest) for
the module, booted once (about 20 s); the tests run Tern's test guest (build/images/tguest,
docs/testguest.md) in small VMs, and the Debian guest:

- the boot log and `version` name the VMX backend; `vmx` shows the capabilities in use;
- basic:    I/O, MMIO decode through EPT violations, LAPIC/IOAPIC interrupts, HLT, MSRs, CPUID;
- dirty:    `vm-dirty` reports exactly the pages the guest wrote, with PML, with the EPT
            dirty-bit scan and with write protection + EPT violations (`vmx dirty pml|ad|wp`;
            the last is what CPUs without EPT A/D bits get);
- snapshot: a snapshot taken on the Intel backend restores on it and the guest continues
            from the snapshot with its memory intact;
- hostile:  a guest poking everything it should not (VMX instructions included) ends in a
            reported triple fault while the host keeps working;
- entry:    a guest state VM entry refuses (made on purpose) stops the VM with the failing
            check named;
- linux:    the Debian test guest with two vCPUs boots to its shell and answers a command
            (about 2 minutes under Bochs; TERN_BOCHS_LINUX=0 skips it).

Skipped when Bochs is not installed. The whole module takes 3.5-5 minutes here (one
Bochs boot); `make bench` prints the Linux boot time on its own.
"""
import os
import re
import time

import pytest

from bochshost import BochsHost, bochs_available
from ternhost import IMAGE

pytestmark = pytest.mark.skipif(not bochs_available(), reason="Bochs (tools/deps.sh) missing")

ANY_LINE = r"[^\r\n]*"


@pytest.fixture(scope="module")
def bx():
    h = BochsHost("vmx", image=os.environ.get("TERN_BOCHS_IMAGE", IMAGE))
    try:
        h.boot()
        yield h
    finally:
        h.stop()


def create(host, name, cmdline, mem="64M", vcpus=1, kernel="tguest", initrd=""):
    extra = f" initrd={initrd}" if initrd else ""
    out = host.cmd(f'vm create {name} mem={mem} vcpus={vcpus} kernel={kernel}{extra} '
                   f'cmdline="{cmdline}"')
    assert f"created VM {name}" in out, out


def start(host, name):
    assert f"{name} started" in host.cmd(f"vm start {name}")


def destroy(host, name):
    assert f"{name} destroyed" in host.cmd(f"vm destroy {name}")


def console(host, name):
    """`vm console NAME`, matching from the history printed before the attach marker."""
    host.send(f"vm console {name}\r")
    host.expect(re.escape(f"vm console {name}") + r"\r*\n")


def line(host, pattern, timeout=120):
    """The rest of the next line matching pattern (a regex prefix)."""
    host.expect(pattern + r"(" + ANY_LINE + r")\r*\n", timeout=timeout)
    return host.con.match.group(host.con.match.re.groups).strip()


def failed_checks(text):
    return re.findall(r"TGUEST CHECK (\S+) FAIL" + ANY_LINE, text)


def test_boot_reports_vmx_backend(bx):
    assert "backend: Intel VT-x (VMX+EPT)" in bx.boot_output, bx.boot_output[-2000:]
    assert re.search(r"vmm: Intel VT-x \(VMX\+EPT\) enabled on \d+ CPU", bx.boot_output)
    out = bx.cmd("version")
    assert "cpu: GenuineIntel" in out and "backend: Intel VT-x (VMX+EPT)" in out, out
    caps = bx.cmd("vmx")
    assert "EPT: A/D yes" in caps and "dirty tracking: PML" in caps, caps
    print(f"Bochs boot to the prompt: {bx.boot_seconds:.1f} s")


def test_basic_guest(bx):
    t0 = time.monotonic()
    create(bx, "b1", "tguest.test=basic tguest.end=poweroff")
    start(bx, "b1")
    console(bx, "b1")
    result = line(bx, r"TGUEST DONE basic ", timeout=300)
    seen = bx.con.before
    bx.expect(r"TGUEST DONE basic ", timeout=60)  # again: COM1 and port 0xE9
    bx.expect(r"\[b1 is stopped\]", timeout=120)
    bx.expect(r"tern> ")
    elapsed = time.monotonic() - t0
    assert result == "ok", (result, failed_checks(seen))
    assert "cpu vendor=GenuineIntel" in seen
    info = bx.cmd("vm info b1")
    assert "last stop: guest powered off (ACPI S5)" in info, info
    for reason in ("cpuid", "rdmsr", "wrmsr", "io", "hlt", "npf/mmio", "vmcall"):
        assert re.search(rf"^\s+{re.escape(reason)}\s+\d+", info, re.M), (reason, info)
    destroy(bx, "b1")
    print(f"basic: create to power-off {elapsed:.1f} s")


def fetch(host, name):
    """`vm-dirty NAME fetch list`: (count, set of guest-physical addresses)."""
    out = host.cmd(f"vm-dirty {name} fetch list")
    m = re.search(r"(\d+) dirty pages", out)
    assert m, out
    gpas = {int(x, 16) for x in re.findall(r"0x[0-9a-f]+", out.split("\n", 1)[1])}
    return int(m.group(1)), gpas


def dirty_rounds(host, name, rounds=3, on_round=None):
    """The tguest dirty handshake (docs/testguest.md): after each `w` the dirty set is
    exactly the WROTE line's pages, plus at most the guest's page-table pages. on_round runs
    after each fetch (and after the first)."""
    create(host, name, "tguest.test=dirty tguest.out=com1 tguest.pages=8 tguest.stride=3 "
                       "tguest.end=reset")
    start(host, name)
    console(host, name)
    armed = line(host, r"TGUEST DIRTY ARMED ")
    host.detach()
    k = int(re.search(r"k=(\d+)", armed).group(1))
    pts = {int(x, 16) for x in re.search(r"pt=(\S+)", armed).group(1).split(",")}
    assert f"dirty logging on for {name}" in host.cmd(f"vm-dirty {name} start")
    fetch(host, name)
    n, idle = fetch(host, name)
    assert idle <= pts, (sorted(map(hex, idle)), armed)
    if on_round:
        on_round()
    seen = set()
    for r in range(rounds):
        host.attach(name)
        host.send("w")
        wrote = line(host, r"TGUEST DIRTY WROTE ")
        host.detach()
        written = {int(x, 16) for x in re.search(r"gpas=(\S+)", wrote).group(1).split(",")}
        assert len(written) == k and f"round={r}" in wrote, wrote
        n, dirty = fetch(host, name)
        assert written <= dirty, ("missed", sorted(map(hex, written - dirty)))
        assert dirty - written <= pts, ("extra", sorted(map(hex, dirty - written - pts)))
        if on_round:
            on_round()
        seen |= written
    assert len(seen) == rounds * k
    host.attach(name)
    host.send("p")
    line(host, r"TGUEST DIRTY IDLE ")
    host.detach()
    n, idle = fetch(host, name)
    assert idle <= pts, sorted(map(hex, idle))
    assert f"dirty logging off for {name}" in host.cmd(f"vm-dirty {name} stop")
    host.attach(name)
    host.send("q")
    assert line(host, r"TGUEST DONE dirty ") == "ok"
    host.expect(rf"\[{name} is stopped\]", timeout=120)
    host.expect(r"tern> ")
    destroy(host, name)


def pml_logged(host):
    """PML entries the backend has drained so far (the `vmx` command)."""
    out = host.cmd("vmx")
    m = re.search(r"PML entries logged so far: (\d+)", out)
    assert m, out
    return int(m.group(1))


def dirty_mode(host, how, name):
    out = host.cmd(f"vmx dirty {how}")
    assert f"next vm-dirty start: {name}" in out, out


def npf_exits(host, name):
    """The VM's EPT-violation exit count (`vm info`)."""
    m = re.search(r"^\s+npf/mmio\s+(\d+)", host.cmd(f"vm info {name}"), re.M)
    return int(m.group(1)) if m else 0


def test_dirty_pages_exact_with_pml(bx):
    t0 = time.monotonic()
    dirty_mode(bx, "pml", "PML")
    logged = pml_logged(bx)
    dirty_rounds(bx, "d1")
    assert pml_logged(bx) >= logged + 3 * 8  # the pages really came through the PML log
    print(f"dirty (PML): {time.monotonic() - t0:.1f} s")


def test_dirty_pages_exact_with_ept_dirty_bits(bx):
    t0 = time.monotonic()
    dirty_mode(bx, "ad", "EPT dirty bits")
    try:
        logged = pml_logged(bx)
        dirty_rounds(bx, "d2")
        assert pml_logged(bx) == logged  # the D-bit scan: no PML at all
    finally:
        dirty_mode(bx, "pml", "PML")
    print(f"dirty (EPT D bits): {time.monotonic() - t0:.1f} s")


def test_dirty_pages_exact_with_write_protection(bx):
    """The fallback for CPUs without EPT A/D bits: RAM write-protected, the first write to
    each page an EPT violation that logs it."""
    t0 = time.monotonic()
    dirty_mode(bx, "wp", "write protection")
    try:
        logged = pml_logged(bx)
        seen = []
        dirty_rounds(bx, "d3", on_round=lambda: seen.append(npf_exits(bx, "d3")))
        assert pml_logged(bx) == logged
        # every round's writes faulted: at least k EPT violations per round
        assert all(b - a >= 8 for a, b in zip(seen, seen[1:])), seen
    finally:
        dirty_mode(bx, "pml", "PML")
    print(f"dirty (write protection): {time.monotonic() - t0:.1f} s")


def counts(host, n, timeout=120):
    """The next n COUNT lines: [(n, errors)]."""
    got = []
    for _ in range(n):
        host.expect(r"TGUEST COUNT n=(\d+) tsc=\d+ ms=\d+ pass=\d+ sum=0x[0-9a-f]+ errors=(\d+)",
                    timeout=timeout)
        got.append((int(host.con.match.group(1)), int(host.con.match.group(2))))
    return got


def test_snapshot_restores_on_vmx(bx):
    t0 = time.monotonic()
    create(bx, "s1", "tguest.test=count tguest.out=com1 tguest.interval=100 tguest.cpages=32",
           mem="32M")
    start(bx, "s1")
    bx.attach("s1")
    before = counts(bx, 2)
    bx.detach()
    assert "s1 snapshot taken" in bx.cmd("vm snapshot s1", timeout=300)
    bx.attach("s1")
    later = counts(bx, 4)  # runs on after the snapshot
    bx.detach()
    assert "s1 restored from snapshot" in bx.cmd("vm restore s1", timeout=300)
    bx.attach("s1")
    restored = counts(bx, 3)
    bx.detach()
    assert all(e == 0 for _, e in before + later + restored), (before, later, restored)
    ns = [c[0] for c in restored]
    assert ns == list(range(ns[0], ns[0] + 3)), restored
    # it continued from the snapshot, not from where it had run on to
    assert before[-1][0] <= ns[0] <= later[0][0] + 1 and ns[0] < later[-1][0], (
        before, later, restored)
    destroy(bx, "s1")
    print(f"snapshot/restore: {time.monotonic() - t0:.1f} s")


def test_hostile_guest_triple_faults_alone(bx):
    t0 = time.monotonic()
    create(bx, "h1", "tguest.test=hostile tguest.portstep=7 tguest.msrstep=5")
    start(bx, "h1")
    console(bx, "h1")
    result = line(bx, r"TGUEST DONE hostile ", timeout=900)
    seen = bx.con.before
    bx.expect(r"\[h1 is stopped\]", timeout=300)
    bx.expect(r"tern> ")
    assert result == "ok", (result, failed_checks(seen))
    info = bx.cmd("vm info h1")
    assert "last stop: guest error: triple fault" in info, info
    assert re.search(r"^Tern \d+\.\d+\.\d+", bx.cmd("version"), re.M)
    destroy(bx, "h1")
    print(f"hostile: {time.monotonic() - t0:.1f} s")


def test_entry_failure_is_reported(bx):
    """A guest state VM entry refuses stops the VM with the failing check named (here a
    deliberately unusable TR, `vmx-break-entry`), and is in the log with the exit reason's
    qualification; the host carries on."""
    t0 = time.monotonic()
    create(bx, "e1", "tguest.test=count tguest.out=com1 tguest.interval=100", mem="32M")
    start(bx, "e1")
    bx.attach("e1")
    counts(bx, 1)
    bx.detach()
    assert "e1 paused" in bx.cmd("vm pause e1")
    assert "next VM entry will fail" in bx.cmd("vmx-break-entry e1")
    report = (r"vm e1: vcpu 0: VM entry failed: invalid guest state \(qualification \d+\): "
              r"guest TR is unusable")
    out = bx.cmd("vm resume e1")
    assert "e1 resumed" in out, out
    if not re.search(report, out):  # the kernel log line comes to the console too
        bx.expect(report, timeout=120)
    info = bx.cmd("vm info e1")
    assert re.search(r"^last stop: .*VM entry failed: guest TR is unusable", info, re.M), info
    destroy(bx, "e1")
    assert re.search(r"^Tern \d+\.\d+\.\d+", bx.cmd("version"), re.M)
    print(f"entry failure report: {time.monotonic() - t0:.1f} s")


@pytest.mark.skipif(os.environ.get("TERN_BOCHS_LINUX") == "0",
                    reason="TERN_BOCHS_LINUX=0: the Debian guest boot (2 minutes) skipped")
def test_linux_boot_time(bx):
    """The Debian test guest (docs/guest.md) to its shell on VMX, two vCPUs (the second starts
    in real mode through INIT-SIPI: unrestricted guest). Prints the time (`make bench`)."""
    from ternhost import guest_cmdline
    create(bx, "lx", guest_cmdline(), mem="256M", vcpus=2, kernel="vmlinuz",
           initrd="initrd.img")
    t0 = time.monotonic()
    start(bx, "lx")
    bx.wait_guest_ready("lx", timeout=3600)
    boot_s = time.monotonic() - t0
    out = bx.guest_run("lx", "grep -c ^processor /proc/cpuinfo; uname -r", timeout=600)
    assert re.search(r"^2\s*$", out, re.M), out
    print(f"Linux on Tern on Bochs (VMX): vm start to shell {boot_s:.0f} s")
    assert "lx stopped" in bx.cmd("vm stop lx", timeout=300)
    destroy(bx, "lx")
