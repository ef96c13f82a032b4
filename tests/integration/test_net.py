"""Host networking (issue 4): Tern's TCP/IP stack against Linux on a test network namespace,
for each NIC model Tern drives (virtio-net, e1000 82540EM, e1000e 82574L)."""
import re
import time

import pytest

from netns import PEER_IP, NetNS, tern_receives_from_linux, tern_sends_to_linux
from ternhost import TernHost

TERN_IP = "169.254.77.1"


@pytest.fixture(scope="module")
def ns():
    with NetNS() as n:
        yield n


@pytest.fixture(scope="module", params=["virtio-net-pci", "e1000", "e1000e"])
def tern(request, ns):
    model = request.param
    tap = f"tap{model[:6].replace('-', '')}"
    h = TernHost(f"net-{model}", smp=2, mem=512, netns=ns, nics=[ns.add_tap(tap)],
                 nic_model=model)
    try:  # a host whose set-up failed must not stay up holding TERN_IP for the next model
        h.start()
        h.boot()
        out = h.cmd(f"ip addr {TERN_IP}/24")
        assert f"inet {TERN_IP}/24" in out, out
        yield h
    finally:
        h.stop()


def test_nic_found(tern):
    out = tern.cmd("ip")
    want = {"virtio-net-pci": "virtio-net", "e1000": "e1000 (82540EM)",
            "e1000e": "e1000e (82574L)"}[tern.nic_model]
    assert f"eth0: {want}, link up" in out, out


def test_linux_pings_tern(tern, ns):
    out = ns.run("ping", "-c", "3", "-W", "5", TERN_IP, check=False).stdout
    assert " 0% packet loss" in out, out


def test_tern_pings_linux(tern):
    out = tern.cmd(f"ping {PEER_IP} 3", timeout=60)
    assert "3 packets transmitted, 3 received, 0% packet loss" in out, out
    assert re.search(r"rtt min/avg/max = [\d.]+/[\d.]+/[\d.]+ ms", out)


def test_echo_service(tern, ns):
    r = ns.peer("echo", TERN_IP, 7, "hello-from-linux")
    assert r["ok"] == "1" and r["echo"] == "hello-from-linux", r


def test_linux_pulls_from_chargen(tern, ns):
    r = ns.peer("pull", TERN_IP, 19, 8 << 20)
    assert int(r["bytes"]) >= 8 << 20 and r["lines_ok"] == "1", r
    print(f"{tern.nic_model}: Linux <- Tern chargen {r['mbps']} MB/s")


def test_linux_pushes_to_discard(tern, ns):
    before = tcp_rx_bytes(tern)
    r = ns.peer("push", TERN_IP, 9, 8 << 20)
    assert int(r["bytes"]) == 8 << 20, r
    assert tcp_rx_bytes(tern) - before >= 8 << 20
    print(f"{tern.nic_model}: Linux -> Tern discard {r['mbps']} MB/s")


def tcp_rx_bytes(h):
    out = h.cmd("net stats")
    return int(re.search(r"^\s+tcp\s+rx\s+\d+ pkts\s+(\d+) bytes", out, re.M).group(1))


def test_tern_connects_out_and_sends(tern, ns):
    tern_sends_to_linux(tern, ns, 5001, 4 << 20)


def test_tern_receives_from_linux(tern, ns):
    tern_receives_from_linux(tern, ns, 5002, 4 << 20)


def test_tcp_table_and_arp(tern):
    assert re.search(rf"^{re.escape(PEER_IP)}\s+[0-9a-f:]{{17}}\s+reachable", tern.cmd("arp"),
                     re.M)
    assert "LOCAL" in tern.cmd("tcp")
