"""Guests on the physical network (docs/virtio.md "Bridge"): each host's uplink NIC and its own
IP stack are ports of its virtual switch, like a Proxmox vmbr0 bridge.

Two Tern hosts a and b on a test network namespace bridge (QEMU taps); guest ga on a and gb on
b, each with a virtio NIC and an address on the test network:
- Linux in the namespace pings ga and pulls a checked TCP stream from a server in ga;
- ga and gb (on different hosts) exchange bulk TCP data across the wire;
- Tern a's own stack reaches its own guest through the host port, and the guest reaches Tern;
- a Linux client keeps its TCP connection to a server in ga while ga live-migrates from a to
  b (the destination announces the guest's MAC so the network learns the new port at once).
"""
import re
import subprocess
import time

import pytest

from netns import PEER_IP, NetNS
from ternhost import ROOT, TernHost, guest_cmdline, image_with_conf

KEY = "hex:" + "3c" * 32
A_IP, B_IP = "169.254.77.1", "169.254.77.2"
GUEST_IP = {"ga": "169.254.77.101", "gb": "169.254.77.102"}
TCPCLI = f"{ROOT}/build/guest/bin/tern-tcpcli"
EXTRA = "tern.modules=1 tern.quiet=1"


def make_host(name, ns, tmp, ip, other, other_ip):
    conf = (f"node = {name}\nip = {ip}/24\ncluster_key = {KEY}\n"
            f"[peer {other}]\naddress = {other_ip}\n")
    h = TernHost(f"br-{name}", image=image_with_conf(conf, str(tmp)), smp=2, mem=1024,
                 netns=ns, nics=[ns.add_tap(f"tapb{name}")])
    h.start()
    return h


def run(h, vm, command, timeout=120):
    return h.guest_run(vm, f"{command}; echo rc=$?", timeout=timeout)


def start_guest(h, name):
    out = h.cmd(f'vm create {name} mem=192M kernel=vmlinuz initrd=initrd.img nic=on '
                f'cmdline="{guest_cmdline(EXTRA)}"')
    assert f"created VM {name}" in out, out
    assert f"{name} started" in h.cmd(f"vm start {name}")
    h.wait_guest_ready(name)
    out = run(h, name, f"ip addr add {GUEST_IP[name]}/24 dev eth0 && ip link set eth0 up")
    assert "rc=0" in out, out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with NetNS() as ns:
        a = make_host("a", ns, tmp_path_factory.mktemp("a"), A_IP, "b", B_IP)
        b = make_host("b", ns, tmp_path_factory.mktemp("b"), B_IP, "a", A_IP)
        a.boot()
        b.boot()
        start_guest(a, "ga")
        start_guest(b, "gb")
        yield a, b, ns
        a.stop()
        b.stop()


def test_uplink_is_a_switch_port(cluster):
    a, b, ns = cluster
    sw = a.cmd("vswitch")
    assert re.search(r"^\d+\s+eth0\s+uplink\s", sw, re.M), sw
    assert re.search(r"^\d+\s+host\s+locked\s", sw, re.M), sw
    assert re.search(r"^\d+\s+ga\s+locked\s", sw, re.M), sw


def test_linux_reaches_a_guest(cluster):
    a, b, ns = cluster
    out = ns.run("ping", "-c", "3", "-W", "5", GUEST_IP["ga"], check=False).stdout
    assert " 0% packet loss" in out, out
    out = run(a, "ga", "(tern-tcpsrv -r 0 -1 > /tmp/srv1.log 2>&1 &) ; sleep 1")
    assert "rc=0" in out, out
    cli = ns.run(TCPCLI, "-t", "4", "-i", "0", GUEST_IP["ga"], check=False, timeout=60)
    assert "TERN-TCPCLI PASS" in cli.stdout, cli.stdout + cli.stderr


def test_guests_on_two_hosts_exchange_tcp(cluster):
    a, b, ns = cluster
    out = run(b, "gb", "(tern-bulk recv 5001 > /tmp/bulk.log 2>&1 &) ; sleep 1")
    assert "rc=0" in out, out
    out = run(a, "ga", f"tern-bulk send {GUEST_IP['gb']} 5001 4000000", timeout=180)
    assert re.search(r"TERN-BULK sent=4000000", out), out
    time.sleep(1)
    out = run(b, "gb", "cat /tmp/bulk.log")
    assert re.search(r"TERN-BULK received=4000000 bad=0", out), out


def test_host_and_its_own_guest(cluster):
    a, b, ns = cluster
    out = a.cmd(f"ping {GUEST_IP['ga']} 3", timeout=60)
    assert re.search(r"3 (packets )?received", out) or out.count("time=") == 3, out
    out = run(a, "ga", f"ping -c 3 -W 5 {A_IP}", timeout=60)
    assert "3 packets received" in out, out


def migrate(src, vm, dst, timeout=600):
    src.send(f"migrate {vm} {dst}\r")
    src.expect(r"migrate \S+: (done in [^\r\n]*|FAILED: [^\r\n]*|IN DOUBT[^\r\n]*)\r?\n",
               timeout=timeout)
    line = src.con.match.group(0).strip()
    src.send("\r")
    src.expect("tern> ")
    return line.startswith(f"migrate {vm}: done"), line


def test_tcp_client_keeps_its_connection_across_migration(cluster):
    a, b, ns = cluster
    out = run(a, "ga", "(tern-tcpsrv -p 7778 -r 256 -1 > /tmp/srv2.log 2>&1 &) ; sleep 1")
    assert "rc=0" in out, out
    cli = ns.popen(TCPCLI, "-w", "30", "-i", "1000", GUEST_IP["ga"], "7778",
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert cli.stdout.readline().startswith("TERN-TCPCLI connected"), "not connected"
        assert cli.stdout.readline().startswith("TERN-TCPCLI t="), "no data before migrating"
        ok, line = migrate(a, "ga", "b")
        print(line)
        assert ok, line
        assert re.search(r"^ga\s+running", b.cmd("vm list"), re.M)
        # the stream keeps flowing from b: a few more progress lines, then stop with a verdict
        progress = [cli.stdout.readline() for _ in range(5)]
        cli.send_signal(subprocess.signal.SIGINT)
        rest = cli.communicate(timeout=30)[0]
    finally:
        cli.kill()
    verdict = re.search(r"TERN-TCPCLI (PASS|FAIL)[^\n]*", rest)
    assert verdict and verdict.group(1) == "PASS", "".join(progress) + rest
    assert "gaps=0 corrupt=0" in verdict.group(0), verdict.group(0)
    print("client verdict:", verdict.group(0))
    out = b.cmd("vswitch")
    assert re.search(r"^\d+\s+ga\s+locked\s", out, re.M), out
