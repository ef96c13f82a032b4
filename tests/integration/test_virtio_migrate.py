"""Live migration of a guest with virtio devices (docs/virtio.md): the migration offer carries
the disk/NIC settings, the state stream carries the device state and the disk contents.

Hosts a and b on a test network (as in test_migrate.py). Guest v1 (virtio disk + NIC) runs on
a with a file system on its disk, migrates to b while writing to it, and continues there: its
files are intact, its disk keeps working, and its NIC (now a port of b's switch) reaches a
guest that was already running on b.
"""
import re

import pytest

from netns import NetNS
from ternhost import TernHost, guest_cmdline, image_with_conf

KEY = "hex:" + "5a" * 32
A_IP, B_IP = "169.254.77.1", "169.254.77.2"
EXTRA = "tern.modules=1 tern.quiet=1"


def make_host(name, ns, tmp, ip, other, other_ip):
    conf = (f"node = {name}\nip = {ip}/24\ncluster_key = {KEY}\n"
            f"[peer {other}]\naddress = {other_ip}\n")
    img = image_with_conf(conf, str(tmp))
    h = TernHost(f"vmig-{name}", image=img, smp=2, mem=1024, netns=ns,
                 nics=[ns.add_tap(f"tapv{name}")])
    h.start()
    return h


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with NetNS() as ns:
        a = make_host("a", ns, tmp_path_factory.mktemp("a"), A_IP, "b", B_IP)
        b = make_host("b", ns, tmp_path_factory.mktemp("b"), B_IP, "a", A_IP)
        a.boot()
        b.boot()
        yield a, b
        a.stop()
        b.stop()


def start(h, name, keys):
    h.cmd(f'vm create {name} mem=192M kernel=vmlinuz initrd=initrd.img {keys} '
          f'cmdline="{guest_cmdline(EXTRA)}"')
    assert f"{name} started" in h.cmd(f"vm start {name}")
    h.wait_guest_ready(name)


def run(h, vm, command, timeout=120):
    return h.guest_run(vm, f"{command}; echo rc=$?", timeout=timeout)


def test_guest_with_virtio_devices_migrates(cluster):
    a, b = cluster
    start(a, "v1", "disk=data,size=32M,serial=v1-data nic=on")
    start(b, "peer", "nic=on")
    assert "rc=0" in run(b, "peer", "ip addr add 10.1.0.2/24 dev eth0 && ip link set eth0 up")
    out = run(a, "v1", "mke2fs -q /dev/vda && mount /dev/vda /mnt && "
              "dd if=/dev/urandom of=/mnt/before bs=64k count=64 2>/dev/null && sync && "
              "md5sum /mnt/before && ip addr add 10.1.0.1/24 dev eth0 && ip link set eth0 up")
    before = re.search(r"^([0-9a-f]{32})\s+/mnt/before", out, re.M).group(1)
    # keep the disk busy during the migration
    a.attach("v1")
    a.send("(i=0; while [ $i -lt 40 ]; do dd if=/dev/urandom of=/mnt/during.$i bs=16k "
           "count=4 2>/dev/null; i=$((i+1)); done; sync; md5sum /mnt/during.* > /mnt/sums; "
           "echo WRITER-DONE) &\r")
    a.detach()
    a.send("migrate v1 b\r")
    a.expect(r"migrate \S+: (done in [^\r\n]*|FAILED: [^\r\n]*|IN DOUBT[^\r\n]*)\r?\n",
             timeout=600)
    line = a.con.match.group(0).strip()
    a.send("\r")
    a.expect("tern> ")
    assert line.startswith("migrate v1: done"), line
    assert "v1" not in a.cmd("vm list")
    info = b.cmd("vm info v1")
    assert "disk vda:  data, 32M, read-write, serial v1-data" in info, info
    assert re.search(r"virtio 1: virtio-net at \S+, driver ready", info), info
    out = run(b, "v1", "while ! grep -q . /mnt/sums 2>/dev/null; do sleep 1; done; "
              "md5sum -c /mnt/sums | grep -c OK; md5sum /mnt/before; sync; "
              "echo 3 > /proc/sys/vm/drop_caches; md5sum /mnt/before; "
              "dd if=/dev/zero of=/mnt/after bs=64k count=16 conv=fsync 2>&1 | tail -n 1",
              timeout=300)
    assert re.search(r"^40$", out, re.M), out
    assert out.count(before) == 2 and "16+0 records out" in out, out
    out = run(b, "v1", "ping -c 3 -W 5 10.1.0.2", timeout=60)
    assert "3 packets received" in out, out
