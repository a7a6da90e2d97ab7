"""Integration fixtures: a private Docker daemon (the reference peer) for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dockyard.testing.dockerd import Dockerd, DockerdUnavailable
from dockyard.testing.features import strict


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    """dockerd 20.10 on its own socket and dyt- data dirs; stopped and removed at the end."""
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    try:
        daemon = Dockerd.start()
    except DockerdUnavailable as e:
        if strict():
            pytest.fail(f"the reference dockerd is unavailable: {e}")
        pytest.skip(f"the reference dockerd is unavailable: {e}")
    try:
        yield daemon
    finally:
        daemon.stop()
