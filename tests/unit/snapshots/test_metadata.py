"""The snapshot graph and its file: transitions, errors, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.snapshots.metadata import MetaStore
from dockyard.snapshots.snapshotter import Info, Kind


def store(tmp_path: Path) -> MetaStore:
    return MetaStore(tmp_path / "metadata.json", durable=False)


def test_a_chain_persists_across_instances(tmp_path: Path) -> None:
    m = store(tmp_path)
    m.check_new("a", None)
    m.add("a", m.new_id(), None, Kind.ACTIVE)
    m.commit("base", "a")
    m.check_new("b", "base")
    m.add("b", m.new_id(), "base", Kind.ACTIVE)
    m.extra["links"] = {"1": "ABC"}
    m.save()
    again = store(tmp_path)
    assert [r.key for r in again.chain("b")] == ["b", "base"]
    assert again.get("base").info() == Info("base", None, Kind.COMMITTED)
    assert again.get("b").id == "2"
    assert again.new_id() == "3"  # ids are never reused
    assert again.extra == {"links": {"1": "ABC"}}
    assert json.loads((tmp_path / "metadata.json").read_text())["format"] == 1


def test_no_temp_file_is_left(tmp_path: Path) -> None:
    m = store(tmp_path)
    m.add("a", m.new_id(), None, Kind.ACTIVE)
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


def test_transitions_are_checked(tmp_path: Path) -> None:
    m = store(tmp_path)
    m.add("a", m.new_id(), None, Kind.ACTIVE)
    with pytest.raises(Conflict):
        m.check_new("a", None)
    with pytest.raises(Conflict):
        m.check_new("b", "a")  # parent not committed
    with pytest.raises(NotFound):
        m.check_new("b", "nope")
    with pytest.raises(InvalidArgument):
        m.check_new("", None)
    m.commit("c", "a")
    with pytest.raises(Conflict):
        m.commit("d", "c")  # committed snapshots do not commit again
    m.add("v", m.new_id(), "c", Kind.VIEW)
    with pytest.raises(Conflict) as e:
        m.remove("c")
    assert "v" in str(e.value)
    m.remove("v")
    m.remove("c")
    assert list(m.records()) == []
    with pytest.raises(NotFound):
        m.get("c")


def test_a_corrupt_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="metadata"):
        store(tmp_path)
