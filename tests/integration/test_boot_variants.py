"""Foundation tests that need their own boot: -smp 4, crash reports, tern.conf errors, power."""
import re

from ternhost import image_with_conf


def test_four_cpus_online(make_host):
    h = make_host("smp4", smp=4, mem=512).boot()
    out = h.cmd("cpus")
    assert len(re.findall(r"^\d+\s+\d+\s+online", out, re.M)) == 4, out
    assert "4 of 4 CPU(s) online" in out


def test_invalid_opcode_prints_register_dump(make_host):
    h = make_host("ud").boot()
    h.send("panic-test ud\r")
    h.expect(r"exception #UD invalid opcode")
    h.expect(r"Register dump \(CPU \d\):")
    h.expect(r"RIP=ffffffff8[0-9a-f]{7}")
    h.expect(r"CR0=[0-9a-f]{16} CR2=")
    h.expect(r"Stack trace:")
    h.expect(r"cmd_panic_test\+0x")  # symbolised from the kernel's own ELF symbols
    h.expect(r"PANIC \(cpu \d\): unhandled exception #UD")
    h.expect(r"System halted\.")


def test_page_fault_reports_address(make_host):
    h = make_host("pf").boot()
    h.send("panic-test pf\r")
    h.expect(r"exception #PF page fault \(vector 14\) accessing 0x10")
    h.expect(r"Register dump")
    h.expect(r"System halted\.")


def test_bad_config_lines_are_reported_and_boot_continues(make_host, tmp_path):
    conf = ("# test config\n"
            "node = alpha\n"
            "this line is wrong\n"
            "colour = blue\n"
            "node = bad name!\n"
            "mtu = 100\n"
            "mtu.eth1 = jumbo\n"
            "[nosuchsection thing]\n"
            "key = value\n"
            "[vm\n")
    img = image_with_conf(conf, str(tmp_path), images_dir=str(tmp_path / "none"))
    h = make_host("conf", image=img).boot()
    out = h.boot_output
    assert "tern.conf:3: expected 'key = value'" in out, out
    assert "tern.conf:4: unknown key (ignored)" in out
    assert "tern.conf:5: node name must be 1-31 of [A-Za-z0-9_.-]" in out
    mtu_err = "expected an MTU from 576 to 9000 (1500 is standard Ethernet, 9000 jumbo frames)"
    assert f"tern.conf:6: {mtu_err}" in out
    assert f"tern.conf:7: {mtu_err}" in out
    assert "tern.conf:8: unknown section type (section skipped)" in out
    assert "tern.conf:10: section header must end with ']'" in out
    assert "config: tern.conf read, 7 error(s); node alpha" in out
    assert "node: alpha" in h.cmd("version")
    shown = h.cmd("config")
    assert "this line is wrong" in shown and "7 error(s)" in shown


def test_poweroff_ends_the_machine(make_host):
    h = make_host("off").boot()
    h.send("poweroff\r")
    h.expect("powering off")
    assert h.wait_exit(30) is not None, "QEMU still running after poweroff"


def test_reboot_resets_the_machine(make_host):
    h = make_host("reboot").boot()  # QEMU runs with -no-reboot: a reset ends the process
    h.send("reboot\r")
    h.expect("rebooting")
    assert h.wait_exit(30) is not None, "QEMU still running after reboot"
