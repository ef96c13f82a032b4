"""The `make run` stick: a [vm demo] section in tern.conf autostarts a Debian guest."""
import os
import re

from ternhost import ROOT, TernHost, image_with_conf

DEMO = os.path.join(ROOT, "build", "tern-demo.img")


def test_demo_guest_autostarts(make_host):
    h = make_host("demo", image=DEMO, mem=1024).boot()
    assert "vm demo: autostarted; `vm console demo` attaches to it" in h.boot_output
    h.wait_guest_ready("demo")
    assert re.search(r"^42$", h.guest_run("demo", "echo $((6*7))"), re.M)
    assert re.search(r"^demo\s+running\s+2\s+256M", h.cmd("vm list"), re.M)


def test_bad_vm_sections_are_reported(make_host, tmp_path):
    conf = ("[vm a]\n"
            "kernel = vmlinuz\n"
            "mem = 3G7\n"
            "[vm b]\n"
            "mem = 64M\n"
            "[vm c]\n"
            "kernel = nosuchfile\n"
            "vcpus = 0\n"
            "[vm d]\n"
            "kernel = vmlinuz\n"
            "initrd = initrd.img\n"
            "colour = red\n"
            "[vm ok]\n"
            "kernel = vmlinuz\n"
            "initrd = initrd.img\n"
            "mem = 64M\n")
    img = image_with_conf(conf, str(tmp_path))
    h = make_host("vmconf", image=img, mem=512).boot()
    out = h.boot_output
    assert "tern.conf:3: mem must be a size of at least 16M" in out, out
    assert "tern.conf: VM a not created: fix the lines above" in out
    assert "tern.conf: VM b not created: no kernel" in out
    assert "tern.conf:7: no such file on the boot stick" in out
    assert "tern.conf:8: vcpus must be 1-16" in out
    assert "tern.conf:12: unknown VM setting" in out
    listing = h.cmd("vm list")
    assert re.search(r"^ok\s+created\s+1\s+64M", listing, re.M), listing
    for name in "abcd":
        assert not re.search(rf"^{name}\s", listing, re.M), listing
