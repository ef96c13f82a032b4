#!/usr/bin/python3
"""Virtio benchmarks (run by `make bench` through tools/bench.sh; not a test).

Guest disk throughput (busybox dd with O_DIRECT on the guest's virtio-blk disk) and
guest-to-guest TCP throughput (tools/guest/tern-bulk over virtio-net), for the same Debian test
guest (tools/mkguest.sh: kernel + initramfs, `tern.modules=1`, 256 MiB, 1 vCPU):
  - under Tern: two guests on one Tern host (QEMU TCG, EPYC-Rome with SVM, -smp 2), the disk a
    256 MiB empty Tern disk (host memory), the NICs ports of Tern's virtual switch;
  - under plain QEMU TCG with QEMU's own devices: virtio-blk-pci on a sparse 256 MiB raw file,
    virtio-net-pci, the two guests being two QEMU processes joined by a socket netdev.
Every figure is printed with the command that produced it. Knobs: BENCH_DD_MB (default 64),
BENCH_TCP_BYTES (default 32000000), BENCH_RUNS (default 2; the best run is reported).
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from ternhost import ROOT, TernHost, clean, guest_cmdline  # noqa: E402

DD_MB = int(os.environ.get("BENCH_DD_MB", "64"))
TCP_BYTES = int(os.environ.get("BENCH_TCP_BYTES", "32000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "2"))
EXTRA = "tern.modules=1 tern.quiet=1"
DD_WRITE = f"dd if=/dev/zero of=/dev/vda bs=1M count={DD_MB} oflag=direct"
DD_READ = f"dd if=/dev/vda of=/dev/null bs=1M count={DD_MB} iflag=direct"
DD_MEM = f"dd if=/dev/zero of=/dev/null bs=1M count={DD_MB * 8}"
BULK_RECV = "(tern-bulk recv 5001 > /tmp/bulk.log 2>&1 &) ; sleep 1; echo listening"
BULK_SEND = f"tern-bulk send 10.0.0.2 5001 {TCP_BYTES}"


def timed(cmd):
    """cmd between two readings of the guest's /proc/uptime (busybox dd prints no rate)."""
    return (f"s=$(cut -d' ' -f1 /proc/uptime); {cmd} 2>&1; "
            f"e=$(cut -d' ' -f1 /proc/uptime); echo TIMED $s $e")


def dd_rate(out, mib=DD_MB):
    """MB/s (decimal) of a timed dd of mib MiB."""
    m = re.search(r"TIMED ([\d.]+) ([\d.]+)", out)
    if not m or f"{mib}+0 records out" not in out:
        raise RuntimeError(f"dd failed: {out!r}")
    return mib * 2**20 / max(float(m.group(2)) - float(m.group(1)), 0.01) / 1e6


def bulk_rate(out):
    m = re.search(r"TERN-BULK sent=(\d+) seconds=([\d.]+) mbps=([\d.]+)", out)
    if not m:
        raise RuntimeError(f"no tern-bulk result in: {out!r}")
    return float(m.group(3))


def measure(run, recv_run):
    """Best of RUNS for dd write, dd read, TCP and (for scale) a memory-only dd; run(cmd) runs
    in guest 1, recv_run in guest 2."""
    w = r = t = m = 0.0
    for _ in range(RUNS):
        m = max(m, dd_rate(run(timed(DD_MEM)), DD_MB * 8))
        w = max(w, dd_rate(run(timed(DD_WRITE))))
        run("echo 3 > /proc/sys/vm/drop_caches; echo dropped")
        r = max(r, dd_rate(run(timed(DD_READ))))
        recv_run(BULK_RECV)
        t = max(t, bulk_rate(run(BULK_SEND)))
    return w, r, t, m


# ---- Tern -------------------------------------------------------------------------------------

def tern_side():
    h = TernHost("bench-virtio", smp=2, mem=2048)
    try:
        h.boot()
        for name, keys in (("g1", "disk=bench,size=256M nic=on mac=52:54:00:00:00:01"),
                           ("g2", "nic=on mac=52:54:00:00:00:02")):
            h.cmd(f'vm create {name} mem=256M vcpus=1 kernel=vmlinuz initrd=initrd.img {keys} '
                  f'cmdline="{guest_cmdline(EXTRA)}"')
            h.cmd(f"vm start {name}")
        for name, ip in (("g1", "10.0.0.1"), ("g2", "10.0.0.2")):
            h.wait_guest_ready(name)
            h.guest_run(name, f"ip addr add {ip}/24 dev eth0; ip link set eth0 up; echo up")
        h.guest_run("g1", "ping -c 2 10.0.0.2")
        before = h.cmd("vm info g1")
        res = measure(lambda c: h.guest_run("g1", c, timeout=600),
                      lambda c: h.guest_run("g2", c, timeout=60))
        after = h.cmd("vm info g1")
        return res, before, after
    finally:
        h.stop()


# ---- plain QEMU ---------------------------------------------------------------------------------

class QemuGuest:
    """The test guest directly under QEMU TCG, console on stdio."""

    def __init__(self, name, devices):
        img = os.path.join(ROOT, "build", "images")
        self.cmd = ["qemu-system-x86_64", "-machine",
                    "q35,accel=tcg,i8042=off,hpet=off,sata=off,smbus=off,usb=off",
                    "-cpu", "EPYC-Rome", "-m", "256", "-smp", "1", "-nodefaults", "-vga", "none",
                    "-nographic", "-serial", "mon:stdio", "-no-reboot",
                    "-kernel", os.path.join(img, "vmlinuz"),
                    "-initrd", os.path.join(img, "initrd.img"),
                    "-append", guest_cmdline(EXTRA)] + devices
        log = open(os.path.join(ROOT, "build", "test-logs", f"bench-qemu-{name}.log"), "w")
        self.p = pexpect.spawn(self.cmd[0], self.cmd[1:], encoding="utf-8",
                               codec_errors="replace", timeout=300)
        self.p.logfile_read = log
        self.n = 0

    def ready(self):
        self.p.expect("TERN-GUEST-READY", timeout=300)
        self.p.expect("# ", timeout=60)
        return self

    def run(self, command, timeout=600):
        self.n += 1
        tag = f"QB{self.n}x{os.getpid() % 1000}"
        self.p.send(f"echo {tag}B; {command}; echo {tag}E\r")
        self.p.expect(rf"\n{tag}B\r*\n", timeout=timeout)
        self.p.expect(rf"{tag}E\r*\n", timeout=timeout)
        return clean(self.p.before)

    def stop(self):
        self.p.terminate(force=True)


def qemu_side():
    tmp = tempfile.mkdtemp(prefix="bench-virtio-")
    disk = os.path.join(tmp, "disk.raw")
    with open(disk, "wb") as f:
        f.truncate(256 << 20)
    port = 20000 + os.getpid() % 20000
    g1 = QemuGuest("g1", ["-drive", f"file={disk},if=none,id=d0,format=raw",
                          "-device", "virtio-blk-pci,drive=d0",
                          "-netdev", f"socket,id=n0,listen=127.0.0.1:{port}",
                          "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01"])
    time.sleep(1)
    g2 = QemuGuest("g2", ["-netdev", f"socket,id=n0,connect=127.0.0.1:{port}",
                          "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02"])
    try:
        g1.ready()
        g2.ready()
        g1.run("ip addr add 10.0.0.1/24 dev eth0; ip link set eth0 up")
        g2.run("ip addr add 10.0.0.2/24 dev eth0; ip link set eth0 up")
        g1.run("ping -c 2 10.0.0.2")
        return measure(g1.run, g2.run), " ".join(g1.cmd[:12]) + " ..."
    finally:
        g1.stop()
        g2.stop()
        subprocess.run(["rm", "-rf", tmp])


def main():
    (tw, tr, tt, tm), before, after = tern_side()
    (qw, qr, qt, qm), qcmd = qemu_side()
    print(f"virtio benchmarks: Debian test guest, 256 MiB, 1 vCPU, {DD_MB} MiB dd, "
          f"{TCP_BYTES / 1e6:.0f} MB TCP, best of {RUNS}")
    print(f"{'':34s} {'under Tern':>12s} {'plain QEMU':>12s} {'Tern/QEMU':>10s}")
    for what, a, b in (("disk write MB/s (dd O_DIRECT 1M)", tw, qw),
                       ("disk read  MB/s (dd O_DIRECT 1M)", tr, qr),
                       ("guest->guest TCP MB/s (tern-bulk)", tt, qt),
                       ("memory only MB/s (for scale)", tm, qm)):
        print(f"{what:34s} {a:12.2f} {b:12.2f} {a / b:10.2f}")
    print(f"  guest commands: {DD_WRITE}; {DD_READ}; {BULK_SEND} (receiver: tern-bulk recv "
          f"5001); scale: {DD_MEM} (no device: what nesting alone costs)")
    print("  Tern: tests/bench/bench_virtio.py (TernHost -smp 2 -m 2048; g1 disk=bench,size=256M "
          "nic=on, g2 nic=on, both on Tern's virtual switch)")
    print(f"  plain QEMU: {qcmd} -device virtio-blk-pci (raw file) / virtio-net-pci "
          "(socket netdev between two QEMU processes)")
    ex = lambda info: {k: int(v) for k, v in re.findall(r"^\s+(\S+)\s+(\d+)$", info, re.M)}
    b, a = ex(before), ex(after)
    print("  g1 exits during the measurements under Tern: " +
          ", ".join(f"{k} {a[k] - b.get(k, 0)}" for k in a if a[k] - b.get(k, 0)))


if __name__ == "__main__":
    main()
