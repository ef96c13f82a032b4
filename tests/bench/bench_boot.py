#!/usr/bin/python3
"""Boot benchmarks (run by `make bench`): Tern's own boot, and the Debian test guest's boot
under Tern compared with the same kernel under plain QEMU TCG, with exits per second by
reason during the guest's boot. Every figure is printed with the command that produced it."""
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from ternhost import ROOT, TernHost, guest_cmdline  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def tern_boot():
    times = []
    for i in range(RUNS):
        h = TernHost(f"bench-boot{i}", smp=2, mem=2048)
        try:
            h.boot()
            times.append(h.boot_seconds)
        finally:
            h.stop()
    size = os.path.getsize(os.path.join(ROOT, "build", "tern.img"))
    elf = os.path.getsize(os.path.join(ROOT, "build", "tern.elf"))
    efi = os.path.getsize(os.path.join(ROOT, "build", "BOOTX64.EFI"))
    print(f"tern boot, QEMU start to `tern> ` (TCG EPYC-Rome, -smp 2, -m 2048, USB stick): "
          f"median {statistics.median(times):.2f} s of {RUNS} {['%.2f' % t for t in times]}")
    print(f"  image build/tern.img {size / 2**20:.0f} MiB (ESP), tern.elf {elf / 1024:.0f} KiB, "
          f"BOOTX64.EFI {efi / 1024:.0f} KiB")
    print("  command: make bench (tests/bench/bench_boot.py: TernHost.boot())")


def guest_boot_under_tern(vcpus):
    results = []
    exits = None
    for i in range(RUNS):
        h = TernHost(f"bench-guest{vcpus}-{i}", smp=2, mem=1024)
        try:
            h.boot()
            h.cmd(f'vm create g mem=256M vcpus={vcpus} kernel=vmlinuz initrd=initrd.img '
                  f'cmdline="{guest_cmdline()}"')
            t0 = time.monotonic()
            h.cmd("vm start g")
            h.send("vm console g\r")
            h.expect("TERN-GUEST-READY", timeout=300)
            ready = time.monotonic() - t0
            h.expect("# ", timeout=60)
            h.send("echo $((6*7))\r")
            h.expect(r"\n42\r?\n", timeout=60)
            answer = time.monotonic() - t0
            h.send("\x1d")
            h.expect(r"\[detached from g\]")
            h.expect("tern> ")
            info = h.cmd("vm info g")
            results.append((ready, answer))
            if exits is None:
                exits = (ready, info)
        finally:
            h.stop()
    med_ready = statistics.median(r[0] for r in results)
    med_answer = statistics.median(r[1] for r in results)
    return med_ready, med_answer, results, exits


def qemu_baseline(vcpus):
    out = subprocess.run([os.path.join(ROOT, "tools", "qemu-baseline.sh"), "-s", str(vcpus),
                          "-n", str(RUNS), "-p"], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
        raise SystemExit("qemu-baseline.sh failed")
    return out.stdout


def main():
    tern_boot()
    for vcpus in (1, 2):
        ready, answer, runs, (t, info) = guest_boot_under_tern(vcpus)
        base = qemu_baseline(vcpus)
        rows = re.findall(r"^\d+\s+(\d+|median)\s+([\d.]+)\s+([\d.]+)", base, re.M)
        med = [r for r in rows if r[0] == "median"] or rows
        b_ready = statistics.median(float(r[1]) for r in med)
        b_answer = statistics.median(float(r[2]) for r in med)
        print(f"\nDebian guest, {vcpus} vCPU, 256 MiB, `vm start` to TERN-GUEST-READY under "
              f"Tern: median {ready:.2f} s (to `42`: {answer:.2f} s), runs "
              f"{['%.2f/%.2f' % r for r in runs]}")
        print(f"  same kernel+initrd under plain QEMU TCG (sparse q35), QEMU start to the "
              f"marker: {b_ready:.2f} s (to `42`: {b_answer:.2f} s)")
        print(f"  ratio Tern/plain QEMU to the ready marker: {ready / b_ready:.2f}")
        print("  commands: make bench (tests/bench/bench_boot.py); "
              f"tools/qemu-baseline.sh -s {vcpus} -n {RUNS} -p")
        total = int(re.search(r"exits by reason \((\d+) total\)", info).group(1))
        print(f"  exits during boot (first run, {t:.2f} s): {total} total, {total / t:.0f}/s")
        for name, n in re.findall(r"^\s+(\S+)\s+(\d+)$", info, re.M):
            print(f"    {name:14s} {int(n):8d}  {int(n) / t:8.0f}/s")


if __name__ == "__main__":
    main()
