"""Fixtures of the e2e tier: a private dockyardd per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.testing.daemon import Daemon


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """A running daemon; stopped with SIGTERM (checked: exit 0, socket gone) and removed."""
    d = Daemon.start()
    try:
        yield d
        d.stop()
    finally:
        d.cleanup()


@pytest.fixture
def names(daemon: Daemon) -> Iterator[list[str]]:
    """Containers to remove (forced) at the end, even when the test failed (a daemon the
    test left down is started again first)."""
    made: list[str] = []
    try:
        yield made
    finally:
        if daemon.proc is not None and daemon.proc.poll() is not None:
            daemon.restart()
        for n in made:
            daemon.docker("rm", "-f", n, check=False, timeout=30)
