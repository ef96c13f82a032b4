"""Guests on AMD-V: an unmodified Debian Linux guest under Tern (issue 3).

One Tern host (QEMU TCG, EPYC-Rome with SVM+NPT) runs the Debian cloud kernel with the
busybox initramfs from tools/mkguest.sh; the tests drive the guests through `vm console`.
"""
import re
import time

import pytest

from ternhost import guest_cmdline

SMP = 2
MEM = 1536


def create(host, name, mem="256M", vcpus=1, extra=""):
    out = host.cmd(f'vm create {name} mem={mem} vcpus={vcpus} kernel=vmlinuz '
                   f'initrd=initrd.img cmdline="{guest_cmdline(extra)}"')
    assert f"created VM {name}" in out, out


@pytest.fixture(scope="module")
def g1(host):
    create(host, "g1", vcpus=2)
    t0 = time.monotonic()
    assert "g1 started" in host.cmd("vm start g1")
    host.wait_guest_ready("g1")
    print(f"g1: vm start to TERN-GUEST-READY {time.monotonic() - t0:.1f} s")
    return "g1"


def test_debian_guest_answers(host, g1):
    out = host.guest_run(g1, "echo $((6*7))")
    assert re.search(r"^42$", out, re.M), out


def test_two_vcpus_in_cpuinfo(host, g1):
    out = host.guest_run(g1, "grep -c ^processor /proc/cpuinfo")
    assert re.search(r"^2$", out, re.M), out


def test_guest_sees_tern(host, g1):
    out = host.guest_run(g1, "grep -o -m1 hypervisor /proc/cpuinfo; dmesg | grep -i -m1 'tsc.*deadline\\|TSC deadline'")
    assert "hypervisor" in out, out


def guest_uptime(host, vm):
    """(host monotonic time, the guest's /proc/uptime) read together."""
    out = host.guest_run(vm, "cut -d' ' -f1 /proc/uptime")
    return time.monotonic(), float(re.findall(r"^(\d+\.\d+)$", out, re.M)[-1])


def test_guest_clock_from_kvmclock(host, g1):
    """The guest finds Tern's KVM clock leaves and MSRs, takes its TSC frequency from them
    (the host's calibration, to the kHz) instead of calibrating against the PIT or the PM
    timer, and runs on the TSC clocksource: time without an exit per read. Its clock keeps
    pace with the host's."""
    out = host.guest_run(g1, "dmesg | grep -E 'Hypervisor detected|kvm-clock: Using|tsc: Detected|"
                             "TSC doesn|calibrat'; cat /sys/devices/system/clocksource/"
                             "clocksource0/current_clocksource")
    assert "Hypervisor detected: KVM" in out, out
    assert "kvm-clock: Using msrs 4b564d01 and 4b564d00" in out, out
    assert "calibrat" not in out.lower(), out  # no PIT / PM timer calibration, failed or not
    assert "TSC doesn't count with P0 frequency" not in out, out  # HWCR.TscFreqSel is set
    assert re.search(r"^tsc$", out, re.M), out
    guest_mhz = float(re.search(r"tsc: Detected (\d+\.\d+) MHz", out).group(1))
    with open(host.serial_log_path, encoding="utf-8", errors="replace") as f:
        host_mhz = float(re.search(r"time: TSC (\d+\.\d+) MHz", f.read()).group(1))
    assert abs(guest_mhz - host_mhz) <= 0.002, (guest_mhz, host_mhz)
    t0, u0 = guest_uptime(host, g1)
    time.sleep(6)
    t1, u1 = guest_uptime(host, g1)
    # each reading waits for a console round trip, so allow those on top of 1% of rate error
    assert abs((u1 - u0) - (t1 - t0)) < 0.8, (u0, u1, t0, t1)


def test_vm_list_and_info(host, g1):
    out = host.cmd("vm list")
    assert re.search(r"^g1\s+running\s+2\s+256M\s+\d\d:\d\d:\d\d", out, re.M), out
    info = host.cmd("vm info g1")
    assert "state:    running" in info
    for reason in ("cpuid", "io", "npf/mmio", "hlt"):
        assert re.search(rf"^\s+{re.escape(reason)}\s+\d+", info, re.M), (reason, info)
    assert re.search(r"exits by reason \((\d+) total\)", info)


def test_bad_vm_commands(host, g1):
    assert "error: mem: mem must be a multiple of 2M" in host.cmd(
        "vm create x mem=33M kernel=vmlinuz")
    assert "error: mem: mem must be a size of at least 16M" in host.cmd(
        "vm create x mem=lots kernel=vmlinuz")
    assert "error: vcpus: vcpus must be 1-16" in host.cmd("vm create x vcpus=99 kernel=vmlinuz")
    assert "error: kernel: no such file on the boot stick" in host.cmd("vm create x kernel=nope")
    assert "error: kernel=FILE is required" in host.cmd("vm create x mem=64M")
    assert "error: expected key=value" in host.cmd("vm create x kernel")
    assert "error: a VM with that name exists" in host.cmd("vm create g1 kernel=vmlinuz")
    assert "error: VM name must be" in host.cmd("vm create bad/name kernel=vmlinuz")
    assert "error: no VM named 'nosuch'" in host.cmd("vm start nosuch")
    assert "error: g1: VM is already running" in host.cmd("vm start g1")
    assert "usage: vm start NAME" in host.cmd("vm start")
    assert "error: vm: unknown sub-command 'frob'" in host.cmd("vm frob")
    assert "g1" in host.cmd("vm list")


def test_dirty_tracking_sees_guest_writes(host, g1):
    assert "dirty logging on for g1" in host.cmd("vm-dirty g1 start")
    host.cmd("vm-dirty g1 fetch")  # clear what boot-time activity left
    out = host.guest_run(g1, "tern-dirty fill 7 8")
    assert "TERN-DIRTY fill ok" in out, out
    fetched = host.cmd("vm-dirty g1 fetch")
    pages = int(re.search(r"(\d+) dirty pages", fetched).group(1))
    assert pages >= 2048, fetched  # 8 MiB written into tmpfs = 2048 pages at least
    time.sleep(2)
    idle = int(re.search(r"(\d+) dirty pages", host.cmd("vm-dirty g1 fetch")).group(1))
    assert idle < pages // 4, (idle, pages)
    assert "dirty logging off" in host.cmd("vm-dirty g1 stop")
    out = host.guest_run(g1, "tern-dirty check 7 8")
    assert "TERN-DIRTY check ok" in out, out


def counter_lines(host, n, timeout=60):
    """The next n TERN-COUNTER lines of live output: (seq, pid, boot)."""
    got = []
    for _ in range(n):
        host.expect(r"TERN-COUNTER seq=(\d+) up=\S+ late_ms=\d+ pid=(\d+) boot=([0-9a-f?]{8})",
                    timeout=timeout)
        m = host.con.match
        got.append((int(m.group(1)), m.group(2), m.group(3)))
    return got


def test_snapshot_and_restore_continue_the_guest(host, g1):
    host.attach(g1)
    host.send("tern-counter -i 250 &\r")
    before = counter_lines(host, 4)
    host.detach()
    assert "g1 snapshot taken" in host.cmd("vm snapshot g1", timeout=300)
    host.attach(g1)
    after_snap = counter_lines(host, 2)
    later = counter_lines(host, 8)  # the guest runs on after the snapshot
    host.detach()
    assert "g1 restored from snapshot" in host.cmd("vm restore g1", timeout=300)
    host.attach(g1)
    restored = counter_lines(host, 3)
    host.send("kill %1\r")
    host.detach()
    pid, boot = before[0][1], before[0][2]
    # same process of the same boot: the guest continued, it did not reboot
    assert all(l[1] == pid and l[2] == boot for l in after_snap + later + restored), (
        before, after_snap, later, restored)
    # and it continued from the snapshot, not from where it ran on to afterwards
    assert before[-1][0] <= restored[0][0] <= after_snap[0][0] + 1, (before, after_snap,
                                                                     later, restored)
    assert restored[0][0] < later[-1][0]
    seqs = [l[0] for l in restored]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), restored
    assert re.search(r"^42$", host.guest_run(g1, "echo $((6*7))"), re.M)


def test_pause_stops_the_guest_and_resume_continues(host, g1):
    host.attach(g1)
    host.send("tern-counter -i 200 &\r")
    counter_lines(host, 2)
    host.detach()
    assert "g1 paused" in host.cmd("vm pause g1")
    assert re.search(r"^g1\s+paused", host.cmd("vm list"), re.M)
    host.attach(g1)
    time.sleep(2)
    host.send("\x1d")
    host.expect(r"\[detached from g1\]")
    frozen = host.con.before
    host.expect(r"tern> ")
    assert "TERN-COUNTER" not in frozen, frozen  # nothing ran while paused
    assert "g1 resumed" in host.cmd("vm resume g1")
    host.attach(g1)
    lines = counter_lines(host, 2)
    host.send("kill %1\r")
    host.detach()
    assert lines[1][0] == lines[0][0] + 1


def test_two_guests_at_once_and_stop_one(host, g1):
    create(host, "g2", mem="128M", vcpus=1)
    assert "g2 started" in host.cmd("vm start g2")
    host.wait_guest_ready("g2")
    assert re.search(r"^42$", host.guest_run("g2", "echo $((6*7))"), re.M)
    assert re.search(r"^42$", host.guest_run(g1, "echo $((6*7))"), re.M)
    assert "g2 stopped" in host.cmd("vm stop g2")
    out = host.cmd("vm list")
    assert re.search(r"^g2\s+created", out, re.M) and re.search(r"^g1\s+running", out, re.M)
    assert re.search(r"^24$", host.guest_run(g1, "echo $((4*6))"), re.M)
    assert "g2 destroyed" in host.cmd("vm destroy g2")
    assert "g2" not in host.cmd("vm list")


def test_guest_poweroff_stops_the_vm(host, g1):
    host.attach(g1)
    host.send("poweroff -f\r")
    host.expect(r"\[g1 is stopped\]", timeout=60)
    host.expect(r"tern> ")
    info = host.cmd("vm info g1")
    assert "state:    stopped" in info
    assert "last stop: guest powered off (ACPI S5)" in info
    assert "g1 stopped" in host.cmd("vm stop g1")  # frees its memory
