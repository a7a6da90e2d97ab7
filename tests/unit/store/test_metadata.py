"""The metadata store: layers, images, refs, containers, id prefixes, SQLite settings."""

import sqlite3
import threading
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.store import BlobRef, MetadataStore, chain_ids
from dockyard.store.schema import LATEST
from dockyard.types import Digest


def diff(name: str) -> Digest:
    return Digest.of_bytes(f"diff {name}".encode())


def add_stack(meta: MetadataStore, *names: str) -> list[Digest]:
    """Record layers ``names`` (base first) as one stack; return their chain ids."""
    chains = chain_ids([diff(n) for n in names])
    parent = None
    for name, chain in zip(names, chains, strict=True):
        meta.add_layer(chain, diff(name), parent, 100, f"snap-{chain.hex[:16]}")
        parent = chain
    return chains


def image_id(name: str) -> Digest:
    return Digest.of_bytes(f"config {name}".encode())


def test_wal_foreign_keys_and_schema_version(meta: MetadataStore, tmp_path: Path) -> None:
    assert meta.schema_version == LATEST
    assert meta.migrated_from == 0
    conn = sqlite3.connect(tmp_path / "metadata.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    finally:
        conn.close()
    assert meta._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_add_layer_is_idempotent_and_returns_the_existing_record(meta: MetadataStore) -> None:
    (base,) = add_stack(meta, "base")
    again = meta.add_layer(base, diff("base"), None, 100, "another-snapshot")
    assert again.snapshot_key == f"snap-{base.hex[:16]}"
    assert again == meta.get_layer(base)
    assert [layer.chain_id for layer in meta.list_layers()] == [base]


def test_add_layer_checks_chain_id_and_parent(meta: MetadataStore) -> None:
    base, top = chain_ids([diff("base"), diff("top")])
    with pytest.raises(InvalidArgument, match="does not match"):
        meta.add_layer(top, diff("top"), None, 1, "k")
    with pytest.raises(NotFound, match=f"no such layer: {base}"):
        meta.add_layer(top, diff("top"), base, 1, "k")
    with pytest.raises(NotFound, match="no such layer"):
        meta.get_layer(base)


def test_layer_children_and_refcount(meta: MetadataStore) -> None:
    base, mid = add_stack(meta, "base", "mid")
    (_, other) = add_stack(meta, "base", "other")
    assert meta.layer_children(base) == sorted([mid, other], key=str)
    assert meta.layer_refcount(base) == 2
    assert meta.layer_refcount(mid) == 0
    meta.add_image(image_id("a"), [base, mid], 200)
    assert meta.layer_refcount(mid) == 1
    meta.add_container("c1", "c1-rw", image_id("a"))
    assert meta.layer_refcount(mid) == 2
    with pytest.raises(Conflict, match="1 images, 1 containers"):
        meta.remove_layer(mid)
    with pytest.raises(Conflict, match="2 child layers"):
        meta.remove_layer(base)
    meta.remove_layer(other)
    assert meta.layer_children(base) == [mid]


def test_image_crud(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base", "top")
    manifest = Digest.of_bytes(b"manifest")
    img = meta.add_image(
        image_id("a"), layers, 200, blobs=[BlobRef(manifest, "manifest")], created=5.0
    )
    assert img.id == img.config == image_id("a")
    assert img.layers == tuple(layers)
    assert img.top_layer == layers[-1]
    assert (img.size, img.created, img.names) == (200, 5.0, ())
    assert set(img.blobs) == {BlobRef(image_id("a"), "config"), BlobRef(manifest, "manifest")}
    assert meta.get_image(image_id("a")) == img
    # again with one more blob: same row, blobs merged
    index = Digest.of_bytes(b"index")
    again = meta.add_image(image_id("a"), layers, 200, blobs=[BlobRef(index, "index")])
    assert again.created == 5.0
    assert BlobRef(index, "index") in again.blobs and len(again.blobs) == 3
    with pytest.raises(Conflict, match="other layers"):
        meta.add_image(image_id("a"), layers[:1], 100)
    with pytest.raises(NotFound, match="no such layer"):
        meta.add_image(image_id("b"), [diff("unknown")], 1)
    assert [i.id for i in meta.list_images()] == [image_id("a")]
    assert meta.remove_image(image_id("a")).id == image_id("a")
    assert meta.list_images() == []
    with pytest.raises(NotFound, match=f"no such image: {image_id('a')}"):
        meta.get_image(image_id("a"))


def test_tags_move_and_go_with_the_image(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base")
    meta.add_image(image_id("a"), layers, 1)
    meta.add_image(image_id("b"), layers, 1)
    name = "docker.io/library/busybox:latest"
    assert meta.tag(name, image_id("a")) is None
    assert meta.tag(name, image_id("b")) == image_id("a")  # re-tag moves the name
    meta.tag("docker.io/library/busybox@sha256:" + "1" * 64, image_id("b"))
    assert meta.resolve(name) == image_id("b")
    assert meta.get_image(image_id("b")).names == (
        "docker.io/library/busybox:latest",
        "docker.io/library/busybox@sha256:" + "1" * 64,
    )
    assert meta.refs(image_id("a")) == []
    assert meta.untag(name) == image_id("b")
    with pytest.raises(NotFound, match=f"no such image: {name}"):
        meta.untag(name)
    with pytest.raises(NotFound, match="no such image"):
        meta.tag(name, image_id("nope"))
    meta.remove_image(image_id("b"))
    assert meta.refs() == []


def test_resolve_by_ref_full_id_and_prefix(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base")
    meta.add_image(image_id("a"), layers, 1)
    meta.add_image(image_id("b"), layers, 1)
    a, b = image_id("a"), image_id("b")
    common = next(n for n in range(64) if a.hex[n] != b.hex[n])  # shared prefix length
    for text in (str(a), a.hex, a.short, "sha256:" + a.short, a.hex[: common + 1]):
        assert meta.resolve(text) == a
        assert meta.get_image(text).id == a
    absent = "f" * 64 if not a.hex.startswith("f") else "0" * 64
    for missing in (absent, "sha256:" + absent, "", "zzz", a.short.upper(), "busybox", a.hex + "0"):
        with pytest.raises(NotFound, match="no such image"):
            meta.resolve(missing)
    # a ref wins over an id prefix that happens to look the same
    meta.tag(b.short, a)
    assert meta.resolve(b.short) == a


def test_ambiguous_prefix_is_a_conflict(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base")
    ids = [Digest.of_bytes(str(i).encode()) for i in range(40)]
    for i in ids:
        meta.add_image(i, layers, 1)
    first = {i.hex[0] for i in ids}
    shared = next(c for c in first if sum(i.hex[0] == c for i in ids) > 1)
    with pytest.raises(Conflict, match=f"image id prefix '{shared}' is ambiguous"):
        meta.resolve(shared)


def test_containers(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base", "top")
    meta.add_image(image_id("a"), layers, 1)
    c = meta.add_container("abc", "abc-rw", image_id("a"), created=1.0)
    assert (c.layer, c.image_id, c.snapshot_key) == (layers[-1], image_id("a"), "abc-rw")
    assert meta.get_container("abc") == c
    scratch = meta.add_container("def", "def-rw")
    assert scratch.layer is None and scratch.image_id is None
    assert [x.id for x in meta.list_containers()] == ["abc", "def"]
    assert meta.snapshot_keys() == {"abc-rw", "def-rw"} | {
        meta.get_layer(chain).snapshot_key for chain in layers
    }
    with pytest.raises(Conflict, match="exists already"):
        meta.add_container("abc", "other-rw")
    with pytest.raises(Conflict, match="in use by container abc"):
        meta.remove_image(image_id("a"))
    assert meta.remove_container("abc") == c
    with pytest.raises(NotFound, match="no such container: abc"):
        meta.remove_container("abc")
    with pytest.raises(NotFound, match="no such container: abc"):
        meta.get_container("abc")
    meta.remove_image(image_id("a"))


def test_forced_image_removal_detaches_its_containers(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base", "top")
    meta.add_image(image_id("a"), layers, 1)
    meta.add_container("abc", "abc-rw", image_id("a"), created=1.0)
    meta.remove_image(image_id("a"), detach_containers=True)
    c = meta.get_container("abc")
    assert c.image_id is None and c.layer == layers[-1]
    # the container's layer chain is still alive: nothing of it is garbage
    assert not set(layers) & {layer.chain_id for layer in meta.garbage().layers}


def test_failed_transaction_changes_nothing(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base")
    meta.add_image(image_id("a"), layers, 1)
    # the second container's snapshot key collides: the INSERT fails after the checks
    meta.add_container("one", "same-key")
    with pytest.raises(Conflict, match="metadata change refused"):
        meta.add_container("two", "same-key")
    assert [c.id for c in meta.list_containers()] == ["one"]


def test_one_store_shared_by_threads(meta: MetadataStore) -> None:
    (base,) = add_stack(meta, "base")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for k in range(20):
                img = Digest.of_bytes(f"{n}-{k}".encode())
                meta.add_image(img, [base], 1)
                meta.tag(f"example.com/t{n}:{k}", img)
                assert meta.resolve(f"example.com/t{n}:{k}") == img
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(meta.list_images()) == 160
    assert meta.layer_refcount(base) == 160


def test_two_stores_on_one_file_see_each_other(meta: MetadataStore, tmp_path: Path) -> None:
    with MetadataStore(tmp_path / "metadata.db") as other:
        (base,) = add_stack(other, "base")
        other.add_image(image_id("a"), [base], 1)
        assert meta.get_image(image_id("a")).layers == (base,)


def test_build_cache_rows_follow_their_image(meta: MetadataStore) -> None:
    layers = add_stack(meta, "base")
    img = image_id("cached")
    meta.add_image(img, layers, 100)
    assert meta.cached_step("k") is None
    meta.cache_step("k", img)
    assert meta.cached_step("k") == img
    meta.remove_image(img)
    assert meta.cached_step("k") is None  # the row went with the image
    meta.add_image(img, layers, 100)
    meta.cache_step("k2", img)
    assert meta.drop_build_cache() == [img]
    assert meta.cached_step("k2") is None
