"""Hostile network input (issue 4): malformed frames, bad checksums, RST storms and SYN
floods leave Tern's stack running and its console responsive."""
import os
import re

import pytest

from netns import PEER_IP, NetNS
from ternhost import TernHost

TERN_IP = "169.254.77.1"
HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def setup():
    with NetNS() as ns:
        h = TernHost("net-hostile", smp=2, mem=512, netns=ns, nics=[ns.add_tap("taph")])
        h.start()
        h.boot()
        h.cmd(f"ip addr {TERN_IP}/24")
        mac = re.search(r"mac ([0-9a-f:]{17})", h.cmd("ip")).group(1)
        yield h, ns, mac
        h.stop()


def raw(ns, *args):
    out = ns.run("/usr/bin/python3", os.path.join(HERE, "peer_raw.py"), *map(str, args),
                 timeout=300).stdout
    assert "RESULT sent=" in out, out


def still_healthy(h, ns):
    assert " 0% packet loss" in ns.run("ping", "-c", "2", "-W", "5", TERN_IP, check=False).stdout
    out = ns.run("/usr/bin/python3", os.path.join(HERE, "peer.py"), "echo", TERN_IP, "7",
                 "still-alive").stdout
    assert "ok=1" in out, out
    assert "2 of 2 CPU(s) online" in h.cmd("cpus")


def drops(h):
    out = h.cmd("net stats")
    return {k: int(v) for k, v in re.findall(r"^\s+(\w+)\s+(\d+)$", out.split("drops:")[1], re.M)}


def test_garbage_frames(setup):
    h, ns, mac = setup
    raw(ns, "garbage", mac, 2000)
    still_healthy(h, ns)


def test_malformed_ip_and_bad_checksums(setup):
    h, ns, mac = setup
    raw(ns, "badip", mac, TERN_IP, 2000)
    d = drops(h)
    for reason in ("truncated", "bad_csum", "bad_header", "fragment"):
        assert d.get(reason, 0) > 0, (reason, d)
    still_healthy(h, ns)


def test_rst_storm(setup):
    h, ns, mac = setup
    raw(ns, "rststorm", mac, TERN_IP, 7, 3000)
    still_healthy(h, ns)


def test_syn_flood(setup):
    h, ns, mac = setup
    raw(ns, "synflood", mac, TERN_IP, 7, 5000)
    still_healthy(h, ns)
    out = h.cmd("net stats")
    assert re.search(r"passive", out)
