"""CgroupHybridManager: v1 limits plus best-effort tracking in the cgroup2 mount."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from dockyard.cgroups import CgroupHybridManager, Resources, manager_for

from .fakes import FakeV1, FakeV2

PATH = "/dockyard/c1"


@pytest.fixture
def fakes(tmp_path: Path) -> tuple[FakeV1, FakeV2]:
    return FakeV1(tmp_path), FakeV2(tmp_path / "unified", controllers="hugetlb")


def _manager(root: Path) -> CgroupHybridManager:
    m = manager_for(PATH, root)
    assert isinstance(m, CgroupHybridManager)
    return m


def test_create_and_destroy_include_the_cgroup2_side(fakes: tuple[FakeV1, FakeV2]) -> None:
    v1, v2 = fakes
    m = _manager(v1.root)
    m.create()
    assert v2.dir(PATH).is_dir()
    assert v1.dir("memory", PATH).is_dir()
    # No controller is switched on in the host's cgroup2 root.
    assert (v2.root / "cgroup.subtree_control").read_text() == ""
    m.destroy()
    assert not v2.dir(PATH).exists()
    assert not m.exists()


def test_apply_joins_both_sides(fakes: tuple[FakeV1, FakeV2]) -> None:
    v1, v2 = fakes
    v1.cgroup(PATH)
    v2.cgroup(PATH)
    m = _manager(v1.root)
    m.apply(99)
    assert v2.read(PATH, "cgroup.procs") == "99"
    assert v1.read("memory", PATH, "cgroup.procs") == "99"
    assert m.pids() == [99]


def test_limits_go_to_v1(fakes: tuple[FakeV1, FakeV2]) -> None:
    v1, v2 = fakes
    v1.cgroup(PATH)
    v2.cgroup(PATH)
    _manager(v1.root).set(Resources(memory_limit=1 << 24, pids_limit=4))
    assert v1.read("memory", PATH, "memory.limit_in_bytes") == str(1 << 24)
    assert v1.read("pids", PATH, "pids.max") == "4"
    assert v2.read(PATH, "memory.max") == "max"


def test_unwritable_cgroup2_mount_is_not_fatal(fakes: tuple[FakeV1, FakeV2]) -> None:
    v1, v2 = fakes
    # A plain file where the cgroup2 directory would go makes mkdir fail.
    (v2.root / "dockyard").write_text("")
    m = _manager(v1.root)
    m.create()
    v1.cgroup(PATH)
    m.apply(5)
    assert v1.read("pids", PATH, "cgroup.procs") == "5"
    m.kill_all(signal.SIGCONT)  # falls back to the v1 freezer path


def test_sigkill_uses_cgroup_kill_of_the_cgroup2_side(fakes: tuple[FakeV1, FakeV2]) -> None:
    v1, v2 = fakes
    v1.cgroup(PATH)
    v2.cgroup(PATH)
    m = _manager(v1.root)
    m.kill_all(signal.SIGKILL)
    assert v2.read(PATH, "cgroup.kill") == "1"
    assert v1.read("freezer", PATH, "freezer.state") == "THAWED"
