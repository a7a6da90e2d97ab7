"""The metadata store: images, layers, refs and containers in SQLite (``metadata.db``).

The database runs in WAL mode with ``synchronous=FULL`` and foreign keys on; every
multi-row change is one ``BEGIN IMMEDIATE`` transaction, so a crash leaves each change
applied completely or not at all. The schema and its migrations live in ``schema``.

Threads and processes: a ``MetadataStore`` holds ONE connection opened with
``check_same_thread=False`` and serializes its use with a lock, so one instance may be
shared by every thread of the daemon (``asyncio.to_thread`` workers included). Other
processes open their own instance; SQLite's file locks (and ``busy_timeout``) order
their writes, and WAL lets readers run beside a writer.

Ordering the caller keeps for crash consistency: write blobs, then commit snapshots,
then ``add_layer``, then ``add_image``, then ``tag`` -- and remove in reverse. Whatever a
crash leaves half done is then unreferenced, and ``garbage``/``gc`` finds it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFault
from dockyard.store import schema
from dockyard.store.chain import next_chain_id
from dockyard.store.queries import MetadataQueries
from dockyard.store.records import (
    BlobRef,
    ContainerRecord,
    Garbage,
    ImageRecord,
    LayerRecord,
    layer_from_row,
)
from dockyard.types.digest import Digest


class MetadataStore(MetadataQueries):
    """The image/layer/ref/container database at ``path`` (created if missing)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise SystemFault(f"cannot open metadata database {self.path}: {e}") from e
        try:
            _enable_wal(conn, self.path, time.monotonic() + busy_timeout)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self.migrated_from = schema.migrate(conn, str(self.path))
        except sqlite3.Error as e:
            conn.close()
            raise SystemFault(f"cannot open metadata database {self.path}: {e}") from e
        except BaseException:
            conn.close()
            raise
        super().__init__(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._read():
            return schema.version(self._conn)

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One write transaction (taken up front, so no upgrade deadlocks)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise SystemFault(f"cannot write {self.path}: {e}") from e
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException as e:
                self._conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.IntegrityError):
                    raise Conflict(f"metadata change refused: {e}") from e
                if isinstance(e, sqlite3.Error):
                    raise SystemFault(f"cannot write {self.path}: {e}") from e
                raise

    # -- layers ----------------------------------------------------------------------

    def add_layer(
        self,
        chain_id: Digest,
        diff_id: Digest,
        parent: Digest | None,
        size: int,
        snapshot_key: str,
        *,
        created: float | None = None,
    ) -> LayerRecord:
        """Record a committed layer snapshot; idempotent.

        If the chain id is known already, the EXISTING record is returned and
        ``snapshot_key`` is ignored: a caller that raced another unpack of the same
        layer must compare keys and remove its own, now redundant, snapshot.
        """
        if next_chain_id(parent, diff_id) != chain_id:
            raise InvalidArgument(
                f"chain id {chain_id} does not match diff id {diff_id} on parent {parent}"
            )
        with self._tx():
            existing = self._layer_or_none(chain_id)
            if existing is not None:
                return existing
            if parent is not None and self._layer_or_none(parent) is None:
                raise NotFound(f"no such layer: {parent} (parent of {chain_id}); add it first")
            now = time.time() if created is None else created
            self._conn.execute(
                "INSERT INTO layers (chain_id, diff_id, parent, size, snapshot_key, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (str(chain_id), str(diff_id), _str(parent), size, snapshot_key, now),
            )
            return LayerRecord(chain_id, diff_id, parent, size, snapshot_key, now)

    def remove_layer(self, chain_id: Digest) -> None:
        """Forget a layer whose snapshot is gone; Conflict if anything still uses it."""
        with self._tx():
            if self._layer_or_none(chain_id) is None:
                raise NotFound(f"no such layer: {chain_id}")
            users = self._layer_refs(chain_id)
            if users:
                raise Conflict(f"layer {chain_id} is in use ({users}); remove those first")
            self._conn.execute("DELETE FROM layers WHERE chain_id = ?", (str(chain_id),))

    # -- images ----------------------------------------------------------------------

    def add_image(
        self,
        image_id: Digest,
        layers: Sequence[Digest],
        size: int,
        *,
        config: Digest | None = None,
        blobs: Iterable[BlobRef] = (),
        created: float | None = None,
    ) -> ImageRecord:
        """Record an image over known layers (chain ids, base first); idempotent.

        Adding an image that exists keeps its row and adds any new ``blobs`` (the same
        config pulled through another manifest). The config blob is referenced too.
        """
        config = image_id if config is None else config
        refs = [BlobRef(config, "config"), *blobs]
        with self._tx():
            row = self._conn.execute(
                "SELECT 1 FROM images WHERE id = ?", (str(image_id),)
            ).fetchone()
            if row is None:
                for chain in layers:
                    if self._layer_or_none(chain) is None:
                        raise NotFound(f"no such layer: {chain} (of image {image_id})")
                self._conn.execute(
                    "INSERT INTO images (id, config_digest, size, created) VALUES (?, ?, ?, ?)",
                    (str(image_id), str(config), size, time.time() if created is None else created),
                )
                self._conn.executemany(
                    "INSERT INTO image_layers (image_id, position, chain_id) VALUES (?, ?, ?)",
                    [(str(image_id), i, str(chain)) for i, chain in enumerate(layers)],
                )
            elif self._image_layers(image_id) != tuple(layers):
                raise Conflict(f"image {image_id} exists with other layers")
            self._conn.executemany(
                "INSERT OR IGNORE INTO image_blobs (image_id, digest, kind) VALUES (?, ?, ?)",
                [(str(image_id), str(ref.digest), ref.kind) for ref in refs],
            )
            return self._image(image_id)

    def remove_image(self, image_id: Digest, *, detach_containers: bool = False) -> ImageRecord:
        """Remove an image and its refs; Conflict if a container uses it, unless
        ``detach_containers``: then those containers forget their image (their ``layer``
        still keeps the layers under their writable snapshot alive), as ``rmi -f``."""
        with self._tx():
            image = self._image(image_id)
            if detach_containers:
                self._conn.execute(
                    "UPDATE containers SET image_id = NULL WHERE image_id = ?", (str(image_id),)
                )
            users = self._conn.execute(
                "SELECT id FROM containers WHERE image_id = ? LIMIT 3", (str(image_id),)
            ).fetchall()
            if users:
                names = ", ".join(u[0][:12] for u in users)
                raise Conflict(
                    f"image {image_id.short} is in use by container {names}; "
                    "remove the container first"
                )
            self._conn.execute("DELETE FROM images WHERE id = ?", (str(image_id),))
            return image

    # -- refs ------------------------------------------------------------------------

    def tag(self, name: str, image_id: Digest) -> Digest | None:
        """Point ``name`` at an image; return the image it pointed at before, if any."""
        with self._tx():
            self._image(image_id)
            row = self._conn.execute("SELECT image_id FROM refs WHERE name = ?", (name,)).fetchone()
            self._conn.execute(
                "INSERT INTO refs (name, image_id, created) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET image_id = excluded.image_id,"
                " created = excluded.created",
                (name, str(image_id), time.time()),
            )
            return None if row is None else Digest.parse(row[0])

    def untag(self, name: str) -> Digest:
        """Remove ``name``; return the image it pointed at (the image itself stays)."""
        with self._tx():
            row = self._conn.execute("SELECT image_id FROM refs WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no such image: {name}")
            self._conn.execute("DELETE FROM refs WHERE name = ?", (name,))
            return Digest.parse(row[0])

    def resolve(self, name_or_id: str) -> Digest:
        """The image id for a ref name (exact, already normalized), a full id or a prefix.

        A ref wins over an id prefix (as in Docker). Prefixes are lower-case hex, with
        or without ``sha256:``; NotFound if nothing matches, Conflict if several do.
        """
        with self._read():
            row = self._conn.execute(
                "SELECT image_id FROM refs WHERE name = ?", (name_or_id,)
            ).fetchone()
            if row is not None:
                return Digest.parse(row[0])
            return self._match_id(name_or_id)

    # -- containers ------------------------------------------------------------------

    def add_container(
        self,
        container_id: str,
        snapshot_key: str,
        image_id: Digest | None = None,
        *,
        layer: Digest | None = None,
        created: float | None = None,
    ) -> ContainerRecord:
        """Record a container's writable snapshot; ``layer`` defaults to the image's top."""
        now = time.time() if created is None else created
        with self._tx():
            if layer is None and image_id is not None:
                layer = self._image(image_id).top_layer
            if layer is not None and self._layer_or_none(layer) is None:
                raise NotFound(f"no such layer: {layer}")
            if self._container_or_none(container_id) is not None:
                raise Conflict(f"container {container_id} exists already")
            self._conn.execute(
                "INSERT INTO containers (id, snapshot_key, image_id, layer, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (container_id, snapshot_key, _str(image_id), _str(layer), now),
            )
            return ContainerRecord(container_id, snapshot_key, image_id, layer, now)

    def remove_container(self, container_id: str) -> ContainerRecord:
        """Forget a container (after its snapshot is removed); return what it was."""
        with self._tx():
            record = self._container_or_none(container_id)
            if record is None:
                raise NotFound(f"no such container: {container_id}")
            self._conn.execute("DELETE FROM containers WHERE id = ?", (container_id,))
            return record

    # -- the build cache -------------------------------------------------------------

    def cached_step(self, key: str) -> Digest | None:
        """The image a build step with this cache key made, if it still exists."""
        with self._read():
            row = self._conn.execute(
                "SELECT image_id FROM build_cache WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else Digest.parse(row[0])

    def cache_step(self, key: str, image_id: Digest) -> None:
        with self._tx():
            self._conn.execute(
                "INSERT OR REPLACE INTO build_cache (key, image_id, created) VALUES (?, ?, ?)",
                (key, str(image_id), time.time()),
            )

    def drop_build_cache(self, before: float | None = None) -> list[Digest]:
        """Forget cache rows (those written before ``before``); answer their images."""
        with self._tx():
            cutoff = time.time() + 1 if before is None else before
            rows = self._conn.execute(
                "SELECT DISTINCT image_id FROM build_cache WHERE created < ?", (cutoff,)
            ).fetchall()
            self._conn.execute("DELETE FROM build_cache WHERE created < ?", (cutoff,))
        return [Digest.parse(r[0]) for r in rows]

    # -- garbage ---------------------------------------------------------------------

    def garbage(self, blobs: Iterable[Digest] = ()) -> Garbage:
        """Layers nothing uses (children first) and those of ``blobs`` no image uses.

        A layer is alive if an image or container uses it or it is below a live layer;
        a blob is alive if an image's config is it or an image lists it in its blobs.
        """
        with self._read():
            rows = self._conn.execute(
                "WITH RECURSIVE live (chain_id) AS ("
                "  SELECT chain_id FROM image_layers"
                "  UNION SELECT layer FROM containers WHERE layer IS NOT NULL"
                "  UNION SELECT l.parent FROM layers AS l JOIN live USING (chain_id)"
                "        WHERE l.parent IS NOT NULL)"
                " SELECT chain_id, diff_id, parent, size, snapshot_key, created FROM layers"
                " WHERE chain_id NOT IN (SELECT chain_id FROM live)"
            ).fetchall()
            parents = dict(self._conn.execute("SELECT chain_id, parent FROM layers").fetchall())
            used = {
                r[0]
                for r in self._conn.execute(
                    "SELECT config_digest FROM images UNION SELECT digest FROM image_blobs"
                )
            }
        layers = [layer_from_row(r) for r in rows]
        layers.sort(key=lambda layer: _depth(parents, str(layer.chain_id)), reverse=True)
        dead_blobs = tuple(d for d in blobs if str(d) not in used)
        return Garbage(tuple(layers), dead_blobs)


def _enable_wal(conn: sqlite3.Connection, path: Path, deadline: float) -> None:
    """Switch to WAL once per database file (the mode is persistent).

    The switch needs an exclusive lock and SQLite reports SQLITE_BUSY at once, without
    waiting, when another connection is opening the same new file; so retry here.
    """
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        if mode != "wal":
            raise SystemFault(f"{path}: cannot switch to WAL mode (the file system gave {mode})")


def _str(digest: Digest | None) -> str | None:
    return None if digest is None else str(digest)


def _depth(parents: dict[str, str | None], chain_id: str) -> int:
    depth = 0
    parent = parents.get(chain_id)
    while parent is not None:
        depth += 1
        parent = parents.get(parent)
    return depth
