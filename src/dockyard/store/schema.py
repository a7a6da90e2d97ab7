"""The metadata database schema (``<root>/metadata.db``) and its migrations.

The schema version is SQLite's ``PRAGMA user_version``: 0 is an empty file, N means
``MIGRATIONS[0:N]`` have been applied. Migrations only ever get appended; a released
one is never edited (a database in the field has run it). All pending migrations run in
ONE ``BEGIN IMMEDIATE`` transaction together with the version bump, so a crash leaves
the database at the old version or the latest, never in between; of two processes
opening the same database at once, the second re-reads the version under the write lock
and finds nothing left to do.

Foreign keys are off while migrations run (so a migration may rebuild a table the way
https://sqlite.org/lang_altertable.html#otheralter describes) and
``PRAGMA foreign_key_check`` must pass before a migration commits.

Conventions: digests are stored as text ``"sha256:<hex>"``; times are unix seconds
(REAL) of when the row was written here; sizes are bytes.

Tables (as of the latest version):

``layers``        one row per committed layer snapshot, keyed by chain id.
                  ``parent`` is the chain id below it (NULL for a base layer), so the
                  rows form a forest; ``snapshot_key`` names the snapshotter's snapshot.
``images``        one row per image; the id is the digest of its config blob.
``image_layers``  the image's layer stack, ``position`` 0 = base layer.
``image_blobs``   content-store blobs an image keeps alive: manifest(s), index, compressed
                  layers, config (``kind`` says which; free text, see ``BlobRef``).
``refs``          names pointing at images: ``docker.io/library/busybox:latest`` or
                  ``docker.io/library/busybox@sha256:<manifest hex>``, already normalized
                  by the caller. Removing an image removes its refs.
``build_cache``   the build cache: a step's key (its parent image, instruction and
                  inputs, hashed by the builder) to the image that step made. Removing
                  the image removes its cache rows.
``containers``    each container's writable snapshot, its image and the layer that
                  snapshot sits on (``layer`` keeps that layer alive even if the image is
                  untagged and removed later).
"""

from __future__ import annotations

import sqlite3

from dockyard.errors import NotSupported, SystemFault

# v1: the core tables.
_V1 = """
CREATE TABLE layers (
    chain_id     TEXT PRIMARY KEY,
    diff_id      TEXT NOT NULL,
    parent       TEXT REFERENCES layers (chain_id),
    size         INTEGER NOT NULL,
    snapshot_key TEXT NOT NULL UNIQUE,
    created      REAL NOT NULL
);
CREATE INDEX layers_parent ON layers (parent);

CREATE TABLE images (
    id            TEXT PRIMARY KEY,
    config_digest TEXT NOT NULL,
    size          INTEGER NOT NULL,
    created       REAL NOT NULL
);

CREATE TABLE image_layers (
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    chain_id TEXT NOT NULL REFERENCES layers (chain_id),
    PRIMARY KEY (image_id, position)
) WITHOUT ROWID;
CREATE INDEX image_layers_chain ON image_layers (chain_id);

CREATE TABLE refs (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    created  REAL NOT NULL
);
CREATE INDEX refs_image ON refs (image_id);

CREATE TABLE containers (
    id           TEXT PRIMARY KEY,
    snapshot_key TEXT NOT NULL UNIQUE,
    image_id     TEXT REFERENCES images (id),   -- NULL: no image (scratch)
    layer        TEXT REFERENCES layers (chain_id),  -- NULL: empty rootfs below
    created      REAL NOT NULL
);
CREATE INDEX containers_image ON containers (image_id);
CREATE INDEX containers_layer ON containers (layer);
"""

# v2: which content-store blobs each image keeps alive, for garbage collection. v1
# images only knew their config blob, which becomes their first blob reference.
_V2 = """
CREATE TABLE image_blobs (
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    digest   TEXT NOT NULL,
    kind     TEXT NOT NULL,   -- 'config', 'manifest', 'index', 'layer', ...
    PRIMARY KEY (image_id, digest)
) WITHOUT ROWID;
CREATE INDEX image_blobs_digest ON image_blobs (digest);
INSERT INTO image_blobs (image_id, digest, kind) SELECT id, config_digest, 'config' FROM images;
"""

# v3: the build cache (``dockerd`` finds cached steps by walking image parents and
# comparing configs; a keyed table answers in one lookup and survives restarts alike).
_V3 = """
CREATE TABLE build_cache (
    key      TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    created  REAL NOT NULL
);
CREATE INDEX build_cache_image ON build_cache (image_id);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
"""``MIGRATIONS[n]`` takes the database from version n to n + 1. Append only."""

LATEST = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a script into single statements (``executescript`` would commit mid-way)."""
    found: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        not ln.strip() or ln.strip().startswith("--") for ln in pending.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending!r}")
    return found


def version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, name: str) -> int:
    """Bring the database up to ``LATEST``; return the version this call found it at.

    (Of several processes racing to open a new database, one returns 0 and the others
    ``LATEST``: the version is read again under the write lock.)

    ``conn`` must be in autocommit mode (``isolation_level=None``) and outside a
    transaction. ``name`` (the file) is only used in messages.
    """
    before = _known(version(conn), name)
    if before == LATEST:
        return before
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set it here
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = _known(
                version(conn), name
            )  # again, under the write lock: another opener may have won
            for step in range(found, LATEST):
                for statement in statements(MIGRATIONS[step]):
                    conn.execute(statement)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise SystemFault(
                    f"migrating {name} from schema version {found} to {LATEST} broke "
                    f"foreign keys: {broken[:5]}; the database was left at version {found}"
                )
            conn.execute(f"PRAGMA user_version = {LATEST}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return found


def _known(current: int, name: str) -> int:
    if current > LATEST:
        raise NotSupported(
            f"{name} has schema version {current}, newer than this dockyard knows "
            f"({LATEST}); upgrade dockyard or point it at another data root"
        )
    return current
