"""The overlay driver's mounts, built without mounting anything (no root needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotSupported
from dockyard.snapshots import Mount, make_snapshotter
from dockyard.snapshots.btrfs import check_host
from dockyard.snapshots.mount import fits_in_page, split_options
from dockyard.snapshots.overlay import OverlaySnapshotter
from dockyard.snapshots.vfs import VfsSnapshotter


def chain(sn: OverlaySnapshotter, depth: int) -> str:
    parent = None
    for i in range(depth):
        sn.prepare(f"w{i}", parent)
        sn.commit(f"l{i}", f"w{i}")
        parent = f"l{i}"
    assert parent is not None
    return parent


def test_mount_kinds_by_depth(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path / "root", durable=False, new_api=False)
    (first,) = sn.prepare("a", None)
    assert first == Mount("bind", str(sn.upper_dir("a")), ("rbind", "rw"))
    sn.commit("base", "a")
    (one,) = sn.view("v1", "base")
    assert one.type == "bind"
    assert one.options == ("rbind", "ro")
    top = chain(sn, 3)
    (active,) = sn.prepare("t", top)
    assert active.type == "overlay"
    lower, upper, work = active.options
    links = lower.removeprefix("lowerdir=").split(":")
    assert len(links) == 3
    assert [os.readlink(p) for p in links] == [f"../snapshots/{i}/fs" for i in (5, 4, 3)]
    assert upper == f"upperdir={sn.upper_dir('t')}"
    assert work.startswith("workdir=")
    (view,) = sn.view("v", top)
    assert view.options[-1] == "ro"
    assert not any(o.startswith("upperdir") for o in view.options)


def test_long_chains_switch_to_lowerdir_plus(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path / "root", durable=False, new_api=True)
    top = chain(sn, 150)
    (m,) = sn.prepare("t", top)
    assert m.uses_new_api
    assert sum(o.startswith("lowerdir+=") for o in m.options) == 150
    assert not fits_in_page(tuple(o.replace("+", "") for o in m.options))


def test_without_the_new_api_a_short_chain_stays_classic(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path / "root", durable=False, new_api=False)
    (m,) = sn.prepare("t", chain(sn, 40))
    assert not m.uses_new_api
    assert fits_in_page(m.options)


def test_removal_drops_links_and_dirs(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path / "root", durable=False, new_api=False)
    chain(sn, 2)
    sn.remove("l1")
    sn.remove("l0")
    assert os.listdir(sn.root / "l") == []
    assert os.listdir(sn.root / "snapshots") == []


def test_split_options() -> None:
    flags, data = split_options(("ro", "nosuid", "rw", "lowerdir=/a:/b"))
    assert flags == 0x1 | 0x2
    assert data == ["lowerdir=/a:/b"]


def test_make_snapshotter_names(tmp_path: Path) -> None:
    assert isinstance(make_snapshotter("vfs", tmp_path / "v"), VfsSnapshotter)
    with pytest.raises(InvalidArgument, match="unknown storage driver"):
        make_snapshotter("zfs", tmp_path / "z")


def test_btrfs_refuses_a_root_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(NotSupported, match="needs its root on btrfs"):
        check_host(tmp_path / "not-yet-made")
