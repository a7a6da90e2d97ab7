"""Garbage collection of the image store: unreferenced blobs, layers and ingest debris.

The store owns blobs and metadata rows but not snapshots (the snapshotter does), so
``gc`` deletes blobs itself and hands back the layers to remove; ``release_layers``
then removes each layer's snapshot through a callback and only afterwards its row. A
crash in between leaves a row whose snapshot is gone, which the next collection
finds again; the reverse order would leak a snapshot nothing remembers.

Run a collection while nothing adds references (pulls, builds, commits, container
creation): a blob ingested or a layer unpacked for an image that is not recorded yet
looks exactly like garbage. The engine holds its store lock for that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import Conflict, NotFound
from dockyard.store.content import ContentStore
from dockyard.store.metadata import MetadataStore
from dockyard.store.records import LayerRecord
from dockyard.types.digest import Digest


@dataclass(frozen=True, slots=True)
class GcResult:
    """What one collection did (``blobs``, ``ingest``) and what is left to do (``layers``)."""

    blobs: tuple[Digest, ...]
    bytes_freed: int
    layers: tuple[LayerRecord, ...]
    ingest: tuple[Path, ...]


def gc(
    metadata: MetadataStore, content: ContentStore, *, partial_max_age: float = 24 * 3600.0
) -> GcResult:
    """Delete unreferenced blobs and stale ingest files; return the dead layers.

    The layers come children first; pass them to ``release_layers``.
    """
    ingest = content.clean_ingest(partial_max_age)
    garbage = metadata.garbage(content.digests())
    removed: list[Digest] = []
    freed = 0
    for digest in garbage.blobs:
        try:
            size = content.size(digest)
            content.delete(digest)
        except NotFound:
            continue  # another collector got there first
        removed.append(digest)
        freed += size
    return GcResult(tuple(removed), freed, garbage.layers, tuple(ingest))


def release_layers(
    metadata: MetadataStore,
    layers: Iterable[LayerRecord],
    remove_snapshot: Callable[[str], None],
) -> list[Digest]:
    """Remove each layer's snapshot, then its row (children first); return those removed.

    ``remove_snapshot(key)`` must succeed when the snapshot is already gone (a crash may
    have removed it before the row). A layer that gained a user since ``gc`` looked is
    skipped.
    """
    released: list[Digest] = []
    for layer in layers:
        try:
            if metadata.layer_refcount(layer.chain_id):
                continue
        except NotFound:
            continue
        remove_snapshot(layer.snapshot_key)
        try:
            metadata.remove_layer(layer.chain_id)
        except (Conflict, NotFound):
            continue
        released.append(layer.chain_id)
    return released
