"""Schema migrations: a v1 database is upgraded in place; newer ones are refused."""

import sqlite3
import threading
from pathlib import Path

import pytest

from dockyard.errors import NotSupported
from dockyard.store import BlobRef, MetadataStore, chain_ids
from dockyard.store.schema import LATEST, MIGRATIONS, statements
from dockyard.types import Digest

DIFFS = [Digest.of_bytes(b"base"), Digest.of_bytes(b"top")]
CHAINS = chain_ids(DIFFS)
IMAGE = Digest.of_bytes(b"config")


def write_v1_database(path: Path) -> None:
    """What a dockyard at schema version 1 left on disk, with one tagged image."""
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "INSERT INTO layers VALUES (?, ?, NULL, 10, 'snap-base', 1.0)",
        (str(CHAINS[0]), str(DIFFS[0])),
    )
    conn.execute(
        "INSERT INTO layers VALUES (?, ?, ?, 20, 'snap-top', 1.0)",
        (str(CHAINS[1]), str(DIFFS[1]), str(CHAINS[0])),
    )
    conn.execute("INSERT INTO images VALUES (?, ?, 30, 2.0)", (str(IMAGE), str(IMAGE)))
    conn.executemany(
        "INSERT INTO image_layers VALUES (?, ?, ?)",
        [(str(IMAGE), i, str(c)) for i, c in enumerate(CHAINS)],
    )
    conn.execute("INSERT INTO refs VALUES ('example.com/app:v1', ?, 3.0)", (str(IMAGE),))
    conn.execute(
        "INSERT INTO containers VALUES ('c1', 'c1-rw', ?, ?, 4.0)", (str(IMAGE), str(CHAINS[1]))
    )
    conn.commit()
    conn.close()


def test_v1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    write_v1_database(path)
    with MetadataStore(path) as meta:
        assert meta.migrated_from == 1
        assert meta.schema_version == LATEST
        image = meta.get_image(meta.resolve("example.com/app:v1"))
        assert image.layers == tuple(CHAINS)
        assert (image.size, image.created, image.names) == (30, 2.0, ("example.com/app:v1",))
        # v2 turned the config digest into the image's first blob reference
        assert image.blobs == (BlobRef(IMAGE, "config"),)
        assert meta.get_container("c1").layer == CHAINS[1]
        # and the upgraded database works like a fresh one
        meta.add_image(IMAGE, CHAINS, 30, blobs=[BlobRef(Digest.of_bytes(b"m"), "manifest")])
        assert len(meta.get_image(IMAGE).blobs) == 2
    with MetadataStore(path) as again:
        assert again.migrated_from == LATEST


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(NotSupported, match=f"schema version {LATEST + 1}, newer"):
        MetadataStore(path)


def test_stores_opening_a_fresh_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    barrier = threading.Barrier(6)
    opened: list[MetadataStore] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            barrier.wait(timeout=30)
            opened.append(MetadataStore(path))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    # exactly one of them found the file empty; the others found it migrated
    assert sorted(m.migrated_from for m in opened) == [0] + [LATEST] * 5
    for m in opened:
        assert m.schema_version == LATEST
        m.close()


def test_statements_split_scripts_with_comments() -> None:
    script = """
    CREATE TABLE a (x TEXT, -- a comment; with a semicolon
                    y TEXT);
    -- a comment between statements
    INSERT INTO a VALUES ('1;2', 'y');
    -- trailing comment
    """
    found = statements(script)
    assert len(found) == 2
    assert found[1].endswith("INSERT INTO a VALUES ('1;2', 'y');")
    conn = sqlite3.connect(":memory:")
    for statement in found:
        conn.execute(statement)
    assert conn.execute("SELECT x, y FROM a").fetchall() == [("1;2", "y")]
    conn.close()
    with pytest.raises(ValueError, match="incomplete"):
        statements("CREATE TABLE b (x TEXT)")
    for migration in MIGRATIONS:
        assert statements(migration)
