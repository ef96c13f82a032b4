"""HA membership (issue 8, membership half; docs/ha.md).

Three Tern hosts a, b, c (169.254.77.1-3) on a netns bridge, each with the other two as
[peer]s and a shared cluster key: heartbeats converge to a quorate view; forged heartbeats
(wrong key, sent from the bridge by a small Python sender) are dropped and counted; c cut off
the bridge (its tap down) loses quorum and fences while a and b keep it; healed, all rejoin;
c's watchdog (QEMU i6300esb) resets it when its agent is frozen; killing c's QEMU is seen as
"member c dead" on a and b within about a second (measured). Then two hosts d, e with the
ternwitness on the bridge address: killing one leaves the survivor quorate thanks to the
witness vote. Hosts are small (smp=1, 512 MiB) and boot once per group.
"""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

from netns import PEER_IP, NetNS
from ternhost import ROOT, TernHost, image_with_conf

KEY = "hex:" + "3c" * 32
WRONG_KEY = bytes([0xc3] * 32)
IPS = {"a": "169.254.77.1", "b": "169.254.77.2", "c": "169.254.77.3",
       "d": "169.254.77.4", "e": "169.254.77.5"}
WITNESS = os.path.join(ROOT, "build", "ternwitness")
WDT_ARGS = ["-device", "i6300esb", "-action", "watchdog=reset", "-action", "reboot=reset"]


def conf(me, others, extra=""):
    text = f"node = {me}\nip = {IPS[me]}/24\ncluster_key = {KEY}\nservices = none\n{extra}"
    for o in others:
        text += f"[peer {o}]\naddress = {IPS[o]}\n"
    return text


def make_host(name, others, ns, tmp, extra="", args=()):
    img = image_with_conf(conf(name, others, extra), str(tmp))
    return TernHost(f"hm-{name}", image=img, smp=1, mem=512, netns=ns,
                    nics=[ns.add_tap(f"taphm{name}")], extra_args=list(args))


def status(h):
    return h.cmd("ha status")


def wait_quorum(h, votes, total, timeout=30):
    """Poll `ha status` until it shows quorum yes with the given votes."""
    end = time.monotonic() + timeout
    out = ""
    while time.monotonic() < end:
        out = status(h)
        if f"quorum: yes ({votes} of {total} votes)" in out:
            return out
        time.sleep(0.5)
    raise AssertionError(f"{h.name}: no quorum {votes}/{total}:\n{out}")


# ---- a forger: real protocol framing and crypto, wrong key -----------------------------------

def _kdf(key, sender, inc):
    from hashlib import blake2s
    label = b"tern hb v1"
    prk = blake2s(label, key=key).digest()
    info = label + b"\0" + struct.pack("<IQ", sender, inc)
    okm, t, i = b"", b"", 1
    while len(okm) < 44:
        t = blake2s(t + info + bytes([i]), key=prk).digest()
        okm += t
        i += 1
    return okm[:32], okm[32:44]


def forged_heartbeat(key, sender_ip, inc, seq, name="b"):
    """A heartbeat built exactly as ha/hb_wire.c builds it, sealed under key."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    sender = struct.unpack("!I", socket.inet_aton(sender_ip))[0]
    k, iv = _kdf(key, sender, inc)
    nb = name.encode()
    payload = struct.pack("<BBHIQQQIIQ", 1, 0, 200, sender, inc, int(time.time() * 1000), 1000,
                          0, 1000, 0) + bytes([len(nb)]) + nb + bytes([0])
    hdr = struct.pack("<BBHIQ", 1, 1, 0, sender, seq)
    nonce = bytes(a ^ b for a, b in zip(iv, b"\0\0\0\0" + struct.pack("<Q", seq)))
    sealed = ChaCha20Poly1305(k).encrypt(nonce, payload, hdr)
    return b"THB1" + struct.pack("<IQ", sender, inc) + hdr + sealed


FORGER = r"""
import socket, sys
data = open(sys.argv[1], "rb").read().split(b"\n--\n")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in data:
    s.sendto(d, (sys.argv[2], 7701))
"""


def qmp_events(h):
    """A second QMP client on h (events only; the host's own client is not used here)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(h.dir, "qmp.sock"))
    sock.settimeout(60)
    f = sock.makefile("rw")
    json.loads(f.readline())
    f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
    f.flush()
    json.loads(f.readline())
    return f


def wait_event(f, name, timeout):
    """Block until QMP event name arrives; returns time.monotonic() at its arrival."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = f.readline()
        if line and json.loads(line).get("event") == name:
            return time.monotonic()
    raise AssertionError(f"no QMP {name} event")


def forged_count(out):
    m = re.search(r"dropped: (\d+) forged", out)
    assert m, out
    return int(m.group(1))


# ---- three hosts ---------------------------------------------------------------------------------

@pytest.fixture(scope="class")
def trio(tmp_path_factory):
    with NetNS() as ns:
        names = ["a", "b", "c"]
        hosts = {}
        for n in names:
            others = [o for o in names if o != n]
            hosts[n] = make_host(n, others, ns, tmp_path_factory.mktemp(n),
                                 args=WDT_ARGS if n == "c" else ())
        for h in hosts.values():
            h.start()
        for h in hosts.values():
            h.boot()
        yield hosts, ns, tmp_path_factory.mktemp("forge")
        for h in hosts.values():
            h.stop()


class TestThreeHosts:
    def test_converge(self, trio):
        hosts, ns, _ = trio
        t0 = time.monotonic()
        for h in hosts.values():
            out = wait_quorum(h, 3, 3)
        print(f"membership converged {time.monotonic() - t0:.1f} s after the last boot")
        assert re.search(r"b\s+169\.254\.77\.2\s+alive\s+1", out), out
        assert "watchdog: i6300esb armed" in out  # c has the device
        assert "watchdog: none" in status(hosts["a"])
        peers = hosts["a"].cmd("peers")
        assert re.search(r"c\s+169\.254\.77\.3\s+alive\s+\d+ ms\s+yes", peers), peers
        log = hosts["a"].cmd("log")
        assert "ha: member b joined" in log and "ha: quorum gained" in log

    def test_forged_heartbeats_ignored(self, trio):
        hosts, ns, tmp = trio
        a = hosts["a"]
        before = forged_count(status(a))
        inc_b = int(re.search(r"incarnation ([0-9a-f]+)", status(hosts["b"])).group(1), 16)
        # 40 heartbeats claiming to be b under a wrong key: 20 with a fresh incarnation (key
        # derivation path), 20 with sequence numbers far ahead (tag check path).
        pkts = [forged_heartbeat(WRONG_KEY, IPS["b"], (1 << 60) + i, 5) for i in range(20)]
        pkts += [forged_heartbeat(WRONG_KEY, IPS["b"], inc_b, 10 ** 9 + i) for i in range(20)]
        path = os.path.join(str(tmp), "forged.bin")
        with open(path, "wb") as f:
            f.write(b"\n--\n".join(pkts))
        script = os.path.join(str(tmp), "forge.py")
        with open(script, "w") as f:
            f.write(FORGER)
        ns.run(sys.executable, script, path, IPS["a"])
        time.sleep(1)
        out = status(a)
        after = forged_count(out)
        print(f"forged heartbeats dropped: {after - before} of {len(pkts)}")
        assert after - before >= 38, out  # (UDP on a bridge; allow a stray loss)
        assert "quorum: yes (3 of 3 votes)" in out, out
        assert "rebooted" not in a.cmd("log")

    def test_maintenance_flag_travels(self, trio):
        hosts, ns, _ = trio
        a, b = hosts["a"], hosts["b"]
        assert "maintenance on" in a.cmd("node maintenance on")
        b.expect(r"ha: a maintenance on", timeout=10)
        assert re.search(r"\n  a\s+169\.254\.77\.1\s+alive\s+1\s+\d+ ms\s+on", status(b))
        assert "quorum: yes (3 of 3 votes)" in status(b)  # maintenance keeps the vote
        a.cmd("node maintenance off")
        b.expect(r"ha: a maintenance off", timeout=10)

    def test_partition_fences_minority(self, trio):
        hosts, ns, _ = trio
        a, b, c = hosts["a"], hosts["b"], hosts["c"]
        t0 = time.monotonic()
        ns.set_link("taphmc", False)
        c.expect(r"ha: quorum LOST \(1 of 3 votes\)", timeout=20)
        t_lost = time.monotonic() - t0
        c.expect(r"ha: fenced \(HA guests paused\) in (\d+) ms", timeout=10)
        fence_ms = int(c.con.match.group(1))
        a.expect(r"ha: member c dead", timeout=20)
        b.expect(r"ha: member c dead", timeout=20)
        print(f"partition: c lost quorum {t_lost:.2f} s after its link went down, "
              f"fenced in {fence_ms} ms")
        assert "quorum: yes (2 of 3 votes)" in status(a)
        assert "quorum: yes (2 of 3 votes)" in status(b)
        out = status(c)
        assert "quorum: NO (1 of 3 votes)" in out, out
        assert "fenced: 1 times" in out, out
        ns.set_link("taphmc", True)
        t0 = time.monotonic()
        c.expect(r"ha: quorum gained", timeout=30)
        print(f"heal: c quorate again {time.monotonic() - t0:.2f} s after its link came up")
        for h in (a, b, c):
            wait_quorum(h, 3, 3)

    def test_watchdog_resets_frozen_host(self, trio):
        hosts, ns, _ = trio
        a, c = hosts["a"], hosts["c"]
        assert "i6300esb armed, resets the host after 2000 ms" in status(c)
        qmp = qmp_events(c)
        t0 = time.monotonic()
        c.send("ha agent-freeze\r")
        c.expect("agent frozen")
        t_fired = wait_event(qmp, "WATCHDOG", 30) - t0
        c.expect("Tern hypervisor starting", timeout=60)
        t_banner = time.monotonic() - t0
        a.expect(r"ha: member c dead", timeout=20)
        c.expect("tern> ", timeout=180)
        print(f"watchdog: frozen agent -> i6300esb fired after {t_fired:.2f} s "
              f"(timeout 2.0 s), fresh boot banner after {t_banner:.2f} s")
        assert t_fired < 4.0, t_fired
        assert "the last reset was caused by the watchdog" in status(c)
        a.expect(r"ha: member c rebooted", timeout=60)
        for h in hosts.values():
            wait_quorum(h, 3, 3, timeout=60)
        qmp.close()

    def test_kill_detected_within_2s(self, trio):
        hosts, ns, _ = trio
        a, b, c = hosts["a"], hosts["b"], hosts["c"]
        wait_quorum(a, 3, 3)
        a.cmd("log")  # flush
        t0 = time.monotonic()
        c.kill()
        a.expect(r"ha: member c dead \(silent (\d+) ms\)", timeout=20)
        ta, silent_a = time.monotonic() - t0, int(a.con.match.group(1))
        b.expect(r"ha: member c dead \(silent (\d+) ms\)", timeout=20)
        tb, silent_b = time.monotonic() - t0, int(b.con.match.group(1))
        print(f"kill c: a logged it dead after {ta:.2f} s (silent {silent_a} ms), "
              f"b after {tb:.2f} s (silent {silent_b} ms)")
        assert ta < 2.5 and tb < 2.5, (ta, tb)
        assert "quorum: yes (2 of 3 votes)" in status(a)


# ---- two hosts and the witness ---------------------------------------------------------------

@pytest.fixture(scope="class")
def duo(tmp_path_factory):
    assert os.access(WITNESS, os.X_OK), "make ternwitness first"
    with NetNS() as ns:
        wlog = open(os.path.join(ROOT, "build", "test-logs", "ternwitness.log"), "w")
        witness = ns.popen(WITNESS, "-k", KEY, "-l", "400", stdout=wlog, stderr=wlog)
        extra = f"witness = {PEER_IP}:7701\n"
        d = make_host("d", ["e"], ns, tmp_path_factory.mktemp("d"), extra)
        e = make_host("e", ["d"], ns, tmp_path_factory.mktemp("e"), extra)
        d.start()
        e.start()
        d.boot()
        e.boot()
        yield d, e, ns
        d.stop()
        e.stop()
        witness.terminate()
        witness.wait(timeout=10)
        wlog.close()


class TestWitness:
    def test_witness_votes(self, duo):
        d, e, ns = duo
        out = wait_quorum(d, 3, 3)
        assert re.search(r"witness 169\.254\.77\.254:7701: up, vote counted \(holder d\)", out), out
        wait_quorum(e, 3, 3)

    def test_survivor_keeps_quorum(self, duo):
        d, e, ns = duo
        # Kill the host that holds the witness vote (the hardest case: the vote must move).
        holder = re.search(r"vote counted \(holder (\w+)\)", status(e)).group(1)
        victim, survivor = (d, e) if holder == "d" else (e, d)
        vname = victim.name[-1]
        survivor.cmd("log")
        t0 = time.monotonic()
        victim.kill()
        survivor.expect(rf"ha: member {vname} dead \(silent (\d+) ms\)", timeout=20)
        print(f"kill {vname} (witness vote holder): survivor logged it dead after "
              f"{time.monotonic() - t0:.2f} s (silent {survivor.con.match.group(1)} ms)")
        time.sleep(1)
        out = status(survivor)
        assert "quorum: yes (2 of 3 votes)" in out, out
        assert f"vote counted (holder {survivor.name[-1]})" in out, out
        log = survivor.cmd("log")
        tail = log[log.rfind("ha status"):]
        assert "quorum LOST" not in log, log
        assert "fenced" not in log, log
