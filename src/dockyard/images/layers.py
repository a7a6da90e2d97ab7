"""Layers in and out of the store: ``register_layer`` unpacks, ``layer_tar`` diffs.

``register_layer`` applies a (possibly compressed) layer tar on top of a parent layer:
it prepares an active snapshot on the parent's committed one, unpacks into it (overlay:
the snapshot's upper dir with overlay whiteouts; vfs/btrfs: the prepared copy of the
parent with plain whiteouts), commits it under its chain id and records it with
``metadata.add_layer``. Registering a layer whose chain id is known already drops the
new snapshot and answers the existing record. On any failure the new snapshot is
removed, so a bad tar leaves the store exactly as it was.

The uncompressed tar is also kept in the content store under its diff id (by default):
``layer_tar`` then hands out the very bytes whose digest the image config names, which
``docker save``/push need; a layer without its tar is diffed out of its snapshot again
(overlay: the committed layer dir; plain drivers: the tree against its parent's).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import BinaryIO, cast

from dockyard._internal import lazylog
from dockyard.errors import DockyardError, InvalidArgument, NotFound, SystemFault
from dockyard.snapshots.driver import DriverBase
from dockyard.store import BlobWriter, LayerRecord, next_chain_id
from dockyard.types.digest import Digest

from .imagestore import ImageStore
from .layertar.compression import (
    CHUNK,
    Readable,
    Writable,
    compression_of,
    decompressed,
    read_layer,
)
from .layertar.diff import diff_overlay, diff_plain
from .layertar.tarwriter import DiffResult
from .layertar.unpack import unpack

log = lazylog.getLogger(__name__)

DIFF_BLOB = "diff"  # BlobRef kind of a layer's uncompressed tar (digest = diff id)
_PLACEHOLDER = ".dockyard-unpack-placeholder"


class _Tee:
    """Reads through ``stream`` and copies every byte to ``writer``."""

    def __init__(self, stream: Readable, writer: BlobWriter | None) -> None:
        self._stream = stream
        self._writer = writer
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        data = read_layer(self._stream, n)
        self.size += len(data)
        if data and self._writer is not None:
            self._writer.write(data)
        return data


def _driver(store: ImageStore) -> DriverBase:
    return cast(DriverBase, store.snapshotter)


def snapshot_path(store: ImageStore, key: str) -> Path:
    """The directory holding snapshot ``key``'s own files (overlay: its layer dir; vfs,
    btrfs: its whole tree)."""
    driver = _driver(store)
    path = driver.snapshot_dir(driver.meta.get(key))
    return path / "fs" if store.driver == "overlay" else path


def _unpack_into(store: ImageStore, key: str, stream: Readable) -> str:
    """Unpack into active snapshot ``key``; answer the diff id."""
    if store.driver == "overlay":
        upper = store.snapshotter.upper_dir(key)
        if upper is None:
            raise SystemFault(f"overlay snapshot {key} has no upper dir")
        return unpack(stream, upper, "overlay").diff_id
    dest = snapshot_path(store, key)
    placeholder = dest / _PLACEHOLDER
    if store.driver == "btrfs" and not any(dest.iterdir()):
        # a subvolume cannot be replaced by rename: make unpack work in place
        placeholder.touch()
    try:
        return unpack(stream, dest, "plain").diff_id
    finally:
        placeholder.unlink(missing_ok=True)


def register_layer(
    store: ImageStore,
    parent: LayerRecord | None,
    blob: BinaryIO | Readable,
    *,
    media_type: str | None = None,
    keep_tar: bool = True,
) -> LayerRecord:
    """Apply layer ``blob`` on ``parent`` (None: a base layer); answer its record."""
    if media_type is not None:
        compression_of(media_type)  # refuse an unknown media type before any work
    key = f"extract-{secrets.token_hex(8)}"
    snapshotter = store.snapshotter
    with store.lock:
        snapshotter.prepare(key, None if parent is None else parent.snapshot_key)
        committed: str | None = None
        try:
            _, plain = decompressed(blob)
            writer = store.content.writer() if keep_tar else None
            try:
                tee = _Tee(plain, writer)
                diff_text = _unpack_into(store, key, tee)
                if writer is not None:
                    stored = writer.commit()
                    if str(stored.digest) != diff_text:
                        raise SystemFault(f"layer tar stored as {stored.digest}, not {diff_text}")
            finally:
                if writer is not None:
                    writer.close()
            diff_id = Digest.parse(diff_text)
            chain = next_chain_id(None if parent is None else parent.chain_id, diff_id)
            existing = _layer_or_none(store, chain)
            if existing is not None:
                snapshotter.remove(key)
                return existing
            name = str(chain)
            if _snapshot_exists(store, name):
                # a crash after commit and before add_layer: adopt that snapshot
                snapshotter.remove(key)
            else:
                snapshotter.commit(name, key)
                committed = name
            key = ""
            record = store.metadata.add_layer(
                chain, diff_id, None if parent is None else parent.chain_id, tee.size, name
            )
            log.debug("registered layer %s (diff %s) on %s", chain, diff_id, parent)
            return record
        except BaseException as e:
            _discard(store, key or committed)
            if isinstance(e, EOFError):
                raise InvalidArgument(f"layer is truncated: {e}") from e
            raise


def _layer_or_none(store: ImageStore, chain: Digest) -> LayerRecord | None:
    try:
        return store.metadata.get_layer(chain)
    except NotFound:
        return None


def _snapshot_exists(store: ImageStore, key: str) -> bool:
    try:
        store.snapshotter.stat(key)
    except NotFound:
        return False
    return True


def _discard(store: ImageStore, key: str | None) -> None:
    if not key:
        return
    try:
        store.snapshotter.remove(key)
    except DockyardError as e:
        log.warning("cannot remove snapshot %s after a failed unpack: %s", key, e)


def layer_tar(store: ImageStore, layer: LayerRecord, out: BinaryIO | Writable) -> DiffResult:
    """Write ``layer``'s own changes to ``out`` as an uncompressed tar."""
    if store.content.exists(layer.diff_id):
        return _copy_blob(store, layer.diff_id, out)
    return diff_layer(store, layer, out)


def diff_layer(store: ImageStore, layer: LayerRecord, out: BinaryIO | Writable) -> DiffResult:
    """Write ``layer``'s changes computed from its snapshot (never the stored tar)."""
    own = snapshot_path(store, layer.snapshot_key)
    if store.driver == "overlay":
        return diff_overlay(own, out)
    parent = None
    if layer.parent is not None:
        parent = snapshot_path(store, store.metadata.get_layer(layer.parent).snapshot_key)
    return diff_plain(parent, own, out)


def _copy_blob(store: ImageStore, digest: Digest, out: BinaryIO | Writable) -> DiffResult:
    size = 0
    with store.content.open(digest) as src:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            size += len(chunk)
    return DiffResult(str(digest), size)


def layer_chain(store: ImageStore, top: LayerRecord | None) -> list[LayerRecord]:
    """``top`` and its ancestors, base first."""
    chain: list[LayerRecord] = []
    layer = top
    while layer is not None:
        chain.append(layer)
        layer = None if layer.parent is None else store.metadata.get_layer(layer.parent)
    chain.reverse()
    return chain
