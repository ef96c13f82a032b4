"""A private test network: a Linux network namespace with a bridge, tap devices for Tern
hosts' NICs, and the bridge's own address as the Linux peer (169.254.77.254/24)."""
import os
import re
import subprocess

PEER_IP = "169.254.77.254"
PREFIX = 24
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer.py")


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class NetNS:
    def __init__(self, name=None):
        self.name = name or f"ternt{os.getpid() % 100000}"
        self.taps = []

    def create(self):
        sh("ip", "netns", "del", self.name, check=False)
        sh("ip", "netns", "add", self.name)
        self.run("ip", "link", "set", "lo", "up")
        self.run("ip", "link", "add", "br0", "type", "bridge")
        self.run("ip", "addr", "add", f"{PEER_IP}/{PREFIX}", "dev", "br0")
        self.run("ip", "link", "set", "br0", "up")
        return self

    def run(self, *cmd, check=True, timeout=120):
        """A command inside the namespace."""
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], check=check,
                              capture_output=True, text=True, timeout=timeout)

    def popen(self, *cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], **kw)

    def add_tap(self, name, mtu=None):
        """A tap on the bridge; QEMU opens it with -netdev tap,ifname=NAME."""
        self.run("ip", "tuntap", "add", "dev", name, "mode", "tap")
        if mtu:
            self.run("ip", "link", "set", name, "mtu", str(mtu))
        self.run("ip", "link", "set", name, "master", "br0")
        self.run("ip", "link", "set", name, "up")
        self.taps.append(name)
        return f"tap,ifname={name},script=no,downscript=no"

    def peer(self, *args, timeout=180):
        """peer.py run to its end in the namespace; the fields of its RESULT line."""
        return peer_result(self.run("/usr/bin/python3", PEER, *map(str, args),
                                    timeout=timeout).stdout)

    def peer_serve(self, *args):
        """peer.py serve-* in the background, once it listens; peer_wait collects it."""
        p = self.popen("/usr/bin/python3", PEER, *map(str, args), stdout=subprocess.PIPE,
                       text=True)
        assert p.stdout.readline().strip() == "LISTENING"
        return p

    def set_link(self, name, up):
        self.run("ip", "link", "set", name, "up" if up else "down")

    def destroy(self):
        sh("ip", "netns", "del", self.name, check=False)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()


def peer_result(out):
    """The key=value fields of peer.py's RESULT line in out."""
    m = re.search(r"^RESULT (.*)$", out, re.M)
    assert m, out
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def peer_wait(p, timeout=60):
    """A peer_serve process's RESULT fields, once it ends."""
    return peer_result(p.communicate(timeout=timeout)[0])


def tern_sends_to_linux(tern, ns, port, nbytes):
    """Tern's `tcp send` to peer.py serve-recv: everything arrives, in the pattern."""
    p = ns.peer_serve("serve-recv", port)
    out = tern.cmd(f"tcp send {PEER_IP} {port} {nbytes}", timeout=120)
    assert re.search(rf"sent {nbytes} bytes in", out), out
    r = peer_wait(p)
    assert r["bytes"] == str(nbytes) and r["bad"] == "0", r


def tern_receives_from_linux(tern, ns, port, nbytes):
    """Tern's `tcp recv` from peer.py serve-send: everything arrives, in the pattern."""
    p = ns.peer_serve("serve-send", port, nbytes)
    out = tern.cmd(f"tcp recv {PEER_IP} {port}", timeout=120)
    assert f"received {nbytes} bytes" in out and "pattern ok (0 bad bytes)" in out, out
    p.wait(timeout=30)
