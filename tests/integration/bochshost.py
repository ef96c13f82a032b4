"""Boot Tern images under Bochs (Intel VT-x + EPT) and drive their serial consoles.

QEMU's TCG has no VMX, so the Intel backend is tested under Bochs 2.7 (../shared/PLATFORM.md).
BochsHost has the console API of TernHost (ternhost.py): boot(), cmd(), send(), expect(),
attach()/detach(), guest_run(), stop(). tools/bochs.sh writes the Bochs configuration and
starts bochs-bin; COM1 is a TCP server on 127.0.0.1 that Bochs waits on before it runs, so
nothing printed is lost.

    with BochsHost("vmx") as h:
        h.boot()
        out = h.cmd("version")

Bochs emulates every instruction: its UEFI boot to the Tern prompt takes about 20 s, guest
code runs at roughly 100 MIPS. One host CPU is used (OVMF under Bochs has no ACPI tables).
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pexpect
import pexpect.fdpexpect

from ternhost import IMAGE, LIVE, PROMPT, ROOT, TernHost

BOCHS_SH = os.path.join(ROOT, "tools", "bochs.sh")


def bochs_available():
    """bochs-bin, the 2 MiB OVMF halves and the VGA BIOS are installed (tools/deps.sh)."""
    need = ["/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd",
            "/usr/share/vgabios/vgabios.bin"]
    return shutil.which("bochs-bin") is not None and all(os.path.exists(p) for p in need)


def _die_with_parent():
    """Runs in the child before exec: Bochs gets SIGKILL when the test process dies, so a
    killed test run leaves no emulator behind (PR_SET_PDEATHSIG survives the exec)."""
    import ctypes
    import signal
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BochsHost(TernHost):
    """One Tern host under Bochs; the console API is TernHost's."""

    def __init__(self, name="tern-bochs", image=IMAGE, cpu="corei7_skylake_x", mem=1024,
                 boot_timeout=240, logdir=None, ips=50000000):
        super().__init__(name=name, image=image, smp=1, mem=mem, cpu=cpu,
                         boot_timeout=boot_timeout, logdir=logdir)
        self.ips = ips
        self.bochs_log = os.path.join(self.logdir, f"{name}.bochs.log")

    def qemu_command(self):
        raise NotImplementedError("BochsHost runs Bochs, not QEMU")

    def start(self):
        """Start Bochs and connect to its COM1 server (Bochs waits for us before running)."""
        self.started_at = time.monotonic()
        LIVE.add(self)
        port = free_port()
        env = dict(os.environ, BOCHS_DIR=self.dir, BOCHS_CPU=self.cpu,
                   BOCHS_MEM=str(self.mem), BOCHS_IPS=str(self.ips), BOCHS_LOG=self.bochs_log)
        self.stderr = open(os.path.join(self.dir, "qemu.stderr"), "w")
        self.proc = subprocess.Popen([BOCHS_SH, self.image, f"socket:{port}"], env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.stderr,
                                     stderr=self.stderr, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: Bochs did not start: {self.qemu_stderr()}")
                time.sleep(0.1)
        self.sock.settimeout(None)
        self.serial_log = open(self.serial_log_path, "w", encoding="utf-8", errors="replace")
        self.con = pexpect.fdpexpect.fdspawn(self.sock.fileno(), encoding="utf-8",
                                            codec_errors="replace", timeout=60)
        self.con.logfile_read = self.serial_log
        return self

    def qemu_stderr(self):
        """Bochs's own output, and the end of its log (panics and errors land there)."""
        text = super().qemu_stderr()
        try:
            with open(self.bochs_log, errors="replace") as f:
                tail = f.read()[-1500:]
            text += "\n--- bochs log tail ---\n" + tail
        except OSError:
            pass
        return text

    def send(self, text):
        """Type text slowly: Bochs's UART model takes about one byte per emulated character
        time and drops what the guest has not read yet."""
        for ch in text:
            self.con.send(ch)
            time.sleep(0.02)

    def cmd(self, line, timeout=120):
        """Run one shell command (Bochs is slow: longer default timeout)."""
        return super().cmd(line, timeout=timeout)

    def stop(self):
        """Kill Bochs and clean up (its temporary disk copy lives in self.dir)."""
        super().stop()

    def qmp(self, command, **arguments):
        raise NotImplementedError("no QMP under Bochs")
