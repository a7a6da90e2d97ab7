from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .fakedaemon import FakeDaemon, serve


@pytest.fixture
def fake() -> FakeDaemon:
    return FakeDaemon()


@pytest.fixture
def host(fake: FakeDaemon, tmp_path: Path) -> Iterator[str]:
    with serve(fake, tmp_path) as h:
        yield h
