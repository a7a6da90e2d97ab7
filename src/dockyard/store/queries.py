"""Reading the metadata database: the query half of ``MetadataStore``.

Split from ``metadata`` (which owns the connection and every write) to keep each module
small; ``MetadataStore`` is the only subclass and the only public entry point.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFault
from dockyard.store.records import (
    BlobRef,
    ContainerRecord,
    ImageRecord,
    LayerRecord,
    container_from_row,
    layer_from_row,
)
from dockyard.types.digest import Digest

_HEX = frozenset("0123456789abcdef")
_LAYER_COLUMNS = "chain_id, diff_id, parent, size, snapshot_key, created"
_CONTAINER_COLUMNS = "id, snapshot_key, image_id, layer, created"


class MetadataQueries:
    """Read-only queries over one connection, serialized by ``_lock``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.RLock()

    @contextmanager
    def _read(self) -> Iterator[None]:
        """One read transaction: several SELECTs see the same snapshot of the data."""
        with self._lock:
            if self._conn.in_transaction:  # nested inside a write transaction
                yield
                return
            try:
                self._conn.execute("BEGIN")
            except sqlite3.Error as e:
                raise SystemFault(f"cannot read the metadata database: {e}") from e
            try:
                yield
            finally:
                self._conn.execute("COMMIT")

    # -- layers ----------------------------------------------------------------------

    def get_layer(self, chain_id: Digest) -> LayerRecord:
        with self._read():
            layer = self._layer_or_none(chain_id)
        if layer is None:
            raise NotFound(f"no such layer: {chain_id}")
        return layer

    def list_layers(self) -> list[LayerRecord]:
        with self._read():
            rows = self._conn.execute(f"SELECT {_LAYER_COLUMNS} FROM layers").fetchall()
        return [layer_from_row(r) for r in rows]

    def layer_children(self, chain_id: Digest) -> list[Digest]:
        """Chain ids of the layers directly on top of ``chain_id``."""
        with self._read():
            rows = self._conn.execute(
                "SELECT chain_id FROM layers WHERE parent = ? ORDER BY chain_id", (str(chain_id),)
            ).fetchall()
        return [Digest.parse(r[0]) for r in rows]

    def layer_refcount(self, chain_id: Digest) -> int:
        """Images + containers + child layers that use ``chain_id`` directly."""
        with self._read():
            if self._layer_or_none(chain_id) is None:
                raise NotFound(f"no such layer: {chain_id}")
            return sum(self._layer_ref_counts(chain_id).values())

    def snapshot_keys(self) -> set[str]:
        """Every snapshot key the store knows (layers and containers).

        A snapshot the snapshotter has but this set lacks was left by a crash between
        committing it and recording it; the engine may remove it.
        """
        with self._read():
            rows = self._conn.execute(
                "SELECT snapshot_key FROM layers UNION SELECT snapshot_key FROM containers"
            ).fetchall()
        return {r[0] for r in rows}

    # -- images ----------------------------------------------------------------------

    def get_image(self, id_or_prefix: str | Digest) -> ImageRecord:
        """An image by full id or unique id prefix (NotFound, or Conflict if ambiguous)."""
        with self._read():
            return self._image(self._match_id(str(id_or_prefix)))

    def list_images(self) -> list[ImageRecord]:
        """Every image, newest first."""
        with self._read():
            ids = self._conn.execute("SELECT id FROM images ORDER BY created DESC, id").fetchall()
            return [self._image(Digest.parse(r[0])) for r in ids]

    def refs(self, image_id: Digest | None = None) -> list[tuple[str, Digest]]:
        """(name, image id) pairs, sorted by name; only those of ``image_id`` if given."""
        with self._read():
            if image_id is None:
                rows = self._conn.execute("SELECT name, image_id FROM refs ORDER BY name")
            else:
                rows = self._conn.execute(
                    "SELECT name, image_id FROM refs WHERE image_id = ? ORDER BY name",
                    (str(image_id),),
                )
            return [(name, Digest.parse(i)) for name, i in rows.fetchall()]

    # -- containers ------------------------------------------------------------------

    def get_container(self, container_id: str) -> ContainerRecord:
        with self._read():
            record = self._container_or_none(container_id)
        if record is None:
            raise NotFound(f"no such container: {container_id}")
        return record

    def list_containers(self) -> list[ContainerRecord]:
        with self._read():
            rows = self._conn.execute(
                f"SELECT {_CONTAINER_COLUMNS} FROM containers ORDER BY created, id"
            ).fetchall()
        return [container_from_row(r) for r in rows]

    # -- helpers (call with the lock held, inside _read or _tx) ----------------------

    def _match_id(self, text: str) -> Digest:
        try:
            digest = Digest.parse(text)
        except InvalidArgument:
            pass
        else:
            if self._conn.execute("SELECT 1 FROM images WHERE id = ?", (text,)).fetchone():
                return digest
            raise NotFound(f"no such image: {text}")
        hex_ = text.removeprefix("sha256:")
        if not hex_ or len(hex_) > 64 or not _HEX.issuperset(hex_):
            raise NotFound(f"no such image: {text}")
        rows = self._conn.execute(
            "SELECT id FROM images WHERE id GLOB ? LIMIT 2", (f"sha256:{hex_}*",)
        ).fetchall()
        if not rows:
            raise NotFound(f"no such image: {text}")
        if len(rows) > 1:
            raise Conflict(
                f"image id prefix {text!r} is ambiguous: it matches several images; "
                "give more digits"
            )
        return Digest.parse(rows[0][0])

    def _layer_or_none(self, chain_id: Digest) -> LayerRecord | None:
        row = self._conn.execute(
            f"SELECT {_LAYER_COLUMNS} FROM layers WHERE chain_id = ?", (str(chain_id),)
        ).fetchone()
        return None if row is None else layer_from_row(row)

    def _layer_ref_counts(self, chain_id: Digest) -> dict[str, int]:
        row = self._conn.execute(
            "SELECT (SELECT COUNT(DISTINCT image_id) FROM image_layers WHERE chain_id = ?1),"
            " (SELECT COUNT(*) FROM containers WHERE layer = ?1),"
            " (SELECT COUNT(*) FROM layers WHERE parent = ?1)",
            (str(chain_id),),
        ).fetchone()
        return {"images": row[0], "containers": row[1], "child layers": row[2]}

    def _layer_refs(self, chain_id: Digest) -> str:
        """``"2 images, 1 container"``-style summary of the users; empty if none."""
        counts = self._layer_ref_counts(chain_id)
        return ", ".join(f"{n} {what}" for what, n in counts.items() if n)

    def _image_layers(self, image_id: Digest) -> tuple[Digest, ...]:
        rows = self._conn.execute(
            "SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY position",
            (str(image_id),),
        ).fetchall()
        return tuple(Digest.parse(r[0]) for r in rows)

    def _image(self, image_id: Digest) -> ImageRecord:
        key = (str(image_id),)
        row = self._conn.execute(
            "SELECT config_digest, size, created FROM images WHERE id = ?", key
        ).fetchone()
        if row is None:
            raise NotFound(f"no such image: {image_id}")
        blobs = self._conn.execute(
            "SELECT digest, kind FROM image_blobs WHERE image_id = ? ORDER BY kind, digest", key
        ).fetchall()
        names = self._conn.execute(
            "SELECT name FROM refs WHERE image_id = ? ORDER BY name", key
        ).fetchall()
        return ImageRecord(
            id=image_id,
            config=Digest.parse(row[0]),
            size=row[1],
            created=row[2],
            layers=self._image_layers(image_id),
            blobs=tuple(BlobRef(Digest.parse(d), k) for d, k in blobs),
            names=tuple(n[0] for n in names),
        )

    def _container_or_none(self, container_id: str) -> ContainerRecord | None:
        row = self._conn.execute(
            f"SELECT {_CONTAINER_COLUMNS} FROM containers WHERE id = ?", (container_id,)
        ).fetchone()
        return None if row is None else container_from_row(row)
