#!/usr/bin/python3
"""Network throughput benchmarks (issue 4; run by `make bench` through tools/bench.sh; not a
test: nothing is asserted about speed, but a transfer that fails or comes back short stops the
run with an error).

All traffic crosses a private network namespace with a Linux bridge (tests/integration/netns.py,
the Linux peer is the bridge's address 169.254.77.254); every emulated machine is QEMU TCG with
its NIC on a tap on that bridge:
  (a) Tern's own TCP stack <-> Linux, for each NIC model Tern drives (virtio-net, e1000,
      e1000e): Linux pushes into Tern's discard service (9) and pulls from its chargen service
      (19) with tests/integration/peer.py (python sockets), and Tern's `tcp send`/`tcp recv`
      console commands talk to tools/guest/tern-bulk running in the namespace;
  (b) Tern -> Tern: `tcp send PEER 9 SIZE` between two Tern hosts (virtio-net) on the bridge;
  (c) the Debian test guest under Tern (virtio-net, nic=on, bridged to the uplink) <-> Linux,
      tern-bulk at both ends;
  (d) the same guest under plain QEMU (its own virtio-net-pci on a tap on the same bridge)
      <-> Linux: the baseline for (c) and for (a)'s virtio-net rows;
  (e) two such plain-QEMU guests, guest -> guest across the bridge: the baseline for (b).
The guest kernel has no e1000/e1000e drivers (docs/guest.md), so the e1000 rows have no Linux
baseline. MB/s are decimal megabytes per second measured on the Linux side with the host's
monotonic clock, unless the row says "Tern clock" (Tern's own `tcp send/recv` report).

Knobs: BENCH_NET_BYTES (default 8388608 per transfer), BENCH_RUNS (default 2; every run is
printed, the best one is used for the ratios), BENCH_NET_MODELS (default
"virtio-net-pci,e1000,e1000e"), BENCH_NET_GUESTS=0 skips (c), (d) and (e).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from netns import PEER_IP, NetNS  # noqa: E402
from ternhost import ROOT, TernHost, clean, guest_cmdline  # noqa: E402

NBYTES = int(os.environ.get("BENCH_NET_BYTES", str(8 << 20)))
RUNS = int(os.environ.get("BENCH_RUNS", "2"))
MODELS = os.environ.get("BENCH_NET_MODELS", "virtio-net-pci,e1000,e1000e").split(",")
GUESTS = os.environ.get("BENCH_NET_GUESTS", "1") != "0"
EXTRA = "tern.modules=1 tern.quiet=1"
PEER = os.path.join(ROOT, "tests", "integration", "peer.py")
BULK = os.path.join(ROOT, "build", "guest", "bin", "tern-bulk")
TA_IP, TB_IP = "169.254.77.1", "169.254.77.2"
GUEST_IP = {"tern": "169.254.77.101", "q1": "169.254.77.111", "q2": "169.254.77.112"}
XFER_TIMEOUT = max(180, NBYTES // 50000)  # generous: 50 kB/s would still finish

results = []  # (key, case, MB/s list, command, load averages)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def record(key, case, rates, command, loads):
    results.append((key, case, rates, command, loads))
    print(f"  {case}: {' '.join(f'{r:.2f}' for r in rates)} MB/s (load {'; '.join(loads)})",
          flush=True)


def best(key):
    for k, _, rates, _, _ in results:
        if k == key:
            return max(rates)
    return None


# ---- build snapshot: other people rebuild build/ while this runs ----------------------------

class Build:
    """Copies of the loader, kernel and guest images taken at start, and images made from them."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-net-")
        for f in ("BOOTX64.EFI", "tern.elf"):
            shutil.copy(os.path.join(ROOT, "build", f), self.dir)
        self.images = os.path.join(self.dir, "images")
        shutil.copytree(os.path.join(ROOT, "build", "images"), self.images)
        self.noimages = os.path.join(self.dir, "noimages")
        os.mkdir(self.noimages)

    def image(self, name, conf, guests=False):
        d = os.path.join(self.dir, name)
        os.mkdir(d)
        with open(os.path.join(d, "tern.conf"), "w") as f:
            f.write(conf)
        out = os.path.join(d, "tern.img")
        subprocess.run([os.path.join(ROOT, "tools", "mkimage.sh"), out,
                        os.path.join(self.dir, "BOOTX64.EFI"), os.path.join(self.dir, "tern.elf"),
                        os.path.join(d, "tern.conf"), self.images if guests else self.noimages],
                       check=True, capture_output=True)
        return out

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- Linux side ---------------------------------------------------------------------------------

def peer(ns, *args):
    """tests/integration/peer.py in the namespace; returns its RESULT fields."""
    r = ns.run("/usr/bin/python3", PEER, *map(str, args), check=False, timeout=XFER_TIMEOUT)
    m = re.search(r"^RESULT (.*)$", r.stdout, re.M)
    if r.returncode or not m:
        raise RuntimeError(f"peer.py {args} failed: {r.stdout}{r.stderr}")
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def bulk_listen(ns, port):
    """tern-bulk recv PORT in the namespace, listening when this returns."""
    p = ns.popen(BULK, "recv", str(port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                 text=True)
    line = p.stdout.readline()
    if not line.startswith("TERN-BULK listening"):
        p.kill()
        raise RuntimeError(f"tern-bulk recv {port}: {line}{p.communicate()[0]}")
    return p


def bulk_result(p, nbytes=NBYTES):
    """Waits for a namespace tern-bulk recv; its MB/s, checking every byte arrived intact."""
    try:
        out = p.communicate(timeout=XFER_TIMEOUT)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        raise RuntimeError("tern-bulk recv in the namespace timed out")
    m = re.search(r"TERN-BULK received=(\d+) bad=(\d+) seconds=\S+ mbps=([\d.]+)", out)
    if not m or int(m.group(1)) != nbytes or m.group(2) != "0":
        raise RuntimeError(f"tern-bulk recv: {out!r}")
    return float(m.group(3))


def bulk_send(ns, ip, port, nbytes=NBYTES):
    """tern-bulk send from the namespace; its MB/s (until the receiver has closed)."""
    r = ns.run(BULK, "send", ip, str(port), str(nbytes), check=False, timeout=XFER_TIMEOUT)
    m = re.search(rf"TERN-BULK sent={nbytes} seconds=\S+ mbps=([\d.]+)", r.stdout)
    if r.returncode or not m:
        raise RuntimeError(f"tern-bulk send {ip} {port}: {r.stdout}{r.stderr}")
    return float(m.group(1))


def guest_bulk_check(out, nbytes=NBYTES):
    m = re.search(r"TERN-BULK received=(\d+) bad=(\d+)", out)
    if not m or int(m.group(1)) != nbytes or m.group(2) != "0":
        raise RuntimeError(f"tern-bulk recv in the guest: {out!r}")


# ---- (a) Tern's stack <-> Linux -----------------------------------------------------------------

def tern_cmd_rate(h, line, what):
    """Runs `tcp send/recv` on a Tern console; (Tern's MB/s, wall-clock MB/s)."""
    t0 = time.monotonic()
    out = h.cmd(line, timeout=XFER_TIMEOUT)
    wall = time.monotonic() - t0
    m = re.search(rf"{what} (\d+) bytes in [\d.]+ s \(([\d.]+) MB/s\)", out)
    if not m or int(m.group(1)) != NBYTES or "error" in out or "BAD" in out:
        raise RuntimeError(f"{h.name}: {line}: {out}")
    return float(m.group(2)), NBYTES / wall / 1e6


def bench_tern_stack(h, ns, model, ip):
    """(a) for the host h (NIC model `model`, address ip)."""
    ns_ = f"ip netns exec {ns.name}"
    cases = {"push": [], "pull": [], "send": [], "send_t": [], "recv_t": [], "recv_w": []}
    loads = []
    for _ in range(RUNS):
        loads.append(loadavg())
        r = peer(ns, "push", ip, 9, NBYTES)
        if int(r["bytes"]) != NBYTES:
            raise RuntimeError(f"push: {r}")
        cases["push"].append(float(r["mbps"]))
        r = peer(ns, "pull", ip, 19, NBYTES)
        if int(r["bytes"]) < NBYTES or r["lines_ok"] != "1":
            raise RuntimeError(f"pull: {r}")
        cases["pull"].append(float(r["mbps"]))
        p = bulk_listen(ns, 5001)
        tern_rate, _ = tern_cmd_rate(h, f"tcp send {PEER_IP} 5001 {NBYTES}", "sent")
        cases["send"].append(bulk_result(p))
        cases["send_t"].append(tern_rate)
        # Tern pulls: `tcp recv` connects to a tern-bulk sender... which only connects out, so
        # the Linux side is peer.py serve-send (python, same pattern) here.
        p = ns.popen("/usr/bin/python3", PEER, "serve-send", "5002", str(NBYTES),
                     stdout=subprocess.PIPE, text=True)
        if p.stdout.readline().strip() != "LISTENING":
            raise RuntimeError("peer.py serve-send did not listen")
        tern_rate, wall = tern_cmd_rate(h, f"tcp recv {PEER_IP} 5002", "received")
        p.wait(timeout=60)
        cases["recv_t"].append(tern_rate)
        cases["recv_w"].append(wall)
    m = model.replace("-pci", "")
    record(f"a-{m}-push", f"[a] {m:10s} Linux -> Tern discard", cases["push"],
           f"{ns_} python3 tests/integration/peer.py push {ip} 9 {NBYTES}", loads)
    record(f"a-{m}-pull", f"[a] {m:10s} Tern -> Linux chargen", cases["pull"],
           f"{ns_} python3 tests/integration/peer.py pull {ip} 19 {NBYTES}", loads)
    record(f"a-{m}-send", f"[a] {m:10s} Tern -> Linux tcp send", cases["send"],
           f"tern> tcp send {PEER_IP} 5001 {NBYTES}  |  {ns_} build/guest/bin/tern-bulk recv "
           f"5001 (Linux clock; Tern's own report: "
           f"{' '.join('%.2f' % x for x in cases['send_t'])} MB/s)", loads)
    record(f"a-{m}-recv", f"[a] {m:10s} Linux -> Tern tcp recv (Tern clock)", cases["recv_t"],
           f"tern> tcp recv {PEER_IP} 5002  |  {ns_} python3 tests/integration/peer.py "
           f"serve-send 5002 {NBYTES} (wall clock around the console command incl. connect: "
           f"{' '.join('%.2f' % x for x in cases['recv_w'])} MB/s)", loads)


def tern_host(build, ns, name, model, ip, mem=512, guests=False):
    conf = f"node = {name}\nip = {ip}/24\n"
    tap = f"tapn{name[-6:]}"
    h = TernHost(f"bnet-{name}", image=build.image(name, conf, guests), smp=2, mem=mem,
                 netns=ns, nics=[ns.add_tap(tap)], nic_model=model, boot_timeout=300)
    h.start()
    return h


def check_nic(h, model):
    want = {"virtio-net-pci": "virtio-net", "e1000": "e1000 (82540EM)",
            "e1000e": "e1000e (82574L)"}[model]
    out = h.cmd("ip")
    if f"eth0: {want}, link up" not in out:
        raise RuntimeError(f"{h.name}: NIC {want} not up: {out}")


def bench_e1000s(build, ns):
    for model in MODELS:
        if model == "virtio-net-pci":
            continue
        print(f"== (a) Tern's stack <-> Linux, {model}", flush=True)
        h = tern_host(build, ns, model.replace("-", ""), model, TA_IP)
        try:
            h.boot()
            check_nic(h, model)
            bench_tern_stack(h, ns, model, TA_IP)
        finally:
            h.stop()


# ---- (b) Tern -> Tern and (c) guest under Tern --------------------------------------------------

def bench_virtio_hosts(build, ns):
    ta = tern_host(build, ns, "ta", "virtio-net-pci", TA_IP, mem=1024, guests=GUESTS)
    tb = tern_host(build, ns, "tb", "virtio-net-pci", TB_IP)
    try:
        ta.boot()
        tb.boot()
        check_nic(ta, "virtio-net-pci")
        check_nic(tb, "virtio-net-pci")
        if "virtio-net-pci" in MODELS:
            print("== (a) Tern's stack <-> Linux, virtio-net", flush=True)
            bench_tern_stack(ta, ns, "virtio-net-pci", TA_IP)
        print("== (b) Tern -> Tern over the bridge (virtio-net both)", flush=True)
        for src, dst, ip in ((ta, tb, TB_IP), (tb, ta, TA_IP)):
            t, w, loads = [], [], []
            for _ in range(RUNS):
                loads.append(loadavg())
                before = tcp_rx_bytes(dst)
                rt, rw = tern_cmd_rate(src, f"tcp send {ip} 9 {NBYTES}", "sent")
                if tcp_rx_bytes(dst) - before < NBYTES:
                    raise RuntimeError(f"{dst.name} did not receive {NBYTES} bytes")
                t.append(rt)
                w.append(rw)
            record(f"b-{src.name}", f"[b] Tern {src.name[-2:]} -> Tern {dst.name[-2:]} "
                   "tcp send to discard (Tern clock)", t,
                   f"tern {src.name[-2:]}> tcp send {ip} 9 {NBYTES} (wall clock around the "
                   f"console command: {' '.join('%.2f' % x for x in w)} MB/s)", loads)
        if GUESTS:
            bench_tern_guest(ta, ns)
    finally:
        ta.stop()
        tb.stop()


def tcp_rx_bytes(h):
    out = h.cmd("net stats")
    return int(re.search(r"^\s+tcp\s+rx\s+\d+ pkts\s+(\d+) bytes", out, re.M).group(1))


def guest_run(h, vm, command, timeout=120):
    out = h.guest_run(vm, f"{command}; echo rc=$?", timeout=timeout)
    if "rc=0" not in out:
        raise RuntimeError(f"{vm}: {command}: {out}")
    return out


def bench_tern_guest(h, ns):
    print("== (c) Debian guest under Tern (virtio-net, bridged) <-> Linux", flush=True)
    ip = GUEST_IP["tern"]
    out = h.cmd(f'vm create g mem=256M vcpus=1 kernel=vmlinuz initrd=initrd.img nic=on '
                f'mac=52:54:00:00:77:65 cmdline="{guest_cmdline(EXTRA)}"')
    if "created VM g" not in out:
        raise RuntimeError(out)
    h.cmd("vm start g")
    h.wait_guest_ready("g")
    guest_run(h, "g", f"ip addr add {ip}/24 dev eth0 && ip link set eth0 up")
    guest_run(h, "g", f"ping -c 2 -W 5 {PEER_IP}", timeout=60)
    out_rates, in_rates, guest_said, loads = [], [], [], []
    for _ in range(RUNS):
        loads.append(loadavg())
        p = bulk_listen(ns, 5003)
        out = guest_run(h, "g", f"tern-bulk send {PEER_IP} 5003 {NBYTES}", timeout=XFER_TIMEOUT)
        out_rates.append(bulk_result(p))
        guest_said.append(re.search(r"mbps=([\d.]+)", out).group(1))
        guest_run(h, "g", "(tern-bulk recv 5004 > /tmp/bulk.log 2>&1 &) ; sleep 1")
        in_rates.append(bulk_send(ns, ip, 5004))
        guest_bulk_check(guest_run(h, "g", "sleep 1; cat /tmp/bulk.log"))
    ns_ = f"ip netns exec {ns.name}"
    record("c-out", "[c] guest under Tern -> Linux", out_rates,
           f"guest: tern-bulk send {PEER_IP} 5003 {NBYTES}  |  {ns_} build/guest/bin/tern-bulk "
           f"recv 5003 (guest's own clock said {' '.join(guest_said)} MB/s); guest: vm create g "
           "mem=256M vcpus=1 nic=on on Tern -smp 2 -m 1024, virtio-net uplink", loads)
    record("c-in", "[c] Linux -> guest under Tern", in_rates,
           f"{ns_} build/guest/bin/tern-bulk send {ip} 5004 {NBYTES}  |  guest: tern-bulk recv "
           "5004", loads)


# ---- (d), (e) the same guest under plain QEMU ---------------------------------------------------

class QemuGuest:
    """The test guest directly under QEMU TCG in the namespace, NIC on a tap, console on stdio."""

    def __init__(self, build, ns, name, tap, mac):
        self.name = name
        self.cmd = ["qemu-system-x86_64", "-machine",
                    "q35,accel=tcg,i8042=off,hpet=off,sata=off,smbus=off,usb=off",
                    "-cpu", "EPYC-Rome", "-m", "256", "-smp", "1", "-nodefaults", "-vga", "none",
                    "-nographic", "-serial", "mon:stdio", "-no-reboot",
                    "-kernel", os.path.join(build.images, "vmlinuz"),
                    "-initrd", os.path.join(build.images, "initrd.img"),
                    "-append", guest_cmdline(EXTRA),
                    "-netdev", ns.add_tap(tap) + ",id=n0",
                    "-device", f"virtio-net-pci,netdev=n0,mac={mac}"]
        full = ["ip", "netns", "exec", ns.name] + self.cmd
        self.log = open(os.path.join(ROOT, "build", "test-logs", f"bench-net-{name}.log"), "w")
        self.p = pexpect.spawn(full[0], full[1:], encoding="utf-8", codec_errors="replace",
                               timeout=300)
        self.p.logfile_read = self.log
        self.n = 0

    def ready(self):
        self.p.expect("TERN-GUEST-READY", timeout=300)
        self.p.expect("# ", timeout=60)
        return self

    def run(self, command, timeout=120):
        self.n += 1
        tag = f"QN{self.n}x{os.getpid() % 1000}"
        self.p.send(f"echo {tag}B; {command}; echo rc=$?; echo {tag}E\r")
        self.p.expect(rf"\n{tag}B\r*\n", timeout=timeout)
        self.p.expect(rf"{tag}E\r*\n", timeout=timeout)
        out = clean(self.p.before)
        if "rc=0" not in out:
            raise RuntimeError(f"{self.name}: {command}: {out}")
        return out

    def stop(self):
        self.p.terminate(force=True)
        self.log.close()


def bench_qemu_guests(build, ns):
    print("== (d) the same guest under plain QEMU (virtio-net-pci on a tap) <-> Linux; "
          "(e) guest -> guest", flush=True)
    q1 = QemuGuest(build, ns, "q1", "tapq1", "52:54:00:00:77:6f")
    q2 = QemuGuest(build, ns, "q2", "tapq2", "52:54:00:00:77:70")
    try:
        for q in (q1, q2):
            q.ready()
            q.run(f"ip addr add {GUEST_IP[q.name]}/24 dev eth0 && ip link set eth0 up")
        q1.run(f"ping -c 2 -W 5 {PEER_IP}", timeout=60)
        q1.run(f"ping -c 2 -W 5 {GUEST_IP['q2']}", timeout=60)
        ip = GUEST_IP["q1"]
        out_rates, in_rates, gg_rates, loads = [], [], [], []
        for _ in range(RUNS):
            loads.append(loadavg())
            p = bulk_listen(ns, 5003)
            q1.run(f"tern-bulk send {PEER_IP} 5003 {NBYTES}", timeout=XFER_TIMEOUT)
            out_rates.append(bulk_result(p))
            q1.run("(tern-bulk recv 5004 > /tmp/bulk.log 2>&1 &) ; sleep 1")
            in_rates.append(bulk_send(ns, ip, 5004))
            guest_bulk_check(q1.run("sleep 1; cat /tmp/bulk.log"))
            q2.run("(tern-bulk recv 5005 > /tmp/bulk.log 2>&1 &) ; sleep 1")
            out = q1.run(f"tern-bulk send {GUEST_IP['q2']} 5005 {NBYTES}", timeout=XFER_TIMEOUT)
            gg_rates.append(float(re.search(r"mbps=([\d.]+)", out).group(1)))
            guest_bulk_check(q2.run("sleep 1; cat /tmp/bulk.log"))
        ns_ = f"ip netns exec {ns.name}"
        qcmd = f"{ns_} qemu-system-x86_64 {' '.join(q1.cmd[1:12])} ... -netdev tap,... " \
            "-device virtio-net-pci"
        record("d-out", "[d] guest under QEMU -> Linux", out_rates,
               f"guest: tern-bulk send {PEER_IP} 5003 {NBYTES}  |  {ns_} "
               f"build/guest/bin/tern-bulk recv 5003; {qcmd}", loads)
        record("d-in", "[d] Linux -> guest under QEMU", in_rates,
               f"{ns_} build/guest/bin/tern-bulk send {ip} 5004 {NBYTES}  |  guest: tern-bulk "
               "recv 5004", loads)
        record("e", "[e] guest under QEMU -> guest under QEMU (guest clock)", gg_rates,
               f"guest q1: tern-bulk send {GUEST_IP['q2']} 5005 {NBYTES}  |  guest q2: "
               "tern-bulk recv 5005 (two QEMU processes, taps on the same bridge)", loads)
    finally:
        q1.stop()
        q2.stop()


# ---- report -------------------------------------------------------------------------------------

def report():
    print(f"\nnetwork throughput, {NBYTES} bytes per transfer, {RUNS} run(s) each, MB/s = 1e6 "
          "bytes/s; QEMU TCG on a shared 2-core machine: noisy, compare within one run only")
    print(f"{'case':58s} {'best':>8s}  runs")
    for key, case, rates, command, loads in results:
        print(f"{case:58s} {max(rates):8.2f}  {' '.join('%.2f' % r for r in rates)}   "
              f"[load {'; '.join(loads)}]")
        print(f"    {command}")
    print("\nratios (best runs):")
    rows = (("Tern stack -> Linux (virtio, tcp send) / QEMU guest -> Linux", "a-virtio-net-send",
             "d-out"),
            ("Linux -> Tern stack (virtio, discard) / Linux -> QEMU guest", "a-virtio-net-push",
             "d-in"),
            ("Tern -> Tern / QEMU guest -> QEMU guest", "b-bnet-ta", "e"),
            ("guest under Tern -> Linux / guest under QEMU -> Linux", "c-out", "d-out"),
            ("Linux -> guest under Tern / Linux -> guest under QEMU", "c-in", "d-in"))
    for what, a, b in rows:
        x, y = best(a), best(b)
        if x is not None and y is not None:
            print(f"  {what:62s} {x:6.2f} / {y:6.2f} = {x / y:5.2f}")
    for m in ("e1000", "e1000e"):
        x, y = best(f"a-{m}-send"), best("a-virtio-net-send")
        if x is not None and y is not None:
            print(f"  {'Tern stack -> Linux, ' + m + ' / virtio-net':62s} {x:6.2f} / {y:6.2f} = "
                  f"{x / y:5.2f}  (no Linux baseline: the guest kernel has no {m} driver)")
    print(f"load average now: {loadavg()}  (uptime: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()})")


def main():
    for f in (BULK, os.path.join(ROOT, "build", "tern.elf"),
              os.path.join(ROOT, "build", "images", "vmlinuz")):
        if not os.path.exists(f):
            raise SystemExit(f"bench_net: {f} missing (run make)")
    print(f"bench_net: load average at start {loadavg()}; {NBYTES} bytes per transfer, "
          f"{RUNS} run(s)", flush=True)
    build = Build()
    ns = NetNS(f"ternbn{os.getpid() % 10000}").create()
    try:
        bench_e1000s(build, ns)
        bench_virtio_hosts(build, ns)
        if GUESTS:
            bench_qemu_guests(build, ns)
    finally:
        ns.destroy()
        build.remove()
    report()


if __name__ == "__main__":
    main()
