"""Integration fixtures: a private Docker daemon (the reference peer) for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.kernel.probe import missing
from dockyard.testing.btrfs import loop_btrfs
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


@pytest.fixture(scope="session", autouse=True)
def btrfs_mount(request: pytest.FixtureRequest) -> Iterator[Path | None]:
    """A loop-mounted btrfs for the ``[btrfs]`` store cases, made before the first test's
    leak check looks at the mounts (hence autouse) and only if such a case was selected."""
    wanted = any(i.nodeid.endswith("[btrfs]") for i in request.session.items)
    if not wanted or missing(("root", "btrfs")):
        yield None
        return
    with loop_btrfs() as point:
        yield point
