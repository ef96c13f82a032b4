"""Jumbo frames (tern.conf `mtu`): a Tern host whose virtio-net NIC carries a 9000-byte MTU
(QEMU host_mtu=9000, VIRTIO_NET_F_MTU) on a 9000-MTU namespace bridge, against Linux; a second
NIC (e1000) that cannot carry jumbo frames keeps 1500 and says so."""
import re

import pytest

from netns import NetNS, tern_receives_from_linux, tern_sends_to_linux
from ternhost import TernHost, image_with_conf

TERN_IP = "169.254.77.1"


@pytest.fixture(scope="module")
def jumbo(tmp_path_factory):
    with NetNS() as ns:
        ns.run("ip", "link", "set", "br0", "mtu", "9000")
        conf = f"node = jumbo\nip = {TERN_IP}/24\nmtu = 9000\n"
        img = image_with_conf(conf, str(tmp_path_factory.mktemp("jumbo")),
                              images_dir=str(tmp_path_factory.mktemp("noimages")))
        nics = [(ns.add_tap("tapjumbo", mtu=9000), "virtio-net-pci,host_mtu=9000"),
                ("user,restrict=on", "e1000")]
        h = TernHost("net-jumbo", image=img, smp=2, mem=512, netns=ns, nics=nics)
        try:
            h.start()
            h.boot()
            yield h, ns
        finally:
            h.stop()


def nic_counters(h, nic):
    """(rx frames, rx bytes, tx frames, tx bytes) of one NIC from `net stats`."""
    out = h.cmd("net stats")
    m = re.search(rf"^\s+{nic}\s+rx\s+(\d+) pkts\s+(\d+) bytes.*?tx\s+(\d+) pkts\s+(\d+) bytes",
                  out, re.M)
    assert m, out
    return tuple(int(x) for x in m.groups())


def test_mtu_from_tern_conf(jumbo):
    h, _ = jumbo
    out = h.cmd("ip")
    assert re.search(r"eth0: virtio-net, link up, mtu 9000,", out), out
    # the e1000 has no jumbo support in Tern's driver: it keeps 1500, and the log says why
    assert re.search(r"eth1: e1000 \(82540EM\), link \w+, mtu 1500,", out), out
    assert "net: eth1: MTU 9000 asked for, but the NIC carries at most 1500" in h.boot_output
    assert re.search(r"nic: eth0: virtio-net .*MTU up to 9000", h.boot_output)


def test_linux_pings_with_jumbo_frames(jumbo):
    h, ns = jumbo
    # 8000 bytes of payload in one unfragmented frame each way (-M do: don't fragment)
    out = ns.run("ping", "-c", "3", "-W", "5", "-s", "8000", "-M", "do", TERN_IP,
                 check=False).stdout
    assert " 0% packet loss" in out and "8008 bytes from" in out, out


def test_tcp_uses_jumbo_segments_both_ways(jumbo):
    h, ns = jumbo
    rx0, rxb0, tx0, txb0 = nic_counters(h, "eth0")
    # Linux -> Tern: Linux sends segments of the MSS Tern advertised (9000 - 40)
    tern_receives_from_linux(h, ns, 5002, 4 << 20)
    rx1, rxb1, tx1, txb1 = nic_counters(h, "eth0")
    assert (rxb1 - rxb0) / (rx1 - rx0) > 4000, (rx1 - rx0, rxb1 - rxb0)
    # Tern -> Linux: Tern's segments are as large
    tern_sends_to_linux(h, ns, 5001, 4 << 20)
    rx2, rxb2, tx2, txb2 = nic_counters(h, "eth0")
    print(f"jumbo: Linux -> Tern {(rxb1 - rxb0) / (rx1 - rx0):.0f} bytes per frame, "
          f"Tern -> Linux {(txb2 - txb1) / (tx2 - tx1):.0f}")
    assert (txb2 - txb1) / (tx2 - tx1) > 4000, (tx2 - tx1, txb2 - txb1)
