"""Two Tern hosts talk to each other over a QEMU socket cable (issue 4)."""
import re
import socket

import pytest

from ternhost import TernHost, image_with_conf, start_hosts, stop_hosts


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    port = free_port()
    # b takes its address and services from tern.conf
    conf = "node = cable-b\nip = 169.254.78.2/24\nservices = echo,discard\n"
    img = image_with_conf(conf, str(tmp_path_factory.mktemp("b")),
                          images_dir=str(tmp_path_factory.mktemp("noimages")))
    a = TernHost("cable-a", smp=2, mem=512, nics=[f"socket,listen=127.0.0.1:{port}"])
    b = TernHost("cable-b", image=img, smp=2, mem=512,
                 nics=[f"socket,connect=127.0.0.1:{port}"])
    a.start()
    start_hosts([b])
    a.boot()
    a.cmd("ip addr 169.254.78.1/24")
    yield a, b
    stop_hosts([a, b])


def test_address_from_tern_conf(pair):
    a, b = pair
    assert "inet 169.254.78.2/24" in b.cmd("ip")
    assert "net: eth0: 169.254.78.2/24" in b.boot_output


def test_services_switch(pair):
    a, b = pair
    out = a.cmd("tcp recv 169.254.78.2 19", timeout=60)  # chargen is off on b
    assert "error: connect to 169.254.78.2:19: " in out, out


def test_ping_both_ways(pair):
    a, b = pair
    assert "0% packet loss" in a.cmd("ping 169.254.78.2 3", timeout=60)
    assert "0% packet loss" in b.cmd("ping 169.254.78.1 3", timeout=60)


def test_bulk_tcp_between_terns(pair):
    a, b = pair
    out = a.cmd("tcp send 169.254.78.2 9 8M", timeout=300)
    m = re.search(r"sent 8388608 bytes in [\d.]+ s \(([\d.]+) MB/s\)", out)
    assert m, out
    print(f"Tern -> Tern over a socket cable: {m.group(1)} MB/s")
    stats = b.cmd("net stats")
    rx = int(re.search(r"^\s+tcp\s+rx\s+\d+ pkts\s+(\d+) bytes", stats, re.M).group(1))
    assert rx >= 8 << 20, stats
    # b answers the stream with ACKs from its network daemon's poll rounds: their transmit
    # doorbells are rung once per round, not once per frame
    tx = int(re.search(r"^\s+eth0\s+rx.*?tx\s+(\d+) pkts", stats, re.M).group(1))
    bells = int(re.search(r"(\d+) transmit doorbells", stats).group(1))
    print(f"b sent {tx} frames with {bells} doorbells")
    assert 0 < bells < tx, stats


def test_echo_between_terns(pair):
    a, b = pair
    # b's echo service returns what a sends; `tcp send` to port 7 must complete
    out = a.cmd("tcp send 169.254.78.2 7 256K", timeout=120)
    assert "sent 262144 bytes" in out, out
