"""``ImageStore``: one data root's content store, metadata database and snapshotter.

Layout under ``root``::

    content/blobs/sha256/<hex>   blobs (configs, manifests, compressed layers)
    metadata.db                  images, layers, refs, containers (SQLite)
    <driver>/                    the storage driver's own directory (overlay, vfs, btrfs)

The image modules (``layers``, ``config``, ``importing``, ``commit``, ``remove``, ...)
take an ``ImageStore`` and keep the store's crash-ordering rule: blobs first, then
snapshots, then layer rows, then image rows, then refs; removal in reverse.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from dockyard.errors import InvalidArgument, NotFound
from dockyard.snapshots import Mount, Snapshotter, make_snapshotter
from dockyard.store import ContentStore, ImageRecord, LayerRecord, MetadataStore
from dockyard.types.digest import Digest

from .names import normalize_name

CONTENT_DIR = "content"
METADATA_FILE = "metadata.db"


class ImageStore:
    """The image store of one data root; ``close()`` it (or use it as a context manager)."""

    def __init__(self, root: Path, driver: str = "overlay") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.driver = driver
        self.snapshotter: Snapshotter = make_snapshotter(driver, self.root / driver)
        self.content = ContentStore(self.root / CONTENT_DIR)
        self.metadata = MetadataStore(self.root / METADATA_FILE)
        # serializes multi-step changes (register, commit, rmi) within this process
        self.lock = threading.RLock()

    def close(self) -> None:
        self.metadata.close()

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ImageStore({str(self.root)!r}, driver={self.driver!r})"

    # lookups shared by the image verbs

    def resolve(self, name_or_id: str) -> Digest:
        """The image id for a name (normalized first), a full id or an id prefix."""
        try:
            name = normalize_name(name_or_id)
        except InvalidArgument:
            name = None
        if name is not None:
            try:
                return self.metadata.resolve(name)
            except (NotFound, InvalidArgument):
                pass
        try:
            return self.metadata.resolve(name_or_id)
        except (NotFound, InvalidArgument):
            raise NotFound(f"no such image: {name_or_id}") from None

    def image(self, name_or_id: str | Digest) -> ImageRecord:
        """The image record for a name, an id or an id prefix."""
        if isinstance(name_or_id, Digest):
            return self.metadata.get_image(name_or_id)
        return self.metadata.get_image(self.resolve(name_or_id))

    def layers_of(self, image: ImageRecord) -> list[LayerRecord]:
        """The image's layer records, base first."""
        return [self.metadata.get_layer(chain) for chain in image.layers]

    def layer_mounts(self, layer: LayerRecord, key: str) -> list[Mount]:
        """A read-only view ``key`` of a committed layer (remove it with ``snapshotter``)."""
        return self.snapshotter.view(key, layer.snapshot_key)
