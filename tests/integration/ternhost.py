"""Boot Tern images in QEMU and drive their serial consoles (pytest + pexpect test bed).

A TernHost is one emulated server: its own QEMU process (TCG, AMD EPYC-Rome with SVM+NPT, q35,
OVMF with a private variable store), the USB-stick image attached through xhci + usb-storage
(copy-on-write, so hosts never share writes), the serial console on a Unix socket driven with
pexpect, a QMP socket for control (link up/down, quit), and optional NICs on any QEMU netdev.

    with TernHost("a", smp=2, mem=512) as h:
        h.boot()
        out = h.cmd("cpus")

start_hosts()/stop_hosts() start several at once for multi-host tests.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pexpect
import pexpect.fdpexpect

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IMAGE = os.path.join(ROOT, "build", "tern.img")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
PROMPT = "tern> "
ANSI = re.compile(r"\x1b\[[0-9;=]*[A-Za-z]")


def clean(text):
    """Console text without carriage returns and ANSI escape sequences."""
    return ANSI.sub("", text.replace("\r", ""))


class GuestRun:
    counter = 0


GUEST_CMDLINE_FILE = os.path.join(ROOT, "tools", "guest", "cmdline.default")


def guest_cmdline(extra=""):
    """The default Debian test-guest command line (tools/guest/cmdline.default)."""
    with open(GUEST_CMDLINE_FILE) as f:
        return (f.read().strip() + " " + extra).strip()


class TernHost:
    """One Tern host in QEMU; see the module docstring."""

    hosts_made = 0

    def __init__(self, name="tern", image=IMAGE, smp=2, mem=512, cpu="EPYC-Rome",
                 nics=(), extra_args=(), boot_timeout=120, logdir=None, netns=None,
                 nic_model="virtio-net-pci"):
        self.name = name
        # a different MAC for every host of this test process (a hash of the name collided:
        # Python's str hash is salted per process, 1 in 256 pairs shared a MAC)
        TernHost.hosts_made += 1
        self.mac_byte = TernHost.hosts_made % 256
        self.image = image
        self.smp = smp
        self.mem = mem
        self.cpu = cpu
        self.nics = list(nics)  # e.g. ["socket,listen=127.0.0.1:5555"], model via nic_model
        self.nic_model = nic_model
        self.netns = netns  # a NetNS: QEMU runs inside it (for tap NICs)
        self.extra_args = list(extra_args)
        self.boot_timeout = boot_timeout
        self.dir = tempfile.mkdtemp(prefix=f"tern-{name}-")
        self.logdir = logdir or os.path.join(ROOT, "build", "test-logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.serial_log_path = os.path.join(self.logdir, f"{name}.serial.log")
        self.proc = None
        self.con = None
        self.sock = None
        self.qmp_sock = None
        self.boot_seconds = None
        self.started_at = None

    # ---- lifecycle ---------------------------------------------------------------------
    def qemu_command(self):
        """The QEMU command line for this host."""
        vars_copy = os.path.join(self.dir, "vars.fd")
        shutil.copyfile(OVMF_VARS, vars_copy)
        cmd = [
            "qemu-system-x86_64", "-machine", "q35,accel=tcg", "-cpu", self.cpu,
            "-smp", str(self.smp), "-m", str(self.mem),
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={vars_copy}",
            "-device", "qemu-xhci,id=xhci",
            "-drive", f"if=none,id=stick,format=raw,file={self.image},snapshot=on",
            "-device", "usb-storage,bus=xhci.0,drive=stick,bootindex=0",
            "-display", "none", "-no-reboot", "-nodefaults",
            "-chardev", f"socket,id=ser0,path={self.dir}/serial.sock,server=on,wait=on",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{self.dir}/qmp.sock,server=on,wait=off",
        ]
        if not self.nics:
            cmd += ["-nic", "none"]
        for i, netdev in enumerate(self.nics):
            model = self.nic_model
            mac = f"52:54:00:7e:{self.mac_byte:02x}:{i + 1:02x}"
            if isinstance(netdev, tuple):
                netdev, model = netdev
            cmd += ["-netdev", f"{netdev},id=net{i}",
                    "-device", f"{model},netdev=net{i},mac={mac}"]
        return cmd + self.extra_args

    def start(self):
        """Start QEMU and attach to its serial console (QEMU waits for us before running)."""
        self.started_at = time.monotonic()
        LIVE.add(self)
        self.stderr = open(os.path.join(self.dir, "qemu.stderr"), "w")
        cmd = self.qemu_command()
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns.name] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=self.stderr)
        path = os.path.join(self.dir, "serial.sock")
        deadline = time.monotonic() + 20
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: QEMU did not start: {self.qemu_stderr()}")
                time.sleep(0.05)
        self.serial_log = open(self.serial_log_path, "w", encoding="utf-8", errors="replace")
        self.con = pexpect.fdpexpect.fdspawn(self.sock.fileno(), encoding="utf-8",
                                            codec_errors="replace", timeout=30)
        self.con.logfile_read = self.serial_log
        return self

    def boot(self):
        """Start (if needed) and wait for the first shell prompt; records boot_seconds."""
        if not self.proc:
            self.start()
        self.expect(PROMPT, timeout=self.boot_timeout)
        self.boot_seconds = time.monotonic() - self.started_at
        self.boot_output = clean(self.con.before)
        return self

    def qemu_stderr(self):
        try:
            with open(os.path.join(self.dir, "qemu.stderr")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Wait for QEMU to exit; returns its exit code or None on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """Hard-kill QEMU (a host dying without warning)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=10)

    def drain(self, seconds=0.5):
        """Read what the console printed but no test waited for (into the serial log)."""
        if not self.con:
            return
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.con.read_nonblocking(65536, timeout=0.1)
            except pexpect.TIMEOUT:
                continue
            except (pexpect.EOF, OSError, ValueError):
                break

    def stop(self):
        """Kill QEMU and clean up; safe to call twice."""
        LIVE.discard(self)
        self.drain()
        self.kill()
        for f in (self.con, self.sock, self.qmp_sock):
            try:
                if f is self.con and f:
                    f.close()
                elif f:
                    f.close()
            except Exception:
                pass
        self.con = self.sock = self.qmp_sock = None
        if getattr(self, "serial_log", None):
            self.serial_log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- console -----------------------------------------------------------------------
    def expect(self, pattern, timeout=30):
        """Wait for a regex (or list of them) on the console; returns the index matched."""
        try:
            return self.con.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            tail = clean(self.con.before or "")[-3000:]
            raise AssertionError(
                f"{self.name}: waiting for {pattern!r}: {type(e).__name__}\n"
                f"--- console tail ---\n{tail}\n--- qemu stderr ---\n{self.qemu_stderr()}"
            ) from None

    def send(self, text):
        """Type text on the console (no newline added)."""
        self.con.send(text)

    def cmd(self, line, timeout=60):
        """Run one shell command and return its output (echo and prompt removed)."""
        self.send(line + "\r")
        self.expect(re.escape(line) + r"\r*\n", timeout=timeout)
        self.expect("\n" + re.escape(PROMPT), timeout=timeout)
        return clean(self.con.before) + "\n"

    # ---- guests ------------------------------------------------------------------------
    def attach(self, vm):
        """`vm console VM` and wait until live output starts (history is printed before)."""
        self.send(f"vm console {vm}\r")
        self.expect(rf"\[attached to {re.escape(vm)}; Ctrl-\] detaches\]")

    def detach(self):
        """Ctrl-] back to the Tern shell."""
        self.send("\x1d")
        self.expect(r"\[detached from ")
        self.expect(re.escape(PROMPT))

    def guest_run(self, vm, command, timeout=120):
        """Run a shell command in a guest through its console; returns its output."""
        GuestRun.counter += 1
        tag = f"TT{os.getpid() % 10000}x{GuestRun.counter}"
        self.attach(vm)
        self.send(f"echo {tag}B; {command}; echo {tag}E\r")
        # the newline after the begin tag is left for the end tag's match (empty output)
        self.expect(rf"\n{tag}B\r?(?=\n)", timeout=timeout)
        self.expect(rf"\n{tag}E\r?\n", timeout=timeout)
        out = clean(self.con.before)
        self.detach()
        return out

    def wait_guest_ready(self, vm, timeout=300):
        """Attach and wait for the Debian test guest's ready marker (docs/guest.md)."""
        self.send(f"vm console {vm}\r")
        self.expect(r"TERN-GUEST-READY", timeout=timeout)
        self.expect(r"# ", timeout=60)
        self.detach()

    # ---- QMP ---------------------------------------------------------------------------
    def qmp(self, command, **arguments):
        """Run a QMP command (e.g. set_link) and return its result."""
        if self.qmp_sock is None:
            self.qmp_sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.qmp_sock.connect(os.path.join(self.dir, "qmp.sock"))
            self.qmp_file = self.qmp_sock.makefile("rw")
            json.loads(self.qmp_file.readline())  # greeting
            self._qmp_send({"execute": "qmp_capabilities"})
        return self._qmp_send({"execute": command, "arguments": arguments})

    def _qmp_send(self, msg):
        self.qmp_file.write(json.dumps(msg) + "\n")
        self.qmp_file.flush()
        while True:
            reply = json.loads(self.qmp_file.readline())
            if "return" in reply or "error" in reply:
                return reply


# Hosts started and not yet stopped: conftest stops leftovers (a fixture whose set-up failed)
# at the end of each test module, so that they cannot hold addresses the next module uses.
LIVE = set()


def start_hosts(hosts):
    """Start several hosts, then wait for all their prompts (boots overlap)."""
    for h in hosts:
        h.start()
    for h in hosts:
        h.boot()
    return hosts


def stop_hosts(hosts):
    for h in hosts:
        h.stop()


def image_with_conf(conf_text, tmpdir, images_dir=None):
    """Build a copy of the stick image with a different tern.conf; returns its path."""
    conf = os.path.join(tmpdir, "tern.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    out = os.path.join(tmpdir, "tern.img")
    subprocess.run([os.path.join(ROOT, "tools", "mkimage.sh"), out,
                    os.path.join(ROOT, "build", "BOOTX64.EFI"),
                    os.path.join(ROOT, "build", "tern.elf"), conf,
                    images_dir or os.path.join(ROOT, "build", "images")],
                   check=True, capture_output=True)
    return out
