#!/usr/bin/python3
"""Sampling profiler for Tern hosts running under QEMU, from outside (no Tern support needed).

A thread asks each host's QEMU for every vCPU's registers over QMP (`info registers -a`) about
100 times a second and maps RIP to a function of build/tern.elf; samples outside Tern's text
are counted as "guest/other" (a vCPU in a nested guest). A sample in spin_lock is labelled with
the lock it waits for (RDI holds the lock's address in spin_lock's wait loop; it is mapped to
the data symbol that contains it, e.g. `netd+0x0` for netd.lock).

Caveat: QEMU's TCG writes RIP back to the CPU state only at some instructions (helpers, I/O,
PAUSE, indirect branches), so a sample names the last such place: function-level attribution
is approximate, and wait loops (PAUSE every iteration, HLT) are seen exactly. Compare runs of the
same build, not the percentages with a native profiler's.

  python3 tests/bench/qprof.py            profile a dirty-guest Tern->Tern migration (both ways)
                                          with bench_migrate's set-up; prints the top functions
                                          per host CPU next to the migration's summary line
Knobs: the bench_migrate ones (BENCH_RUNS, BENCH_MIG_WORK, ...; QEMU's side is skipped).
"""
import bisect
import collections
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ELF = os.path.join(HERE, "..", "..", "build", "tern.elf")


class Symbols:
    """Function and data symbols of tern.elf, for address -> name lookups."""

    def __init__(self, elf=ELF):
        out = subprocess.run(["nm", "-n", elf], capture_output=True, text=True,
                             check=True).stdout
        self.text, self.data = [], []
        for line in out.splitlines():
            p = line.split()
            if len(p) != 3:
                continue
            if p[1] in "tTwW":
                self.text.append((int(p[0], 16), p[2]))
            elif p[1] in "bBdDrR":
                self.data.append((int(p[0], 16), p[2]))
        marks = dict((n, a) for a, n in self.text)
        self.lo, self.hi = marks.get("__text_start", 0), marks.get("__text_end", 0)
        self.text_addrs = [a for a, _ in self.text]
        self.data_addrs = [a for a, _ in self.data]

    def function(self, rip):
        if not self.lo <= rip < self.hi:
            return "guest/other"
        i = bisect.bisect_right(self.text_addrs, rip) - 1
        return self.text[i][1] if i >= 0 else hex(rip)

    def datum(self, addr):
        i = bisect.bisect_right(self.data_addrs, addr) - 1
        if i >= 0 and addr - self.data[i][0] < 65536:
            return f"{self.data[i][1]}+{addr - self.data[i][0]:#x}"
        return hex(addr)  # a lock inside a heap object


REGS = re.compile(r"CPU#(\d+)\s*\n\s*RAX=.*?RDI=([0-9a-f]+).*?RIP=([0-9a-f]+)", re.S)


class Sampler:
    """Samples the vCPUs of TernHost objects until stop(); report() returns the table."""

    def __init__(self, hosts, symbols=None, interval=0.01):
        self.sym = symbols or Symbols()
        self.hosts = hosts
        self.interval = interval
        self.counts = {h.name: collections.defaultdict(collections.Counter) for h in hosts}
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(h,), daemon=True)
                        for h in hosts]
        for t in self.threads:
            t.start()

    def _run(self, h):
        while not self.done.is_set():
            try:
                reply = h.qmp("human-monitor-command", **{"command-line": "info registers -a"})
            except Exception as e:  # the host went away: stop sampling it
                print(f"qprof: {h.name}: {e}", flush=True)
                return
            for cpu, rdi, rip in REGS.findall(reply.get("return", "")):
                name = self.sym.function(int(rip, 16))
                if name == "spin_lock":
                    name = "spin_lock:" + self.sym.datum(int(rdi, 16))
                self.counts[h.name][int(cpu)][name] += 1
            time.sleep(self.interval)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join()

    def report(self, top=20):
        lines = []
        for host, cpus in self.counts.items():
            for cpu, c in sorted(cpus.items()):
                total = sum(c.values())
                top_items = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in
                                      c.most_common(top) if 100 * v / total >= 1)
                lines.append(f"  {host} cpu{cpu} ({total} samples): {top_items}")
        return "\n".join(lines)


def main():
    sys.path.insert(0, HERE)
    os.environ.setdefault("BENCH_MIG_QEMU", "0")
    os.environ.setdefault("BENCH_MIG_WORK", "dirty")
    import bench_migrate as bm

    plain = bm.tern_migrate
    symbols = Symbols()

    def profiled(src, dst, peer):
        s = Sampler([src, dst], symbols)
        try:
            r = plain(src, dst, peer)
        finally:
            s.stop()
        print(f"  profile of {src.name} -> {dst.name}:\n{s.report()}", flush=True)
        return r

    bm.tern_migrate = profiled
    bm.main()


if __name__ == "__main__":
    main()
