"""pytest fixtures for the Tern test bed (see ternhost.py)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from ternhost import LIVE, TernHost, start_hosts, stop_hosts  # noqa: E402


@pytest.fixture
def make_host(request):
    """Factory for hosts that are stopped when the test ends: make_host(name, **opts)."""
    hosts = []

    def factory(name="tern", **kw):
        h = TernHost(f"{request.node.name}-{name}", **kw)
        hosts.append(h)
        return h

    yield factory
    stop_hosts(hosts)


@pytest.fixture(scope="module")
def host(request):
    """One booted host shared by all tests of a module (smp/mem from module attributes)."""
    mod = request.module
    h = TernHost(mod.__name__.split(".")[-1], smp=getattr(mod, "SMP", 2),
                 mem=getattr(mod, "MEM", 512), extra_args=getattr(mod, "QEMU_ARGS", ()))
    start_hosts([h])
    yield h
    h.stop()


@pytest.fixture(scope="module", autouse=True)
def stop_leftover_hosts():
    """Stop hosts a module left running (e.g. when a fixture failed before its teardown)."""
    yield
    stop_hosts(list(LIVE))
