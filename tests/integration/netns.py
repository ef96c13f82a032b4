"""A private test network: a Linux network namespace with a bridge, tap devices for Tern
hosts' NICs, and the bridge's own address as the Linux peer (169.254.77.254/24)."""
import os
import subprocess

PEER_IP = "169.254.77.254"
PREFIX = 24


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

    def set_link(self, name, up):
        self.run("ip", "link", "set", name, "up" if up else "down")

    def destroy(self):
        sh("ip", "netns", "del", self.name, check=False)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()
