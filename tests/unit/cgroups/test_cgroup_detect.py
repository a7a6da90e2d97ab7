"""Layout detection under an injected root, mountinfo parsing, and cgroupsPath rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard import errors
from dockyard.cgroups import (
    CgroupHybridManager,
    CgroupV1Manager,
    CgroupV2Manager,
    default_path,
    manager_for,
)
from dockyard.cgroups.detect import Layout, LayoutKind, discover, mounted_controllers
from dockyard.cgroups.manager import Hierarchy, relative_path

from .fakes import FakeV1, FakeV2

MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 31 0:40 / /mnt/with\\040space rw - cgroup cgroup rw,pids
60 23 0:50 / /proc rw - proc proc rw
"""


def test_v2_when_root_has_cgroup_controllers(tmp_path: Path) -> None:
    FakeV2(tmp_path)
    layout = discover(tmp_path)
    assert layout.kind is LayoutKind.V2
    assert layout.unified == str(tmp_path)
    assert isinstance(manager_for("/dockyard/a", tmp_path), CgroupV2Manager)


def test_v1_with_combined_mount_and_symlinks(tmp_path: Path) -> None:
    FakeV1(tmp_path, ["cpu,cpuacct", "memory", "systemd"])
    layout = discover(tmp_path)
    assert layout.kind is LayoutKind.V1
    real = tmp_path.resolve()
    assert set(layout.hierarchies) == {
        Hierarchy(f"{real}/cpu,cpuacct", frozenset({"cpu", "cpuacct"})),
        Hierarchy(f"{real}/memory", frozenset({"memory"})),
        Hierarchy(f"{real}/systemd", frozenset({"name=systemd"})),
    }
    manager = manager_for("/dockyard/a", tmp_path)
    assert type(manager) is CgroupV1Manager
    paths = manager.paths()
    assert paths["cpu"] == paths["cpuacct"] == f"{real}/cpu,cpuacct/dockyard/a"
    assert paths["name=systemd"] == f"{real}/systemd/dockyard/a"


def test_hybrid_when_a_cgroup2_mount_sits_beside_v1(tmp_path: Path) -> None:
    FakeV1(tmp_path, ["memory", "pids"])
    FakeV2(tmp_path / "unified", controllers="hugetlb")
    layout = discover(tmp_path)
    assert layout.kind is LayoutKind.HYBRID
    assert layout.unified == str((tmp_path / "unified").resolve())
    manager = manager_for("/dockyard/a", tmp_path)
    assert isinstance(manager, CgroupHybridManager)
    unified = f"{tmp_path.resolve()}/unified/dockyard/a"
    assert manager.paths()[""] == unified
    assert manager.paths()["hugetlb"] == unified
    assert manager.paths()["memory"] == f"{tmp_path.resolve()}/memory/dockyard/a"


def test_plain_directories_are_not_hierarchies(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "file").write_text("")
    with pytest.raises(errors.NotSupported, match="no cgroup hierarchy found"):
        discover(tmp_path)
    with pytest.raises(errors.NotSupported):
        discover(tmp_path / "missing")


def test_mountinfo_names_controllers(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO)
    assert mounted_controllers(info) == {
        "/sys/fs/cgroup/cpu,cpuacct": frozenset({"cpu", "cpuacct"}),
        "/sys/fs/cgroup/memory": frozenset({"memory"}),
        "/sys/fs/cgroup/systemd": frozenset({"name=systemd"}),
        "/mnt/with space": frozenset({"pids"}),
    }
    assert mounted_controllers(tmp_path / "absent") == {}


def test_mountinfo_wins_over_directory_name(tmp_path: Path) -> None:
    FakeV1(tmp_path, ["oddname"])
    real = (tmp_path / "oddname").resolve()
    info = tmp_path / "mountinfo"
    info.write_text(f"40 31 0:37 / {real} rw - cgroup cgroup rw,memory,pids\n")
    (hierarchy,) = discover(tmp_path, info).hierarchies
    assert hierarchy.controllers == frozenset({"memory", "pids"})


def test_mounts_below_root_are_the_layout(tmp_path: Path) -> None:
    # Nothing exists under root: the layout comes from mountinfo alone, no directory walk.
    root = tmp_path / "cg"
    info = tmp_path / "mountinfo"
    info.write_text(
        f"31 23 0:28 / {root} rw - tmpfs tmpfs rw\n"
        f"32 31 0:29 / {root}/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        f"33 31 0:29 / {root}/cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
        f"34 31 0:30 / {root}/memory rw - cgroup cgroup rw,memory\n"
        f"35 31 0:31 / {root}/unified rw - cgroup2 cgroup2 rw\n"
        f"36 34 0:32 / {root}/memory/deeper rw - cgroup cgroup rw,pids\n"
        f"37 23 0:33 / {tmp_path}/elsewhere rw - cgroup cgroup rw,blkio\n"
    )
    layout = discover(root, info)
    assert layout.kind is LayoutKind.HYBRID
    assert layout.unified == f"{root}/unified"
    # The hierarchy mounted twice counts once; only mounts right below root count.
    assert {h.controllers for h in layout.hierarchies} == {
        frozenset({"cpu", "cpuacct"}),
        frozenset({"memory"}),
    }
    assert len(layout.hierarchies) == 2


def test_cgroup2_mount_at_root_is_v2(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(f"31 23 0:28 / {tmp_path}/cg rw - cgroup2 cgroup2 rw,nsdelegate\n")
    assert discover(tmp_path / "cg", info) == Layout(LayoutKind.V2, unified=f"{tmp_path}/cg")


def test_mounts_hidden_by_a_later_mount_at_root_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    root.mkdir()
    info = tmp_path / "mountinfo"
    info.write_text(
        f"31 23 0:28 / {root} rw - tmpfs tmpfs rw\n"
        f"32 31 0:29 / {root}/memory rw - cgroup cgroup rw,memory\n"
        f"50 23 0:40 / {root} rw - tmpfs tmpfs rw\n"
    )
    # The memory mount lies under the first tmpfs: the empty directory is all there is.
    with pytest.raises(errors.NotSupported, match="no cgroup hierarchy found"):
        discover(root, info)


@pytest.mark.parametrize(
    ("given", "relative"),
    [
        ("/dockyard/abc", "dockyard/abc"),
        ("dockyard/abc", "dockyard/abc"),
        ("//dockyard/./abc/", "dockyard/abc"),
    ],
)
def test_cgroups_path_is_relative_to_each_root(given: str, relative: str) -> None:
    assert relative_path(given) == relative


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("/dockyard/../etc", "'..' components are not allowed"),
        ("..", "'..' components"),
        ("system.slice:dockyard:abc", "systemd 'slice:prefix:name' form"),
        ("", "expected a path like /dockyard/<id>"),
        ("/", "expected a path like"),
        ("/./", "the root cgroup"),
        ("/a\nb", "control character"),
    ],
)
def test_bad_cgroups_paths_are_refused(tmp_path: Path, given: str, message: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=message):
        relative_path(given)
    # manager_for refuses before it even looks at the root.
    with pytest.raises(errors.InvalidArgument):
        manager_for(given, tmp_path / "nowhere")


def test_default_path() -> None:
    assert default_path("abc123") == "/dockyard/abc123"
    for bad in ("", "a/b", ".."):
        with pytest.raises(errors.InvalidArgument):
            default_path(bad)
