"""HA guest failover on a two-host cluster whose third vote is the witness (issue 8).

Hosts a and b (169.254.77.1-2, smp=1) sit on a netns bridge with build/ternwitness running in
the namespace on the bridge address; each names the other as its [peer] and the witness as
`witness`, so the membership has 3 votes (a, b, witness). The HA guest is the small counting
test guest of test_ha_failover.py. It starts on a (the lowest id, so a also holds the witness
vote: the hardest case, the vote has to move to b), is replicated to b, and a's QEMU is killed:
b keeps quorum with the witness vote, resumes the guest within 5 s of the kill (measured to its
first new counter line), and the counter goes on from the checkpoint (no reboot, errors=0). b
has no host left to be the standby, so the guest then runs unprotected.
"""
import os
import re
import time

import pytest

from netns import PEER_IP, NetNS
from ternhost import ROOT, TernHost, image_with_conf
from test_ha_failover import GUEST, HOSTS_UP, counts, drain_others, run, wait_for, wait_on

KEY = "hex:" + "6b" * 32
HOSTS = {"a": "169.254.77.1", "b": "169.254.77.2"}
WITNESS = os.path.join(ROOT, "build", "ternwitness")
LEASE_MS = 500


def conf(me):
    peers = "".join(f"[peer {n}]\naddress = {ip}\n" for n, ip in HOSTS.items() if n != me)
    # A dead member is declared after 8 x 200 ms. The witness lease (500 ms) must stay under
    # half of that so the vote moves from a dead holder to b (about two leases) before b
    # declares a dead, and well above the interval so that one late heartbeat of b does not
    # let its grant (7/8 of a lease from the heartbeat it answers) expire.
    return (f"node = {me}\nip = {HOSTS[me]}/24\ncluster_key = {KEY}\nha_interval = 200\n"
            f"ha_misses = 8\nha_fence_timeout = 1000\nwitness = {PEER_IP}:7701\n{peers}")


@pytest.fixture(scope="module")
def duo(tmp_path_factory):
    assert os.access(WITNESS, os.X_OK), "make ternwitness first"
    with NetNS() as ns:
        os.makedirs(os.path.join(ROOT, "build", "test-logs"), exist_ok=True)
        wlog = open(os.path.join(ROOT, "build", "test-logs", "ternwitness-ha.log"), "w")
        witness = ns.popen(WITNESS, "-k", KEY, "-l", str(LEASE_MS), stdout=wlog, stderr=wlog)
        hosts = {}
        try:
            for n in HOSTS:
                img = image_with_conf(conf(n), str(tmp_path_factory.mktemp(n)))
                hosts[n] = TernHost(f"haw-{n}", image=img, smp=1, mem=512, netns=ns,
                                    nics=[ns.add_tap(f"tapw{n}")])
                hosts[n].start()
            for h in hosts.values():
                h.boot()
            HOSTS_UP[:] = hosts.values()
            yield hosts
        finally:
            for h in hosts.values():
                h.stop()
            witness.terminate()
            witness.wait(timeout=10)
            wlog.close()


def test_witness_failover(duo):
    a, b = duo["a"], duo["b"]
    for h in (a, b):
        wait_for(h, "ha status", r"quorum: yes \(3 of 3", timeout=60)
    assert re.search(r"vote counted \(holder a\)", run(b, "ha status"))
    assert "created VM g1" in run(a, GUEST)
    t0 = time.monotonic()
    run(a, "vm start g1")
    wait_for(a, "ha guests", r"^guest g1: owner a, standby b, protected", timeout=120)
    print(f"protected {time.monotonic() - t0:.1f} s after start")
    wait_for(b, "ha guests", r"^replica g1: owner a, standby b \(here\), ready", timeout=30)
    m = wait_for(a, "ha guests", r"^guest g1: owner a, standby b, protected.*", timeout=60)
    print(m.group(0))
    a.attach("g1")
    before = counts(a, 3)
    while before[-1][0] < 20:  # far enough from a boot's n=0 to tell a reboot apart
        before = before[1:] + counts(a, 1)
    # kill right after b applied a fresh checkpoint past the full copy (on a loaded machine a
    # checkpoint can take seconds; failing over from an old one is right but says less)
    for _ in range(60):
        m = re.search(r"^replica g1: .* checkpoint (\d+) applied (\d+) ms ago",
                      run(b, "ha guests"), re.M)
        if m and int(m.group(1)) >= 3 and int(m.group(2)) < 1000:
            break
        drain_others(b, 0.2)
    else:
        raise AssertionError("b applied no fresh checkpoint")
    print(m.group(0))
    applied = int(m.group(1))
    # a (owner and witness vote holder) dies without warning while g1 runs
    a.kill()
    t_kill = time.monotonic()
    wait_on(b, r"ha: g1 failed over to this host from a: checkpoint (\d+) \((\d+) ms old\), "
            r"running after (\d+) ms", timeout=30)
    t_resumed = time.monotonic()
    print(b.con.match.group(0))
    assert int(b.con.match.group(1)) >= applied, (applied, b.con.match.group(0))
    b.attach("g1")
    after = counts(b, 3, timeout=30)
    t_answer = time.monotonic()
    b.detach()
    failover_s = t_answer - t_kill
    print(f"WITNESS FAILOVER: kill -> resumed {t_resumed - t_kill:.2f} s, kill -> counting "
          f"again {failover_s:.2f} s; counter before {before}, after {after}")
    assert all(e == 0 for _, e in before + after), (before, after)
    # continued from a checkpoint at least as new as the one b had applied at the kill: no
    # reboot (n restarts at 0 on a boot), no big jump
    assert after[0][0] > 5 and after[0][0] <= before[-1][0] + 60, (before, after)
    ns = [x[0] for x in after]
    assert ns == list(range(ns[0], ns[0] + 3)), after
    assert failover_s < 5.0, f"failover took {failover_s:.2f} s"
    # b kept quorum throughout (its own vote and the witness's), never fenced
    out = run(b, "ha status")
    assert "quorum: yes (2 of 3 votes)" in out, out
    assert "vote counted (holder b)" in out, out
    log = run(b, "log")
    assert "quorum LOST" not in log and "fenced" not in log, log
    # nobody is left to be the standby: g1 runs unprotected on b
    wait_for(b, "ha guests", r"^guest g1: owner b, standby -, unprotected", timeout=30)
    assert re.search(r"^g1\s+running", run(b, "vm list"), re.M)
