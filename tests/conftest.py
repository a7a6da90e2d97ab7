"""Shared pytest wiring: the requires(...) marker, root tiers, and the leak check."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing.features import strict, unmet
from dockyard.testing.leaks import Snapshot

ROOT_TIERS = ("kernel", "conformance", "integration", "e2e")
TESTS = Path(__file__).parent


def _tier(item: pytest.Item) -> str:
    try:
        return Path(item.fspath).relative_to(TESTS).parts[0]
    except ValueError:
        return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _tier(item) in ROOT_TIERS:
            item.add_marker(pytest.mark.requires("root"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    wanted: tuple[str, ...] = ()
    for mark in item.iter_markers("requires"):
        wanted += tuple(mark.args)
    if not wanted:
        return
    lacking = unmet(wanted)
    if lacking:
        msg = "host lacks " + "; ".join(lacking)
        if strict():
            pytest.fail(msg + " (CI expects every feature: install or enable it)")
        pytest.skip(msg)


@pytest.fixture(autouse=True)
def _leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    if _tier(request.node) not in ROOT_TIERS or os.geteuid() != 0:
        yield
        return
    before = Snapshot.take()
    yield
    leaked = Snapshot.take().leaked_since(before)
    if leaked:
        pytest.fail("test leaked: " + ", ".join(leaked))
