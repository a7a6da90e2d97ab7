"""Container file systems: a writable snapshot on an image's top layer.

``prepare_container`` makes the snapshot ``container-<id>`` on the image's top layer and
records the container's claim on the image (``metadata.add_container``), which keeps the
image and its layers from being removed. ``mount_container`` performs its mounts at a
target dir, ``remove_container`` drops the snapshot and then the claim. Paths for diffs:
``container_upper`` (overlay: the changes only) and ``container_tree`` (vfs, btrfs: the
whole tree).
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard._internal import lazylog
from dockyard.errors import Conflict, NotFound
from dockyard.snapshots import Mount, mount_all, unmount_all
from dockyard.store import ContainerRecord, ImageRecord
from dockyard.types.digest import Digest

from .imagestore import ImageStore
from .layers import snapshot_path

log = lazylog.getLogger(__name__)

SNAPSHOT_PREFIX = "container-"


def snapshot_key(container_id: str) -> str:
    return SNAPSHOT_PREFIX + container_id


def _image(store: ImageStore, image: str | Digest | ImageRecord | None) -> ImageRecord | None:
    if image is None or isinstance(image, ImageRecord):
        return image
    return store.image(image)


def prepare_container(
    store: ImageStore, container_id: str, image: str | Digest | ImageRecord | None
) -> list[Mount]:
    """A writable snapshot for ``container_id`` on ``image`` (None: an empty root)."""
    if not container_id or "/" in container_id:
        raise Conflict(f"invalid container id {container_id!r}")
    record = _image(store, image)
    key = snapshot_key(container_id)
    with store.lock:
        try:
            store.metadata.get_container(container_id)
        except NotFound:
            pass
        else:
            raise Conflict(f"container {container_id} exists already: remove it first")
        parent = None
        if record is not None and record.top_layer is not None:
            parent = store.metadata.get_layer(record.top_layer).snapshot_key
        mounts = store.snapshotter.prepare(key, parent)
        try:
            store.metadata.add_container(container_id, key, None if record is None else record.id)
        except BaseException:
            store.snapshotter.remove(key)
            raise
    log.debug("prepared container %s on %s", container_id, record and record.id)
    return mounts


def container(store: ImageStore, container_id: str) -> ContainerRecord:
    return store.metadata.get_container(container_id)


def container_mounts(store: ImageStore, container_id: str) -> list[Mount]:
    """The mounts of the container's root file system (again, e.g. after a restart)."""
    return store.snapshotter.mounts(container(store, container_id).snapshot_key)


def mount_container(
    store: ImageStore, container_id: str, target: str | os.PathLike[str]
) -> list[Mount]:
    """Mount the container's root file system at ``target`` (an existing dir)."""
    mounts = container_mounts(store, container_id)
    log.debug("mounting container %s at %s: %s", container_id, target, mounts)
    mount_all(mounts, target)
    return mounts


def unmount_container(target: str | os.PathLike[str]) -> None:
    """Unmount whatever ``mount_container`` stacked at ``target``."""
    log.debug("unmounting %s", target)
    unmount_all(target)


def remove_container(store: ImageStore, container_id: str) -> ContainerRecord:
    """Drop the container's snapshot, then its claim on the image."""
    with store.lock:
        record = container(store, container_id)
        try:
            store.snapshotter.remove(record.snapshot_key)
        except NotFound:
            pass  # a crash removed it before the row
        return store.metadata.remove_container(container_id)


def container_upper(store: ImageStore, container_id: str) -> Path | None:
    """The overlay upper dir (the changes only); None for the vfs and btrfs drivers."""
    return store.snapshotter.upper_dir(container(store, container_id).snapshot_key)


def container_tree(store: ImageStore, container_id: str) -> Path:
    """The dir of the container's own snapshot (vfs, btrfs: its whole tree)."""
    return snapshot_path(store, container(store, container_id).snapshot_key)


def parent_tree(store: ImageStore, record: ContainerRecord) -> Path | None:
    """The whole tree of the layer under a container (plain drivers only)."""
    if record.layer is None:
        return None
    return snapshot_path(store, store.metadata.get_layer(record.layer).snapshot_key)


def lower_dirs(store: ImageStore, record: ContainerRecord) -> list[Path]:
    """Overlay: the layer dirs under a container, top first."""
    dirs: list[Path] = []
    chain = record.layer
    while chain is not None:
        layer = store.metadata.get_layer(chain)
        dirs.append(snapshot_path(store, layer.snapshot_key))
        chain = layer.parent
    return dirs
