#!/bin/sh
# qemu-baseline.sh [options]: boots the Tern test guest (build/images/vmlinuz + initrd.img)
# directly under plain QEMU TCG, waits for TERN-GUEST-READY, types `echo $((6*7))`, checks the
# answer 42 and prints the times from QEMU start to the marker and to the answer: the baseline
# for "guest boot time under Tern vs plain QEMU". Exits non-zero on any failure; every boot is
# bounded by a timeout.
#   -s LIST    vCPU counts to boot with, comma separated (default 1,2)
#   -n RUNS    boots per vCPU count (default 1); the table shows each run, then the median
#   -m MIB     guest memory (default 256)
#   -c LINE    kernel command line (default: tools/guest/cmdline.default)
#   -a OPTS    options appended to the command line (e.g. "loglevel=7", "tern.modules=1")
#   -p         sparse platform like Tern's: -nodefaults, q35 without i8042/HPET/SATA/SMBus/USB,
#              no VGA, no NIC (just the UART, PIT, RTC, LAPIC/IOAPIC, PCI host, ACPI)
#   -q ARGS    extra QEMU arguments
#   -t SECS    timeout per boot (default 90)
#   -l DIR     keep each boot's console output in DIR/baseline-smpN-runK.log
#   -k FILE    kernel (default build/images/vmlinuz)
#   -i FILE    initramfs (default build/images/initrd.img)
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "$@" <<'PYEOF'
import getopt
import os
import re
import shlex
import statistics
import sys
import time

import pexpect

MARKER = "TERN-GUEST-READY"
PROMPT = "tern-guest# "


def usage():
    sys.stderr.write("usage: qemu-baseline.sh [-s 1,2] [-n RUNS] [-m MIB] [-c CMDLINE] "
                     "[-a OPTS] [-p] [-q QEMU_ARGS] [-t SECS] [-l LOGDIR] [-k KERNEL] "
                     "[-i INITRD]\n")
    sys.exit(2)


def boot(smp, opt, run):
    """Boots once; returns (seconds to marker, seconds to answer, guest uptime at ready)."""
    cmd = ["qemu-system-x86_64", "-cpu", "EPYC-Rome", "-m", str(opt["mem"]), "-smp", str(smp),
           "-kernel", opt["kernel"], "-initrd", opt["initrd"], "-append", opt["cmdline"],
           "-no-reboot"]
    if opt["sparse"]:
        cmd += ["-machine", "q35,accel=tcg,i8042=off,hpet=off,sata=off,smbus=off,usb=off",
                "-nodefaults", "-vga", "none", "-nographic", "-serial", "mon:stdio"]
    else:
        cmd += ["-machine", "q35,accel=tcg", "-nographic"]
    cmd += opt["qemu_args"]
    log = None
    if opt["logdir"]:
        os.makedirs(opt["logdir"], exist_ok=True)
        log = open(os.path.join(opt["logdir"], "baseline-smp%d-run%d.log" % (smp, run)), "w")
    deadline = time.monotonic() + opt["timeout"]
    t0 = time.monotonic()
    child = pexpect.spawn(cmd[0], cmd[1:], encoding="utf-8", codec_errors="replace",
                          timeout=opt["timeout"], maxread=65536)
    child.logfile_read = log
    bad = [r"Kernel panic", r"\(qemu\) ", pexpect.EOF, pexpect.TIMEOUT]

    def expect(pattern, what):
        left = max(1.0, deadline - time.monotonic())
        i = child.expect([pattern] + bad, timeout=left)
        if i != 0:
            why = ["kernel panic", "QEMU monitor", "QEMU exited", "timeout"][i - 1]
            tail = (child.before or "")[-3000:]
            raise RuntimeError("smp=%d: %s while waiting for %s; last output:\n%s"
                               % (smp, why, what, tail))

    try:
        expect(r"\n" + MARKER + r"\r*\n", "the ready marker")
        t_ready = time.monotonic() - t0
        before = child.before or ""
        m = re.findall(r"tern-init: ready after ([0-9.]+)s", before)
        up = float(m[-1]) if m else float("nan")
        expect(re.escape(PROMPT), "the shell prompt")
        child.send("echo $((6*7))\r")
        expect(r"\n42\r*\n", "the answer 42")
        t_answer = time.monotonic() - t0
        return t_ready, t_answer, up
    finally:
        child.terminate(force=True)
        if log:
            log.close()


def main(argv):
    opt = {"smp": [1, 2], "runs": 1, "mem": 256, "cmdline": None, "append": "",
           "sparse": False, "qemu_args": [], "timeout": 90.0, "logdir": None,
           "kernel": "build/images/vmlinuz", "initrd": "build/images/initrd.img"}
    try:
        opts, rest = getopt.getopt(argv, "s:n:m:c:a:pq:t:l:k:i:h")
        for o, v in opts:
            if o == "-s":
                opt["smp"] = [int(x) for x in v.split(",")]
                if not opt["smp"] or min(opt["smp"]) < 1 or max(opt["smp"]) > 64:
                    usage()
            elif o == "-n":
                opt["runs"] = int(v)
                if not 1 <= opt["runs"] <= 50:
                    usage()
            elif o == "-m":
                opt["mem"] = int(v)
                if not 64 <= opt["mem"] <= 65536:
                    usage()
            elif o == "-c":
                opt["cmdline"] = v
            elif o == "-a":
                opt["append"] = v
            elif o == "-p":
                opt["sparse"] = True
            elif o == "-q":
                opt["qemu_args"] = shlex.split(v)
            elif o == "-t":
                opt["timeout"] = float(v)
                if not 1 <= opt["timeout"] <= 3600:
                    usage()
            elif o == "-l":
                opt["logdir"] = v
            elif o == "-k":
                opt["kernel"] = v
            elif o == "-i":
                opt["initrd"] = v
            else:
                usage()
    except (getopt.GetoptError, ValueError):
        usage()
    if rest:
        usage()
    if opt["cmdline"] is None:
        with open("tools/guest/cmdline.default") as f:
            opt["cmdline"] = " ".join(f.read().split())
    opt["cmdline"] = (opt["cmdline"] + " " + opt["append"]).strip()
    for f in (opt["kernel"], opt["initrd"]):
        if not os.path.isfile(f):
            sys.exit("qemu-baseline: %s missing (run tools/mkguest.sh)" % f)

    print("qemu-baseline: %s, %d MiB, cmdline: %s"
          % ("sparse q35" if opt["sparse"] else "q35", opt["mem"], opt["cmdline"]))
    print("%-5s %-4s %12s %13s %16s" % ("vcpus", "run", "ready (s)", "answer (s)",
                                         "guest uptime (s)"))
    failed = False
    for smp in opt["smp"]:
        ready, answer = [], []
        for run in range(1, opt["runs"] + 1):
            try:
                r, a, up = boot(smp, opt, run)
            except RuntimeError as e:
                print("qemu-baseline: FAIL: %s" % e)
                failed = True
                continue
            ready.append(r)
            answer.append(a)
            print("%-5d %-4d %12.2f %13.2f %16.2f" % (smp, run, r, a, up), flush=True)
        if opt["runs"] > 1 and ready:
            print("%-5d %-4s %12.2f %13.2f" % (smp, "med", statistics.median(ready),
                                               statistics.median(answer)))
    print("qemu-baseline: %s" % ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


sys.exit(main(sys.argv[1:]))
PYEOF
