"""Joining a cgroup without the kernel's global migration lock, and the one-pass removal.

``join_self`` writes "0" to each v1 hierarchy's ``tasks`` file; ``clone_dir`` names the
cgroup2 directory a child is forked into; ``remove_if_empty`` removes an emptied cgroup
with one rmdir per hierarchy and says when something is left in it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dockyard import errors
from dockyard.cgroups import manager_for

from .fakes import FakeV1, FakeV2

PATH = "/dockyard/c1"


def test_v1_join_self_writes_zero_to_every_tasks_file(tmp_path: Path) -> None:
    fake = FakeV1(tmp_path)
    fake.cgroup(PATH)
    m = manager_for(PATH, fake.root)
    m.join_self()
    for name in fake.hierarchies:
        assert (fake.root / name / "dockyard/c1/tasks").read_text() == "0"
        assert (fake.root / name / "dockyard/c1/cgroup.procs").read_text() == ""
    assert m.clone_dir() is None  # nothing is left for a cgroup2 clone


def test_v1_join_self_fails_on_a_missing_controller_cgroup(tmp_path: Path) -> None:
    fake = FakeV1(tmp_path)
    m = manager_for(PATH, fake.root)  # never created
    with pytest.raises(errors.NotFound, match="does not exist"):
        m.join_self()


def test_join_self_skips_a_broken_named_hierarchy(tmp_path: Path) -> None:
    fake = FakeV1(tmp_path)
    fake.cgroup(PATH)
    shutil.rmtree(fake.root / "systemd/dockyard/c1")
    m = manager_for(PATH, fake.root)
    m.join_self()
    assert (fake.root / "memory/dockyard/c1/tasks").read_text() == "0"


def test_hybrid_leaves_the_cgroup2_side_to_the_clone(tmp_path: Path) -> None:
    v1, v2 = FakeV1(tmp_path), FakeV2(tmp_path / "unified", controllers="")
    v1.cgroup(PATH)
    v2.cgroup(PATH)
    m = manager_for(PATH, v1.root)
    m.join_self()
    assert (v1.root / "pids/dockyard/c1/tasks").read_text() == "0"
    assert v2.read(PATH, "cgroup.procs") == ""
    assert m.clone_dir() == str(v2.dir(PATH))


def test_v2_is_all_clone(tmp_path: Path) -> None:
    v2 = FakeV2(tmp_path)
    v2.cgroup(PATH)
    m = manager_for(PATH, v2.root)
    m.join_self()
    assert v2.read(PATH, "cgroup.procs") == ""
    assert m.clone_dir() == str(v2.dir(PATH))


@pytest.mark.parametrize("layout", ["v1", "hybrid", "v2"])
def test_remove_if_empty_removes_an_empty_cgroup(tmp_path: Path, layout: str) -> None:
    if layout == "v2":
        root = FakeV2(tmp_path).root
    else:
        root = FakeV1(tmp_path).root
        if layout == "hybrid":
            FakeV2(tmp_path / "unified", controllers="")
    m = manager_for(PATH, root)
    m.create()
    assert m.exists()
    assert m.remove_if_empty()
    assert not m.exists()
    assert m.remove_if_empty()  # nothing left: still True


def test_remove_if_empty_stops_at_a_busy_cgroup(tmp_path: Path) -> None:
    fake = FakeV1(tmp_path)
    m = manager_for(PATH, fake.root)
    m.create()
    (fake.root / "memory/dockyard/c1/nested").mkdir()  # a child cgroup keeps it busy
    assert not m.remove_if_empty()
    assert (fake.root / "memory/dockyard/c1").is_dir()
    m.destroy()  # the full removal still handles it
    assert not m.exists()
