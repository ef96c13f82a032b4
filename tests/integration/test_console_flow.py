"""A serial console nobody reads must not stall the host (kernel/console.c output ring).

On a real server an unread 16550 still drains at 115200 baud; under QEMU a serial backend
nobody reads never drains. Tern queues console output and sends it from the UART's transmit
interrupt, so printing never waits for the line: here a one-CPU host is made to print far
more than the socket, QEMU and Tern's ring hold while the test does not read, and it must keep
answering the network; afterwards the console works again and says what it dropped.
"""
import re
import time

import pytest

from netns import NetNS
from ternhost import TernHost

TERN_IP = "169.254.77.9"


@pytest.fixture(scope="module")
def setup():
    with NetNS() as ns:
        h = TernHost("console-flow", smp=1, mem=512, netns=ns, nics=[ns.add_tap("tapc")])
        h.start()
        h.boot()
        h.drain(1)  # boot-time log lines (link up) must not cut into the command's echo
        h.cmd(f"ip addr {TERN_IP}/24")
        yield h, ns
        h.stop()


def test_unread_console_does_not_stall_the_host(setup):
    h, ns = setup
    # each `log` prints the kernel log (2-3 KB): a thousand of them, megabytes nobody reads
    # (typed in batches that fit the console's input ring)
    for _ in range(5):
        h.send("log\r" * 200)
        time.sleep(1)
    time.sleep(3)
    out = ns.run("ping", "-c", "5", "-i", "0.5", "-W", "3", TERN_IP, check=False).stdout
    m = re.search(r"(\d+) received", out)
    assert m and int(m.group(1)) >= 4, out
    # read it all now: the shell comes back, and the dropped output is accounted for
    h.drain(20)
    h.send("\r")
    h.expect("tern> ")
    h.serial_log.flush()
    text = open(h.serial_log_path, encoding="utf-8", errors="replace").read()
    assert re.search(r"\[console: \d+ bytes dropped\]", text), "no drop marker"
    assert "Tern" in h.cmd("version")
