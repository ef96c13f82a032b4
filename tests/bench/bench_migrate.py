#!/usr/bin/python3
"""Live-migration benchmark (issue 7; run by `make bench` through tools/bench.sh; not a test:
nothing is asserted about speed, but a migration that fails stops the run with an error).

The same Debian test guest (build/images/vmlinuz + initrd.img, 256 MiB, 1 vCPU, the command
line from ternhost.guest_cmdline plus tern.modules=1 for its virtio-net NIC) in two workloads:
  idle   the shell prompt, tern-counter and nothing else;
  dirty  `while :; do dd if=/dev/urandom of=/tmp/x bs=1M count=32; done` in the background
         (a guest copying random data in a loop, the "What to beat" workload of issue 7);
migrated
  - by Tern between two Tern hosts (QEMU TCG, EPYC-Rome with SVM, -smp 2 -m 1024) on a network
    namespace bridge (`migrate g PEER`, default downtime limit 300 ms), alternately a->b and
    b->a; the summary line "done in X ms, downtime Y ms, Z MiB sent in R rounds" and the
    "time:" profile line are parsed;
  - by QEMU's own migration between two plain QEMU TCG processes on the same bridge (QMP
    `migrate` to `tcp:127.0.0.1:PORT`, destination started with `-incoming`), with QEMU's
    default bandwidth limit (128 MiB/s in QEMU 7.2) and with max-bandwidth raised to 100 GiB/s
    ("unlimited"); `query-migrate` gives total-time, downtime, ram transferred and
    dirty-sync-count (rounds).
Guest-visible downtime, measured the same way on both:
  - late_ms: tern-counter -i 20 runs in the guest; its largest late_ms during the migration
    (how much later than planned a line came, by the guest's own clock: a hypervisor that
    freezes the guest clock while paused hides the pause from this one);
  - ping gap: Linux in the namespace pings the guest's NIC every 10 ms during the migration;
    the largest gap between two replies (host clock; includes the switch relearning the MAC).
The raw Tern<->Tern link bandwidth (`tcp send PEER 9 SIZE` both ways) gives the link
utilisation of the Tern migrations (bytes sent / total time / link rate).

Knobs: BENCH_RUNS (default 2 migrations per case), BENCH_MIG_LINK_BYTES (default 8M),
BENCH_MIG_DD_MB (default 32), BENCH_MIG_QEMU_UNLIMITED=0 skips the unlimited-bandwidth QEMU
runs, BENCH_MIG_TERN=0 / BENCH_MIG_QEMU=0 skip a side, BENCH_MIG_WORK=idle (or dirty) runs that
workload only, BENCH_MIG_DOWNTIME=MS passes downtime=MS to Tern's `migrate` (default: Tern's
own default limit, 300 ms), BENCH_MIG_MTU=9000 puts the Tern hosts on a jumbo-frame network
(bridge, taps, QEMU host_mtu and tern.conf `mtu`; default 1500), BENCH_MIG_HA=1 leaves Tern's HA agent on
(tern.conf `ha = on`; off by default so that only the migration is measured).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from netns import PEER_IP, NetNS  # noqa: E402
from ternhost import ROOT, TernHost, clean, guest_cmdline  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "2"))
LINK_BYTES = os.environ.get("BENCH_MIG_LINK_BYTES", "8M")
DD_MB = int(os.environ.get("BENCH_MIG_DD_MB", "32"))
QEMU_UNLIMITED = os.environ.get("BENCH_MIG_QEMU_UNLIMITED", "1") != "0"
DO_TERN = os.environ.get("BENCH_MIG_TERN", "1") != "0"
DO_QEMU = os.environ.get("BENCH_MIG_QEMU", "1") != "0"
HA = os.environ.get("BENCH_MIG_HA", "0") == "1"
DOWNTIME = os.environ.get("BENCH_MIG_DOWNTIME", "")
MTU = int(os.environ.get("BENCH_MIG_MTU", "1500"))
WORKS = os.environ.get("BENCH_MIG_WORK", "idle dirty").split()
KEY = "hex:" + "3c" * 32
A_IP, B_IP = "169.254.77.1", "169.254.77.2"
TERN_GUEST_IP, QEMU_GUEST_IP = "169.254.77.101", "169.254.77.111"
GUEST_MAC = "52:54:00:00:77:65"
EXTRA = "tern.modules=1 tern.quiet=1"
COUNTER = "(tern-counter -i 20 -o /tmp/cnt >/dev/null 2>&1 &) ; echo counting"
LOOP = (f"(while :; do dd if=/dev/urandom of=/tmp/x bs=1M count={DD_MB} 2>/dev/null; done) "
        "> /dev/null 2>&1 & echo $! > /tmp/loop.pid")
UNLIMITED = 100 << 30


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Build:
    """Copies of the loader, kernel and guest images taken at start (others rebuild build/)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-mig-")
        for f in ("BOOTX64.EFI", "tern.elf"):
            shutil.copy(os.path.join(ROOT, "build", f), self.dir)
        self.images = os.path.join(self.dir, "images")
        shutil.copytree(os.path.join(ROOT, "build", "images"), self.images)

    def image(self, name, conf):
        d = os.path.join(self.dir, name)
        os.mkdir(d)
        with open(os.path.join(d, "tern.conf"), "w") as f:
            f.write(conf)
        out = os.path.join(d, "tern.img")
        subprocess.run([os.path.join(ROOT, "tools", "mkimage.sh"), out,
                        os.path.join(self.dir, "BOOTX64.EFI"), os.path.join(self.dir, "tern.elf"),
                        os.path.join(d, "tern.conf"), self.images], check=True,
                       capture_output=True)
        return out

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- guest-visible downtime ---------------------------------------------------------------------

class Pinger:
    """ping -i 0.01 -D from the namespace to the guest while a migration runs. Its output is
    read as it comes: an unread pipe fills in about 10 s (100 lines a second), ping then blocks
    in write() and stops pinging, which looked like a guest that stopped answering."""

    def __init__(self, ns, ip):
        self.t0 = time.time()
        self.lines = []
        self.p = ns.popen("ping", "-n", "-D", "-i", "0.01", "-W", "1", ip,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.p.stdout),
                                       daemon=True)
        self.reader.start()

    def stop(self):
        """(largest gap between two replies in ms, seconds from the start to that gap)."""
        time.sleep(1)
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=30)
        self.reader.join(timeout=30)
        out = "".join(self.lines)
        ts = [float(t) for t in re.findall(r"^\[([\d.]+)\] \d+ bytes from", out, re.M)]
        if len(ts) < 2:
            raise RuntimeError(f"ping got no replies: {out[-2000:]}")
        gap, at = max((b - a, a) for a, b in zip(ts, ts[1:]))
        return gap * 1000, at - self.t0


def noise_floor(run, ns, ip, secs=4):
    """late_ms and ping gap over a few seconds without migrating: the noise under the figures."""
    run(": > /tmp/cnt")
    ping = Pinger(ns, ip)
    time.sleep(secs)
    gap, _ = ping.stop()
    late, _ = counter_late(run(LATE))
    return late, gap


# the largest late_ms in /tmp/cnt and its line count, summed up in the guest (the file holds 50
# lines a second: printing it through the emulated UART would take minutes)
LATE = ("echo LATE $(sed -n 's/.*late_ms=\\([0-9]*\\).*/\\1/p' /tmp/cnt | sort -n | tail -n 1) "
        "$(wc -l < /tmp/cnt)")


def counter_late(out):
    """(largest late_ms, lines) from the LATE command's output."""
    m = re.search(r"^LATE (\d+) (\d+)\s*$", out, re.M)
    if not m or int(m.group(2)) == 0:
        raise RuntimeError(f"no tern-counter lines in /tmp/cnt: {out[-2000:]}")
    return int(m.group(1)), int(m.group(2))


# ---- Tern ---------------------------------------------------------------------------------------

def tern_host(build, ns, name, ip, other, other_ip):
    # ha = off: with a key and a peer the HA agent is on by default; on this loaded machine its
    # 200 ms heartbeats get missed and it fences (and may disturb the migration): measure
    # migration alone unless BENCH_MIG_HA=1.
    conf = (f"node = {name}\nip = {ip}/24\ncluster_key = {KEY}\n"
            f"ha = {'on' if HA else 'off'}\n{f'mtu = {MTU}' if MTU != 1500 else ''}\n"
            f"[peer {other}]\naddress = {other_ip}\n")
    nic = ns.add_tap(f"tapm{name}", mtu=MTU if MTU != 1500 else None)
    model = f"virtio-net-pci,host_mtu={MTU}" if MTU != 1500 else "virtio-net-pci"
    h = TernHost(f"bmig-{name}", image=build.image(name, conf), smp=2, mem=1024, netns=ns,
                 nics=[(nic, model)], boot_timeout=300)
    h.start()
    return h


def guest_run(h, command, timeout=120):
    out = h.guest_run("g", f"{command}; echo rc=$?", timeout=timeout)
    if "rc=0" not in out:
        raise RuntimeError(f"{h.name}: guest: {command}: {out}")
    return out


def link_rate(src, ip):
    out = src.cmd(f"tcp send {ip} 9 {LINK_BYTES}", timeout=600)
    m = re.search(r"sent (\d+) bytes in [\d.]+ s \(([\d.]+) MB/s\)", out)
    if not m:
        raise RuntimeError(f"{src.name}: tcp send: {out}")
    return float(m.group(2)) * 1e6 / 2**20  # MiB/s


def tern_migrate(src, dst, peer):
    """One `migrate g PEER`; returns a dict of what the summary and profile lines say."""
    t0 = time.monotonic()
    src.send(f"migrate g {peer}{' downtime=' + DOWNTIME if DOWNTIME else ''}\r")
    src.expect(r"migrate g: (done in [^\r\n]*|FAILED: [^\r\n]*|IN DOUBT[^\r\n]*)\r?\n",
               timeout=1800)
    wall = time.monotonic() - t0
    line = src.con.match.group(0).strip()
    progress = clean(src.con.before)
    if not line.startswith("migrate g: done"):
        raise RuntimeError(f"{src.name}: {line}")
    m = re.search(r"done in (\d+) ms, downtime (\d+) ms, (\d+) MiB sent in (\d+) rounds, "
                  r"(\d+) pages \((\d+) zero\)", line)
    if not m:
        raise RuntimeError(f"unexpected summary line: {line}")
    r = dict(total=int(m.group(1)), down=int(m.group(2)), mib=float(m.group(3)),
             rounds=int(m.group(4)), pages=int(m.group(5)), zero=int(m.group(6)), wall=wall,
             line=line, profile="(no time: line)")
    try:
        src.expect(r"migrate g: time: ([^\r\n]*)\r?\n", timeout=10)
        r["profile"] = src.con.match.group(1).strip()
        src.expect(r"migrate g: downtime: ([^\r\n]*)\r?\n", timeout=10)
        r["profile"] += "\n    downtime: " + src.con.match.group(1).strip()
    except AssertionError:
        pass
    # one "round: MiB sent so far, dirty MiB/s, throughput MiB/s, estimated downtime ms" each
    r["rounds_seen"] = " ".join(
        f"{m.group(1)}:{m.group(2)}/{m.group(3)}/{m.group(4)}/{m.group(5)}"
        for m in re.finditer(r"round (\d+), (\d+)/\d+ MiB sent, dirty (\d+) MiB/s, throughput "
                             r"(\d+) MiB/s, pages compressed to \d+%, estimated downtime (\d+) ms",
                             progress))
    throttles = [int(x) for x in re.findall(r"vCPUs throttled (\d+)%", progress)]
    r["throttle"] = max(throttles) if throttles else 0
    src.send("\r")
    src.expect("tern> ")
    # the VM must run at the destination now
    if not re.search(r"^g\s+running", dst.cmd("vm list"), re.M):
        raise RuntimeError(f"g is not running on {dst.name}: {dst.cmd('vm list')}")
    return r


def tern_side(build, ns):
    a = tern_host(build, ns, "a", A_IP, "b", B_IP)
    b = tern_host(build, ns, "b", B_IP, "a", A_IP)
    res = {w: [] for w in WORKS}
    res["floor"] = {}
    try:
        a.boot()
        b.boot()
        link = (link_rate(a, B_IP), link_rate(b, A_IP), loadavg())
        print(f"  Tern link a->b {link[0]:.2f} MiB/s, b->a {link[1]:.2f} MiB/s "
              f"(tcp send PEER 9 {LINK_BYTES}, Tern clock; load {link[2]})", flush=True)
        out = a.cmd(f'vm create g mem=256M vcpus=1 kernel=vmlinuz initrd=initrd.img nic=on '
                    f'mac={GUEST_MAC} cmdline="{guest_cmdline(EXTRA)}"')
        if "created VM g" not in out:
            raise RuntimeError(out)
        a.cmd("vm start g")
        a.wait_guest_ready("g")
        guest_run(a, f"ip addr add {TERN_GUEST_IP}/24 dev eth0 && ip link set eth0 up")
        guest_run(a, f"ping -c 2 -W 5 {PEER_IP}", timeout=60)
        guest_run(a, COUNTER)
        here, there = a, b
        for work in WORKS:
            if work == "dirty":
                guest_run(here, LOOP)
                time.sleep(5)
            res["floor"][work] = noise_floor(lambda c, h=here: guest_run(h, c), ns,
                                             TERN_GUEST_IP)
            print(f"  Tern {work}, no migration for 4 s: late_ms max {res['floor'][work][0]}, "
                  f"ping gap {res['floor'][work][1]:.0f} ms", flush=True)
            for _ in range(RUNS):
                guest_run(here, ": > /tmp/cnt")
                load = loadavg()
                ping = Pinger(ns, TERN_GUEST_IP)
                r = tern_migrate(here, there, "b" if there is b else "a")
                r["gap"], r["gap_at"] = ping.stop()
                r["late"], r["lines"] = counter_late(guest_run(there, LATE))
                r["load"] = load
                r["dir"] = f"{here.name[-1]}->{there.name[-1]}"
                res[work].append(r)
                print(f"  Tern {work} {r['dir']}: {r['line']}\n    {r['profile']}; late_ms max "
                      f"{r['late']}, ping gap {r['gap']:.0f} ms from {r['gap_at']:.1f} s after "
                      f"the start (wall {r['wall']:.1f} s), max throttle {r['throttle']}% "
                      f"(load {load})\n    rounds (n:MiB sent/dirty MiB/s/throughput MiB/s/"
                      f"estimated downtime ms): {r['rounds_seen']}", flush=True)
                here, there = there, here
            if work == "dirty":
                guest_run(here, "kill $(cat /tmp/loop.pid)")
        return res, link
    except Exception:
        for h in (a, b):  # what the hosts say, for the error report
            alive = h.alive()
            print(f"--- {h.name}: QEMU {'running' if alive else 'exited'}; stderr: "
                  f"{h.qemu_stderr()[-1000:]}")
            if alive:
                try:
                    h.send("\r")
                    print(h.cmd("log", timeout=20)[-3000:])
                except Exception as e:
                    print(f"--- {h.name}: console does not answer: {e}"[:2000])
        raise
    finally:
        a.stop()
        b.stop()


# ---- QEMU ---------------------------------------------------------------------------------------

class Qmp:
    def __init__(self, path):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no QMP socket at {path}")
                time.sleep(0.1)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())
        self("qmp_capabilities")

    def __call__(self, command, **arguments):
        self.f.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")
            if "return" in reply:
                return reply["return"]

    def close(self):
        self.s.close()


class QemuVm:
    """The test guest under plain QEMU TCG in the namespace; console on stdio, QMP on a socket."""
    n = 0

    def __init__(self, build, ns, tmp, tap, incoming=None):
        QemuVm.n += 1
        self.name = f"q{QemuVm.n}"
        self.qmp_path = os.path.join(tmp, f"{self.name}.qmp")
        self.cmd = ["qemu-system-x86_64", "-machine",
                    "q35,accel=tcg,i8042=off,hpet=off,sata=off,smbus=off,usb=off",
                    "-cpu", "EPYC-Rome", "-m", "256", "-smp", "1", "-nodefaults", "-vga", "none",
                    "-nographic", "-serial", "mon:stdio", "-no-reboot",
                    "-kernel", os.path.join(build.images, "vmlinuz"),
                    "-initrd", os.path.join(build.images, "initrd.img"),
                    "-append", guest_cmdline(EXTRA),
                    "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                    "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC}",
                    "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if incoming:
            self.cmd += ["-incoming", incoming]
        full = ["ip", "netns", "exec", ns.name] + self.cmd
        self.log = open(os.path.join(ROOT, "build", "test-logs", f"bench-mig-{self.name}.log"),
                        "w")
        self.p = pexpect.spawn(full[0], full[1:], encoding="utf-8", codec_errors="replace",
                               timeout=300)
        self.p.logfile_read = self.log
        self.qmp = Qmp(self.qmp_path)
        self.k = 0

    def ready(self):
        self.p.expect("TERN-GUEST-READY", timeout=300)
        self.p.expect("# ", timeout=60)
        return self

    def run(self, command, timeout=120):
        self.k += 1
        tag = f"QM{self.k}x{os.getpid() % 1000}"
        self.p.send(f"echo {tag}B; {command}; echo rc=$?; echo {tag}E\r")
        self.p.expect(rf"\n{tag}B\r*\n", timeout=timeout)
        self.p.expect(rf"{tag}E\r*\n", timeout=timeout)
        out = clean(self.p.before)
        if "rc=0" not in out:
            raise RuntimeError(f"{self.name}: {command}: {out}")
        return out

    def stop(self):
        try:
            self.qmp.close()
        except OSError:
            pass
        self.p.terminate(force=True)
        self.log.close()


def qemu_migrate(src, dst, port, bandwidth):
    """One QEMU migration src -> dst (started with -incoming); query-migrate's final answer."""
    if bandwidth:
        src.qmp("migrate-set-parameters", **{"max-bandwidth": bandwidth})
    params = src.qmp("query-migrate-parameters")
    t0 = time.monotonic()
    src.qmp("migrate", uri=f"tcp:127.0.0.1:{port}")
    while True:
        info = src.qmp("query-migrate")
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        if time.monotonic() - t0 > 600:
            raise RuntimeError(f"QEMU migration did not finish: {info}")
        time.sleep(0.05)
    wall = time.monotonic() - t0
    if info["status"] != "completed":
        raise RuntimeError(f"QEMU migration {info['status']}: {info}")
    # the source reports "completed" when it has sent everything; the destination may still
    # be loading the last pages for a moment
    st = dst.qmp("query-status")
    while st.get("status") != "running" and time.monotonic() - t0 - wall < 10:
        time.sleep(0.05)
        st = dst.qmp("query-status")
    if st.get("status") != "running":
        raise RuntimeError(f"destination not running after migration: {st}")
    ram = info["ram"]
    return dict(total=info["total-time"], down=info["downtime"], mib=ram["transferred"] / 2**20,
                rounds=ram["dirty-sync-count"], wall=wall, setup=info.get("setup-time", 0),
                dup=ram.get("duplicate", 0), normal=ram.get("normal", 0),
                mbps=ram.get("mbps", 0), bw=params["max-bandwidth"],
                limit=params["downtime-limit"])


def qemu_side(build, ns):
    tmp = tempfile.mkdtemp(prefix="bench-mig-qemu-")
    taps = ["tapqa", "tapqb"]
    for t in taps:
        ns.add_tap(t)
    cases = [("idle", None), ("dirty", None)]
    if QEMU_UNLIMITED:
        cases = [("idle", None), ("idle", UNLIMITED), ("dirty", None), ("dirty", UNLIMITED)]
    cases = [c for c in cases if c[0] in WORKS]
    res = {c: [] for c in cases}
    crashes = {c: 0 for c in cases}
    floor = {}
    port = 21000 + os.getpid() % 20000
    tap = 0

    def fresh(tap):
        """A newly booted guest on taps[tap] with its address and tern-counter."""
        vm = QemuVm(build, ns, tmp, taps[tap])
        vm.ready()
        vm.run(f"ip addr add {QEMU_GUEST_IP}/24 dev eth0 && ip link set eth0 up")
        vm.run(f"ping -c 2 -W 5 {PEER_IP}", timeout=60)
        vm.run(COUNTER)
        return vm

    cur = None
    try:
        cur = fresh(tap)
        for work, bw in cases:
            if work == "dirty" and not getattr(cur, "looping", False):
                cur.run(LOOP)
                cur.looping = True
                time.sleep(5)
            if work not in floor:
                floor[work] = noise_floor(cur.run, ns, QEMU_GUEST_IP)
                print(f"  QEMU {work}, no migration for 4 s: late_ms max {floor[work][0]}, "
                      f"ping gap {floor[work][1]:.0f} ms", flush=True)
            for _ in range(RUNS):
                tap ^= 1
                port += 1
                dst = QemuVm(build, ns, tmp, taps[tap], incoming=f"tcp:127.0.0.1:{port}")
                try:
                    cur.run(": > /tmp/cnt")
                    load = loadavg()
                    ping = Pinger(ns, QEMU_GUEST_IP)
                    r = qemu_migrate(cur, dst, port, bw)
                    r["gap"], r["gap_at"] = ping.stop()
                except Exception:
                    dst.stop()
                    raise
                dst.looping = work == "dirty"
                cur.stop()
                cur = dst
                try:
                    cur.p.send("\r")  # the destination's console: a fresh prompt
                    cur.p.expect("# ", timeout=60)
                    r["late"], r["lines"] = counter_late(cur.run(LATE))
                except (pexpect.EOF, pexpect.TIMEOUT, RuntimeError) as e:
                    # QEMU reported the migration completed, but the guest died on the
                    # destination (issue 7 saw QEMU's guest oops after some migrations):
                    # count it, report it, and go on with a freshly booted guest
                    tail = clean(cur.p.before or "")[-300:].strip().replace("\n", " | ")
                    print(f"  QEMU {work}: the guest died on the destination after a "
                          f"completed migration ({type(e).__name__}; console: ...{tail})",
                          flush=True)
                    crashes[(work, bw)] += 1
                    cur.stop()
                    tap ^= 1
                    cur = fresh(tap)
                    if work == "dirty":
                        cur.run(LOOP)
                        cur.looping = True
                        time.sleep(5)
                    continue
                r["load"] = load
                res[(work, bw)].append(r)
                print(f"  QEMU {work} max-bandwidth {r['bw'] / 2**20:.0f} MiB/s: total "
                      f"{r['total']} ms, downtime {r['down']} ms, {r['mib']:.1f} MiB, "
                      f"{r['rounds']} rounds, late_ms max {r['late']}, ping gap {r['gap']:.0f} "
                      f"ms from {r['gap_at']:.2f} s after the start (load {load})", flush=True)
        return res, floor, crashes, " ".join(cur.cmd[:12]) + " ... -incoming tcp:127.0.0.1:PORT"
    finally:
        if cur:
            cur.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# ---- report -------------------------------------------------------------------------------------

def med(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def row(label, rs, link=None):
    f = lambda k: med([r[k] for r in rs])  # noqa: E731
    util = ""
    if link:
        rate = f("mib") / max(f("total"), 1) * 1000
        util = f"{rate:6.2f} MiB/s = {rate / link * 100:3.0f}% of link"
    print(f"{label:44s} {f('total'):9.0f} {f('down'):9.0f} {f('late'):8.0f} {f('gap'):8.0f} "
          f"{f('mib'):9.1f} {f('rounds'):6.0f}  {util}")
    print(f"{'':44s} runs: " + "; ".join(
        f"{r['total']}/{r['down']}/{r['late']}/{r['gap']:.0f} ms {r['mib']:.0f} MiB "
        f"{r['rounds']} rds [load {r['load']}]" for r in rs))


def report(tern, qemu, qfloor, qcmd, qcrash=None):
    print(f"\nlive migration, Debian test guest 256 MiB, 1 vCPU, median of {RUNS} migration(s) "
          "per case; QEMU TCG on a shared 2-core machine: noisy, compare within one run only")
    print(f"{'case':44s} {'total ms':>9s} {'down ms':>9s} {'late_ms':>8s} {'ping ms':>8s} "
          f"{'MiB wire':>9s} {'rounds':>6s}")
    if tern:
        res, (ab, ba, lload) = tern
        lk = (ab + ba) / 2
        for work in WORKS:
            row(f"Tern {work}", res[work], lk)
    if qemu:
        for (work, bw), rs in qemu.items():
            label = (f"{rs[0]['bw'] >> 20} MiB/s" if rs else f"{(bw or 0) >> 20} MiB/s") + (
                " (default)" if bw is None else "")
            if rs:
                row(f"QEMU {work}, max-bandwidth {label}", rs)
            if qcrash and qcrash.get((work, bw)):
                print(f"  QEMU {work}, max-bandwidth {label}: {qcrash[(work, bw)]} more "
                      "migration(s) completed but the guest died on the destination")
    print("\ncolumns: total = migration time (Tern: summary line; QEMU: query-migrate "
          "total-time); down = the hypervisor's own downtime figure; late_ms = largest "
          "tern-counter -i 20 late_ms in the guest during the migration (guest clock); ping = "
          "largest gap between replies to ping -i 0.01 from the namespace (host clock); MiB wire "
          "= Tern: MiB sent (encrypted stream), QEMU: ram.transferred; rounds = Tern: rounds, "
          "QEMU: ram.dirty-sync-count")
    if tern:
        res, (ab, ba, lload) = tern
        print(f"Tern link: a->b {ab:.2f} MiB/s, b->a {ba:.2f} MiB/s (tern> tcp send PEER 9 "
              f"{LINK_BYTES} to the discard service, Tern clock; load {lload}); utilisation = "
              "MiB sent / total time / mean link rate (over 100%: the console's `tcp send` "
              "moved less than the migration stream does over the same link)")
        for work in WORKS:
            for r in res[work]:
                print(f"  {work} {r['dir']}: {r['line']}")
                print(f"  {'':{len(work) + len(r['dir']) + 1}s}  {r['profile']}; max throttle "
                      f"{r['throttle']}%, wall {r['wall']:.1f} s, largest ping gap "
                      f"{r['gap']:.0f} ms starting {r['gap_at']:.1f} s after `migrate`")
        dt = f" downtime={DOWNTIME}" if DOWNTIME else ""
        print(f"  commands: tern a> migrate g b{dt}  (tern b> migrate g a{dt} back); guest: "
              "vm create g "
              "mem=256M vcpus=1 nic=on kernel=vmlinuz initrd=initrd.img cmdline=\""
              f"{guest_cmdline(EXTRA)}\"; Tern hosts: TernHost -smp 2 -m 1024 on taps of a "
              "netns bridge, tern.conf with cluster_key, [peer] and ha = " + ("on" if HA else "off")
              + (f"; MTU {MTU} (bridge, taps, virtio-net-pci host_mtu={MTU}, tern.conf mtu = "
                 f"{MTU})" if MTU != 1500 else "; MTU 1500"))
    if qemu:
        print(f"QEMU: {qcmd}; QMP: migrate-set-parameters max-bandwidth (when not default), "
              "migrate uri=tcp:127.0.0.1:PORT, query-migrate until completed; downtime-limit "
              "300 ms (default)")
    for side, fl in (("Tern", tern and tern[0]["floor"]), ("QEMU", qfloor)):
        for work, (late, gap) in (fl or {}).items():
            print(f"noise floor, {side} {work} guest, 4 s without migrating: late_ms max {late}, "
                  f"ping gap max {gap:.0f} ms")
    print("guest workloads: idle = " + COUNTER + "; dirty = that plus " + LOOP)
    print(f"load average now: {loadavg()}  (uptime: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()})")


def main():
    for f in ("tern.elf", "BOOTX64.EFI", "images/vmlinuz", "images/initrd.img"):
        if not os.path.exists(os.path.join(ROOT, "build", f)):
            raise SystemExit(f"bench_migrate: build/{f} missing (run make)")
    print(f"bench_migrate: load average at start {loadavg()}; {RUNS} migration(s) per case",
          flush=True)
    build = Build()
    ns = NetNS(f"ternbm{os.getpid() % 10000}").create()
    if MTU != 1500:  # a migration network with jumbo frames
        ns.run("ip", "link", "set", "br0", "mtu", str(MTU))
    tern = qemu = qcmd = qfloor = qcrash = None
    try:
        if DO_TERN:
            print("== Tern -> Tern", flush=True)
            tern = tern_side(build, ns)
        if DO_QEMU:
            print("== QEMU -> QEMU", flush=True)
            qemu, qfloor, qcrash, qcmd = qemu_side(build, ns)
    finally:
        ns.destroy()
        build.remove()
    report(tern, qemu, qfloor, qcmd, qcrash)


if __name__ == "__main__":
    main()
