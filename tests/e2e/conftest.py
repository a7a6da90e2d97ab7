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
