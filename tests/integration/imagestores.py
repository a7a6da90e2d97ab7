"""Helpers of the image-store integration tests: stores per driver, tars, state digests."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dockyard.images.imagestore import ImageStore
from dockyard.images.rootfs import mount_container, unmount_container
from dockyard.kernel import mount as km
from dockyard.testing.names import unique

DRIVERS = ("overlay", "vfs", "btrfs")


def tar_of(files: Mapping[str, bytes | str | None], *, whiteouts: tuple[str, ...] = ()) -> bytes:
    """A layer tar: ``None`` makes a directory, ``str`` a symlink, ``bytes`` a file."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        for name in whiteouts:
            head, _, base = name.rpartition("/")
            info = tarfile.TarInfo(f"{head}/.wh.{base}" if head else f".wh.{base}")
            tar.addfile(info)
    return out.getvalue()


def names_in(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.removeprefix("./").rstrip("/"): m for m in tar.getmembers()}


def member_bytes(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if m.name.removeprefix("./") == name:
                f = tar.extractfile(m)
                assert f is not None
                return f.read()
    raise KeyError(name)


def state(store: ImageStore) -> dict[str, Any]:
    """Everything observable about a store: rows, refs, blobs on disk, snapshots, files."""
    blobs = store.root / "content" / "blobs" / "sha256"
    snapshots = store.snapshotter.root / "snapshots"
    return {
        "images": sorted(
            (str(i.id), i.layers, i.blobs, i.names) for i in store.metadata.list_images()
        ),
        "refs": sorted((n, str(d)) for n, d in store.metadata.refs()),
        "layers": sorted(str(layer.chain_id) for layer in store.metadata.list_layers()),
        "containers": sorted(c.id for c in store.metadata.list_containers()),
        "blobs": sorted(p.name for p in blobs.iterdir()) if blobs.exists() else [],
        "snapshots": sorted((i.name, i.parent, i.kind) for i in store.snapshotter.walk()),
        "dirs": sorted(p.name for p in snapshots.iterdir()) if snapshots.exists() else [],
    }


def unmount_under(root: Path) -> None:
    prefix = os.path.realpath(root) + "/"
    for point in sorted(km.mountpoints(), key=len, reverse=True):
        if point.startswith(prefix):
            km.umount(point, km.MNT_DETACH)


@contextmanager
def new_store(driver: str, under: Path | None = None) -> Iterator[ImageStore]:
    """A fresh store; ``under`` is where to make it (btrfs needs a btrfs file system)."""
    root = Path(tempfile.mkdtemp(prefix="dyt-store-", dir=under))
    root.chmod(0o755)
    store = ImageStore(root, driver)
    try:
        yield store
    finally:
        store.close()
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def mounted(store: ImageStore, container_id: str) -> Iterator[Path]:
    """The container's rootfs mounted at a fresh dir; unmounted even on failure."""
    target = store.root / unique("mnt")
    target.mkdir()
    try:
        mount_container(store, container_id, target)
        yield target
    finally:
        unmount_container(target)
        target.rmdir()


@pytest.fixture(
    params=[
        pytest.param(d, id=d, marks=pytest.mark.requires("btrfs") if d == "btrfs" else ())
        for d in DRIVERS
    ]
)
def store(request: pytest.FixtureRequest) -> Iterator[ImageStore]:
    under = request.getfixturevalue("btrfs_mount") if request.param == "btrfs" else None
    with new_store(request.param, under) as s:
        yield s
