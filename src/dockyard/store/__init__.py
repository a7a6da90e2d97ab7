"""The image store: content-addressed blobs on disk and image metadata in SQLite.

``ContentStore`` keeps blobs (``blobs/sha256/<hex>``), ``MetadataStore`` keeps images,
layers, refs and containers (``metadata.db``), ``gc`` removes what nothing references.
Synchronous and stdlib only; snapshots belong to ``dockyard.snapshots``, which the
store never imports (layers carry the snapshot key only).
"""

from dockyard.store.chain import chain_id, chain_ids, next_chain_id
from dockyard.store.content import ContentStore
from dockyard.store.gc import GcResult, gc, release_layers
from dockyard.store.metadata import MetadataStore
from dockyard.store.records import BlobRef, ContainerRecord, Garbage, ImageRecord, LayerRecord
from dockyard.store.writer import BlobWriter

__all__ = [
    "BlobRef",
    "BlobWriter",
    "ContainerRecord",
    "ContentStore",
    "Garbage",
    "GcResult",
    "ImageRecord",
    "LayerRecord",
    "MetadataStore",
    "chain_id",
    "chain_ids",
    "gc",
    "next_chain_id",
    "release_layers",
]
