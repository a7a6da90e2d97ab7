"""Overlay chains beyond the kernel's limits: 500 stacked layers and a one-page option.

Layers are written straight into each active snapshot's upper dir (no mount per layer),
which is how an image unpacker fills them.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from dockyard.snapshots import Mount, mount_all, unmount_all
from dockyard.snapshots.chain import MAX_LOWERS
from dockyard.snapshots.mount import fits_in_page
from dockyard.snapshots.overlay import OverlaySnapshotter
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("overlay")

Mounter = Callable[[Sequence[Mount]], Path]


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Mounter]:
    targets: list[Path] = []

    def do(mounts: Sequence[Mount]) -> Path:
        target = tmp_path / unique("mnt")
        target.mkdir()
        targets.append(target)
        mount_all(mounts, target)
        return target

    yield do
    for target in reversed(targets):
        unmount_all(target)


def build_layers(sn: OverlaySnapshotter, count: int, whiteouts: dict[int, str]) -> str:
    """``count`` committed layers ``l<i>``, layer i adding file ``f<i>`` (and whiteouts)."""
    parent: str | None = None
    for i in range(count):
        sn.prepare(f"w{i}", parent)
        upper = sn.upper_dir(f"w{i}")
        assert upper is not None
        (upper / f"f{i}").write_text(str(i))
        if i in whiteouts:
            os.mknod(upper / whiteouts[i], stat.S_IFCHR | 0o000, os.makedev(0, 0))
        sn.commit(f"l{i}", f"w{i}")
        parent = f"l{i}"
    assert parent is not None
    return parent


def test_a_thousand_layers_mount_with_their_union(tmp_path: Path, mount: Mounter) -> None:
    sn = OverlaySnapshotter(tmp_path / unique("overlay"))
    top = build_layers(sn, 1000, {900: "f10"})
    started = time.monotonic()
    mounts = sn.prepare("top", top)
    prepared = time.monotonic()
    m = mount(mounts)
    mounted = time.monotonic()
    names = set(os.listdir(m))
    assert names == {f"f{i}" for i in range(1000)} - {"f10"}
    assert (m / "f999").read_text() == "999"
    assert (m / "f0").read_text() == "0"
    assert not (m / "f10").exists()  # the whiteout of layer 900 hides layer 10's file
    (m / "written").write_text("x")
    assert (sn.upper_dir("top") or Path("/")).joinpath("written").exists()
    # the bottom of the chain was flattened into cached layers; walk never shows them
    assert sn.flattened()
    assert {i.name for i in sn.walk()} == {f"l{i}" for i in range(1000)} | {"top"}
    (opts,) = [mt.options for mt in mounts]
    lowers = [o for o in opts if o.startswith("lowerdir")]
    assert sum(o.count(":") + 1 for o in lowers) <= MAX_LOWERS
    print(f"1000 layers: prepare {prepared - started:.3f}s, mount {mounted - prepared:.4f}s")


def test_option_beyond_a_page_uses_the_new_mount_api(tmp_path: Path, mount: Mounter) -> None:
    root = tmp_path / (unique("long") + "-" + "x" * 180)
    sn = OverlaySnapshotter(root)
    top = build_layers(sn, 200, {150: "f3"})
    mounts = sn.prepare("top", top)
    assert mounts[0].uses_new_api
    assert sn.flattened() == {}  # 200 layers stack without flattening
    m = mount(mounts)
    assert set(os.listdir(m)) == {f"f{i}" for i in range(200)} - {"f3"}
    view = mount(sn.view("v", top))
    assert len(os.listdir(view)) == 199


def test_without_the_new_api_the_chain_is_flattened_to_fit_a_page(
    tmp_path: Path, mount: Mounter
) -> None:
    root = tmp_path / (unique("long") + "-" + "x" * 180)
    sn = OverlaySnapshotter(root, new_api=False)
    top = build_layers(sn, 200, {150: "f3"})
    mounts = sn.prepare("top", top)
    assert not mounts[0].uses_new_api
    assert fits_in_page(mounts[0].options)
    assert sn.flattened()
    m = mount(mounts)
    assert set(os.listdir(m)) == {f"f{i}" for i in range(200)} - {"f3"}


def _flat_state(sn: OverlaySnapshotter) -> dict[str, tuple[int, int]]:
    out = {}
    for d in (sn.root / "snapshots").iterdir():
        if d.name.startswith("flat-"):
            st = (d / "fs").stat()
            out[d.name] = (st.st_ino, st.st_mtime_ns)
    return out


def test_the_flattened_layer_is_made_once_and_reused(tmp_path: Path, mount: Mounter) -> None:
    root = tmp_path / unique("overlay")
    sn = OverlaySnapshotter(root, max_lowers=10, flatten_step=5)
    top = build_layers(sn, 30, {20: "f2"})
    first = mount(sn.prepare("one", top))
    made = _flat_state(sn)
    assert made
    assert set(os.listdir(first)) == {f"f{i}" for i in range(30)} - {"f2"}
    # a second snapshot on the same chain, and a restarted snapshotter, reuse the copies
    second = mount(sn.prepare("two", top))
    again = OverlaySnapshotter(root, max_lowers=10, flatten_step=5)
    third = mount(again.view("three", top))
    assert _flat_state(sn) == made
    assert os.listdir(second) == os.listdir(first)
    assert sorted(os.listdir(third)) == sorted(os.listdir(first))
    # the caches go with the snapshots they flatten
    for key in ("one", "two", "three"):
        unmount_all(first if key == "one" else second if key == "two" else third)
        again.remove(key)
    for i in reversed(range(30)):
        again.remove(f"l{i}")
    assert _flat_state(again) == {}
    assert os.listdir(root / "l") == []
