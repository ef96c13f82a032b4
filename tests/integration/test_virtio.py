"""Tern's own virtio devices for guests (docs/virtio.md): virtio-blk disks, virtio-net on the
host's virtual switch, virtio-console (hvc0), found by the stock Debian kernel of the test guest.

One Tern host boots a stick with an extra disk image (tdisk.img) and a tern.conf [vm g2]
section that uses the virtio keys and autostarts. Guests:
  g1    disks: vda = tdisk.img (read-write copy), vdb = empty 64M, vdc = tdisk.img read-only;
        NIC with the MAC derived from its name
  g2    from tern.conf: NIC with a fixed MAC, a 16M disk, its shell on hvc0 (virtio-console)
  evil  runs tools/guest/tern-vqattack against its own virtio-blk and virtio-net devices
"""
import hashlib
import os
import random
import re
import shutil
import time

import pytest

from ternhost import ROOT, TernHost, guest_cmdline, image_with_conf, start_hosts, clean

SMP = 2
MEM = 1536
DISK_BYTES = 3 * 2**20 + 4096 + 100  # not a whole number of extents, nor of sectors
G2_MAC = "52:54:00:00:00:02"
IP = {"g1": "10.0.0.1", "g2": "10.0.0.2", "evil": "10.0.0.66"}


def disk_image():
    """A deterministic test disk image: a text header, then pseudo-random bytes."""
    rnd = random.Random(7)
    head = b"TERN-DISK-IMAGE\n"
    return head + bytes(rnd.getrandbits(8) for _ in range(DISK_BYTES - len(head)))


DISK = disk_image()
DISK_MD5 = hashlib.md5(DISK).hexdigest()


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """A host whose stick has tdisk.img and a tern.conf defining g2 (autostarted)."""
    tmp = tmp_path_factory.mktemp("virtio")
    images = tmp / "images"
    images.mkdir()
    for f in ("vmlinuz", "initrd.img"):
        shutil.copy(os.path.join(ROOT, "build", "images", f), images / f)
    (images / "tdisk.img").write_bytes(DISK)
    cl = guest_cmdline("tern.console=hvc0 tern.modules=1 tern.quiet=1")
    conf = ("node = tern\n[vm g2]\nkernel = vmlinuz\ninitrd = initrd.img\nmem = 192M\n"
            f"nic = on\nmac = {G2_MAC}\nhvc = on\ndisk = scratch2,size=16M,serial=g2-disk\n"
            f'cmdline = "{cl}"\nautostart = on\n')
    img = image_with_conf(conf, str(tmp), str(images))
    h = TernHost("test_virtio", image=img, smp=SMP, mem=MEM)
    start_hosts([h])
    yield h
    h.stop()


def create(host, name, mem, extra_keys, extra_cmdline="tern.modules=1 tern.quiet=1"):
    out = host.cmd(f'vm create {name} mem={mem} kernel=vmlinuz initrd=initrd.img {extra_keys} '
                   f'cmdline="{guest_cmdline(extra_cmdline)}"')
    assert f"created VM {name}" in out, out


def start_and_wait(host, name, timeout=300):
    """vm start, then wait for this boot's marker (attached before the guest can print it)."""
    assert f"{name} started" in host.cmd(f"vm start {name}")
    host.attach(name)
    host.expect("TERN-GUEST-READY", timeout=timeout)
    host.expect(r"# ", timeout=60)
    host.detach()


def run(host, vm, command, timeout=120):
    """guest_run with an exit status line (so that no command has empty output)."""
    out = host.guest_run(vm, f"{command}; echo rc=$?", timeout=timeout)
    return out


def hvc_run(host, vm, command, timeout=120):
    """Run a command in a guest whose shell is on hvc0, typing through `vm console NAME hvc`."""
    tag = f"HV{os.getpid() % 10000}x{int(time.monotonic() * 1000) % 100000}"
    host.send(f"vm console {vm} hvc\r")
    host.expect(rf"\[attached to {re.escape(vm)} \(hvc\); Ctrl-\] detaches\]")
    host.send(f"echo {tag}B; {command}; echo {tag}E $?\r")
    host.expect(rf"\n{tag}B\r?\n", timeout=timeout)
    host.expect(rf"{tag}E (\d+)\r?\n", timeout=timeout)
    out = clean(host.con.before)
    rc = int(host.con.match.group(1))
    host.detach()
    return out, rc


@pytest.fixture(scope="module")
def guests(host):
    """g1 (created here) and g2 (tern.conf, autostarted) running, with IPs on eth0."""
    create(host, "g1", "256M",
           "disk=tdisk.img disk=scratch,size=64M,serial=g1-scratch disk=tdisk.img,ro nic=on")
    t0 = time.monotonic()
    start_and_wait(host, "g1")
    host.wait_guest_ready("g2")  # autostarted at Tern's boot
    print(f"g1 ready {time.monotonic() - t0:.1f} s after vm start")
    assert "rc=0" in run(host, "g1", f"ip addr add {IP['g1']}/24 dev eth0 && ip link set eth0 up")
    out, rc = hvc_run(host, "g2", f"ip addr add {IP['g2']}/24 dev eth0 && ip link set eth0 up")
    assert rc == 0, out
    return ("g1", "g2")


def test_config_errors(host):
    base = "vm create x kernel=vmlinuz"
    assert "error: disk: no such file on the boot stick" in host.cmd(f"{base} disk=nosuch")
    assert "error: disk: disk size must be a multiple of 512" in host.cmd(
        f"{base} disk=a,size=1000")
    assert "error: disk: unknown disk option" in host.cmd(f"{base} disk=tdisk.img,fast")
    assert "error: disk: disk size is smaller than the file" in host.cmd(
        f"{base} disk=tdisk.img,size=1M")
    assert "error: disk: at most 4 disks" in host.cmd(
        f"{base} disk=a,size=1M disk=b,size=1M disk=c,size=1M disk=d,size=1M disk=e,size=1M")
    assert "error: mac: mac must be a unicast address" in host.cmd(
        f"{base} mac=ff:ff:ff:ff:ff:ff")
    assert "error: nic: must be on or off" in host.cmd(f"{base} nic=maybe")
    assert "x" not in re.findall(r"^(\S+)\s", host.cmd("vm list"), re.M)


def test_guest_finds_the_devices(host, guests):
    out = run(host, "g1", "ls -1 /sys/block; cat /sys/block/vdb/serial; echo; "
              "cat /sys/block/vdc/ro /sys/block/vda/size; ip -o link show eth0; "
              "grep -c virtio /proc/interrupts; grep -h PCI-MSI /proc/interrupts | head -3")
    for d in ("vda", "vdb", "vdc"):
        assert re.search(rf"^{d}$", out, re.M), out
    assert "g1-scratch" in out
    assert re.search(r"^1\n(\d+)$", out, re.M) and int(
        re.search(r"^1\n(\d+)$", out, re.M).group(1)) == (DISK_BYTES + 511) // 512, out
    assert "PCI-MSI" in out  # MSI-X, not INTx
    info = host.cmd("vm info g1")
    assert "disk vda:  tdisk.img, 3M, read-write" in info, info
    assert "disk vdc:  tdisk.img, 3M, read-only, serial tdisk.img" in info, info
    assert re.search(r"virtio 3: virtio-net at 00:04.0, driver ready", info), info
    assert "g2-disk" in hvc_run(host, "g2", "cat /sys/block/vda/serial")[0]
    out, rc = hvc_run(host, "g2", "tty; cat /sys/class/net/eth0/address")
    assert "/dev/hvc0" in out and G2_MAC in out, out


def test_disk_image_from_the_stick(host, guests):
    out = run(host, "g1", f"head -c {DISK_BYTES} /dev/vda | md5sum; "
              f"head -c {DISK_BYTES} /dev/vdc | md5sum; head -c 16 /dev/vda")
    assert out.count(DISK_MD5) == 2, out
    assert "TERN-DISK-IMAGE" in out
    # the read-only copy refuses writes; the read-write one takes them (in Tern's copy only)
    out = run(host, "g1", "dd if=/dev/zero of=/dev/vdc bs=4k count=1 conv=fsync 2>&1; "
              "echo overwritten | dd of=/dev/vda bs=4k conv=sync,fsync 2>/dev/null; "
              "echo 3 > /proc/sys/vm/drop_caches; head -c 11 /dev/vda; echo; "
              f"head -c {DISK_BYTES} /dev/vdc | md5sum")
    assert re.search(r"Operation not permitted|Read-only|I/O error", out), out
    assert "overwritten" in out and DISK_MD5 in out, out


def test_disk_survives_stop_and_start(host, guests):
    out = run(host, "g1", "mke2fs -q /dev/vdb && mount /dev/vdb /mnt && "
              "dd if=/dev/urandom of=/mnt/data bs=64k count=32 2>/dev/null && "
              "md5sum /mnt/data > /mnt/data.md5 && cat /mnt/data.md5 && sync && umount /mnt && "
              "dd if=/dev/urandom of=/tmp/raw bs=4k count=64 2>/dev/null && "
              "dd if=/tmp/raw of=/dev/vda bs=4k seek=100 conv=fsync 2>/dev/null && md5sum /tmp/raw")
    assert "rc=0" in out, out
    sums = re.findall(r"^([0-9a-f]{32})\s", out, re.M)
    assert len(sums) == 2, out
    assert "g1 stopped" in host.cmd("vm stop g1")
    t0 = time.monotonic()
    start_and_wait(host, "g1")
    print(f"g1 restarted in {time.monotonic() - t0:.1f} s")
    out = run(host, "g1", "mount /dev/vdb /mnt && md5sum /mnt/data && "
              "dd if=/dev/vda bs=4k skip=100 count=64 2>/dev/null | md5sum && "
              f"ip addr add {IP['g1']}/24 dev eth0 && ip link set eth0 up")
    assert sums[0] in out and sums[1] in out, (sums, out)


def test_disk_dirty_tracking(host, guests):
    host.cmd("vm-disk g1 dirty")  # clear
    assert "rc=0" in run(host, "g1", "dd if=/dev/urandom of=/dev/vdb bs=64k count=16 seek=200 "
                         "oflag=direct 2>/dev/null")
    out = host.cmd("vm-disk g1 dirty")
    n = int(re.search(r"vdb: (\d+) dirty blocks", out).group(1))
    assert n >= 256, out  # 1 MiB = 256 blocks of 4 KiB
    assert re.search(r"vda: 0 dirty", out) and re.search(r"vdc: 0 dirty", out), out
    assert "vdb: 0 dirty" in host.cmd("vm-disk g1 dirty")


def test_guests_ping_and_exchange_tcp(host, guests):
    out = run(host, "g1", f"ping -c 3 -W 5 {IP['g2']}", timeout=60)
    assert "3 packets received" in out, out
    out, rc = hvc_run(host, "g2", "(tern-bulk recv 5001 > /tmp/bulk.log 2>&1 &) ; "
                      "(tern-tcpsrv -r 0 -1 > /tmp/srv.log 2>&1 &) ; "
                      "(sleep 60 | nc -l -p 5002 > /tmp/nc.out &) ; sleep 1")
    assert rc == 0, out
    out = run(host, "g1", f"tern-bulk send {IP['g2']} 5001 4000000", timeout=120)
    assert re.search(r"TERN-BULK sent=4000000", out), out
    out = run(host, "g1", f"tern-tcpcli -t 4 -i 0 {IP['g2']}", timeout=60)
    assert "TERN-TCPCLI PASS" in out, out
    out = run(host, "g1", "dd if=/dev/urandom of=/tmp/nc.in bs=1k count=300 2>/dev/null; "
              f"md5sum /tmp/nc.in; timeout 20 nc {IP['g2']} 5002 < /tmp/nc.in; true", timeout=60)
    nc_sum = re.search(r"^([0-9a-f]{32})\s", out, re.M).group(1)
    time.sleep(1)
    out, rc = hvc_run(host, "g2", "cat /tmp/bulk.log; md5sum < /tmp/nc.out")
    assert re.search(r"TERN-BULK received=4000000 bad=0", out), out
    assert nc_sum in out, (nc_sum, out)
    sw = host.cmd("vswitch")
    assert re.search(r"^\d+\s+g1\s+locked\s+\d+", sw, re.M) and G2_MAC in sw, sw


def test_hostile_guest_cannot_hurt_tern_or_others(host, guests):
    create(host, "evil", "160M", "disk=evil,size=8M nic=on")
    start_and_wait(host, "evil")
    attacks = ("ok loop range huge wrap headrange nextrange nested indlen availjump order "
               "ringaddr badq pcicfg ok")
    out = run(host, "evil", f"tern-vqattack -r {attacks}", timeout=300)
    results = dict(re.findall(r"TERN-VQATTACK case=(\w+) result=(\w+)", out))
    assert "TERN-VQATTACK done cases=15 rebound" in out, out
    assert re.findall(r"case=ok result=completed status=0x0f used=1 blk_status=0", out), out
    for case in attacks.split():
        if case not in ("ok", "badq", "pcicfg"):
            assert results.get(case) == "needs_reset", (case, out)
    assert results.get("badq") == "ignored", out
    assert results.get("pcicfg") == "window_ok", out  # the VIRTIO_PCI_CAP_PCI_CFG window
    # the NIC too
    net = run(host, "evil", "for d in /sys/bus/pci/devices/*; do "
              "[ $(cat $d/device) = 0x1041 ] && basename $d; done")
    bdf = re.search(r"^(0000:\S+)$", net, re.M).group(1)
    out = run(host, "evil", f"tern-vqattack -d {bdf} -r ok loop range huge order headrange ok",
              timeout=300)
    assert "TERN-VQATTACK done cases=7 rebound" in out, out
    assert len(re.findall(r"result=needs_reset", out)) == 5, out
    # after a reset by the real driver both devices work again
    out = run(host, "evil", f"sleep 1; dd if=/dev/vda bs=512 count=8 2>/dev/null | wc -c; "
              f"ip addr add {IP['evil']}/24 dev eth0; ip link set eth0 up; "
              f"ping -c 2 -W 5 {IP['g1']}", timeout=60)
    assert re.search(r"^4096$", out, re.M) and "2 packets received" in out, out
    # logged once per violation (not on the console), Tern and the other guests unharmed
    log = host.cmd("log")
    assert "vm evil: virtio-blk 0: queue 0: descriptor chain longer than the queue" in log
    assert "vm evil: virtio-net 1: queue 1: buffer outside guest RAM" in log
    assert "notify for queue 77, which does not exist (ignored)" in log
    vms = host.cmd("vm list")
    for g in ("g1", "g2", "evil"):
        assert re.search(rf"^{g}\s+running", vms, re.M), vms
    assert "3 packets received" in run(host, "g1", f"ping -c 3 -W 5 {IP['g2']}", timeout=60)
    assert "evil stopped" in host.cmd("vm stop evil")


def test_snapshot_and_restore_with_virtio_active(host, guests):
    out = run(host, "g1", "mount /dev/vdb /mnt 2>/dev/null; echo before > /mnt/f && sync && "
              "cat /mnt/f")
    assert "before" in out, out
    host.attach("g1")
    host.send(f"ping -i 0.2 {IP['g2']} > /tmp/ping.log & "
              "dd if=/dev/urandom of=/mnt/busy bs=64k count=64 2>/dev/null & echo bg\r")
    host.expect(r"\nbg\r?\n")
    host.detach()
    assert "g1 snapshot taken" in host.cmd("vm snapshot g1", timeout=300)
    out = run(host, "g1", "wait %2; echo after > /mnt/f; echo new > /mnt/new; sync; cat /mnt/f")
    assert "after" in out, out
    assert "g1 restored from snapshot" in host.cmd("vm restore g1", timeout=300)
    # the disk is back at the snapshot, consistent with the guest's page cache and pending I/O
    out = run(host, "g1", "wait %2; sync; echo 3 > /proc/sys/vm/drop_caches; cat /mnt/f; "
              "ls /mnt; tail -n 2 /tmp/ping.log", timeout=120)
    assert re.search(r"^before$", out, re.M) and "new" not in out.split("rc=")[0], out
    # network and disk keep working after the restore
    out = run(host, "g1", f"kill %1 2>/dev/null; ping -c 3 -W 5 {IP['g2']}; "
              "dd if=/dev/zero of=/mnt/z bs=64k count=32 conv=fsync 2>&1 | tail -n 1; "
              "md5sum /mnt/z; umount /mnt", timeout=120)
    assert "3 packets received" in out and "32+0 records out" in out, out
    out, rc = hvc_run(host, "g2", f"ping -c 2 -W 5 {IP['g1']}")
    assert "2 packets received" in out, out
