"""Fixtures for the store tests: a content store and a metadata store in tmp_path."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.store import ContentStore, MetadataStore


@pytest.fixture
def content(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "content")


@pytest.fixture
def meta(tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(tmp_path / "metadata.db")
    yield store
    store.close()
