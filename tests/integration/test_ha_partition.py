"""HA guest under a network partition (issue 8): the isolated owner pauses its guest, the
majority resumes it from the last checkpoint, and after healing the cluster has it exactly once.

Same three-host cluster as test_ha_failover.py (a, b, c on a netns bridge). g1 (the counting
test guest, ha=on) runs on a; a's bridge port goes down: a loses quorum and fences g1 (paused),
its standby declares a dead, waits out the fencing bound and resumes g1. The link comes back:
a regains quorum, asks its peers before resuming anything, finds g1 running elsewhere and
destroys its fenced copy.
"""
import re
import time

import pytest

from netns import NetNS
from ternhost import TernHost, image_with_conf
from test_ha_failover import GUEST, HOSTS, HOSTS_UP, conf, counts, run, wait_for, wait_on


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with NetNS() as ns:
        hosts = {}
        for n in HOSTS:
            img = image_with_conf(conf(n), str(tmp_path_factory.mktemp(n)))
            hosts[n] = TernHost(f"hap-{n}", image=img, smp=2, mem=512, netns=ns,
                                nics=[ns.add_tap(f"tapq{n}")])
            hosts[n].start()
        for h in hosts.values():
            h.boot()
        HOSTS_UP[:] = hosts.values()
        yield hosts, ns
        for h in hosts.values():
            h.stop()


def running(h):
    return bool(re.search(r"^g1\s+running", run(h, "vm list"), re.M))


def test_partition_fences_and_heals(cluster):
    hosts, ns = cluster
    a = hosts["a"]
    for h in hosts.values():
        wait_for(h, "ha status", r"quorum: yes \(3 of 3", timeout=60)
    run(a, GUEST)
    run(a, "vm start g1")
    m = wait_for(a, "ha guests", r"^guest g1: owner a, standby (\w+), protected", timeout=120)
    sb = hosts[m.group(1)]
    a.attach("g1")
    before = counts(a, 2)
    a.detach()
    ns.set_link("tapqa", False)  # a is cut off from b and c
    t_cut = time.monotonic()
    wait_on(a, r"ha: g1 fenced: this host lost quorum", timeout=30)
    t_fenced = time.monotonic()
    wait_on(sb, r"ha: g1 failed over to this host from a: [^\r\n]*", timeout=30)
    t_over = time.monotonic()
    print(f"partition: a fenced g1 {t_fenced - t_cut:.2f} s after the cut, "
          f"{sb.name} resumed it {t_over - t_cut:.2f} s after the cut")
    assert t_fenced < t_over
    assert re.search(r"^g1\s+paused", run(a, "vm list"), re.M)  # never two running
    sb.attach("g1")
    after = counts(sb, 2)
    sb.detach()
    assert all(e == 0 for _, e in before + after) and after[0][0] >= before[-1][0] - 60
    ns.set_link("tapqa", True)  # heal
    wait_on(a, r"ha: g1 runs on another host now: dropping the fenced copy here", timeout=60)
    time.sleep(1)
    assert "g1" not in run(a, "vm list")
    assert [running(h) for h in hosts.values()].count(True) == 1
    assert running(sb)
