"""Garbage collection: unreferenced layers and blobs go, shared and used ones stay."""

import os
from pathlib import Path

from dockyard.store import BlobRef, ContentStore, MetadataStore, chain_ids, gc, release_layers
from dockyard.types import Digest


def diff(name: str) -> Digest:
    return Digest.of_bytes(f"diff {name}".encode())


def add_stack(meta: MetadataStore, *names: str) -> list[Digest]:
    chains = chain_ids([diff(n) for n in names])
    parent = None
    for name, chain in zip(names, chains, strict=True):
        meta.add_layer(
            chain, diff(name), parent, 1, f"snap-{'-'.join(names[: chains.index(chain) + 1])}"
        )
        parent = chain
    return chains


def add_image(meta: MetadataStore, content: ContentStore, name: str, *layers: str) -> Digest:
    """An image with a config, a manifest and a compressed blob per layer in the store."""
    config = content.ingest(f"config {name}".encode()).digest
    manifest = content.ingest(f"manifest {name}".encode()).digest
    blobs = [BlobRef(manifest, "manifest")] + [
        BlobRef(content.ingest(f"gz {layer}".encode()).digest, "layer") for layer in layers
    ]
    meta.add_image(config, add_stack(meta, *layers), len(layers), blobs=blobs)
    meta.tag(f"example.com/{name}:latest", config)
    return config


def test_shared_base_is_kept_while_either_image_uses_it(
    meta: MetadataStore, content: ContentStore
) -> None:
    a = add_image(meta, content, "a", "base", "a-top")
    b = add_image(meta, content, "b", "base", "b-top")
    assert meta.garbage(content.digests()).layers == ()
    assert meta.garbage(content.digests()).blobs == ()

    meta.remove_image(a)
    result = gc(meta, content)
    a_top = chain_ids([diff("base"), diff("a-top")])[1]
    assert [layer.chain_id for layer in result.layers] == [a_top]
    removed = {Digest.of_bytes(x) for x in (b"config a", b"manifest a", b"gz a-top")}
    assert set(result.blobs) == removed
    assert result.bytes_freed == sum(len(x) for x in (b"config a", b"manifest a", b"gz a-top"))
    assert content.exists(Digest.of_bytes(b"gz base"))  # b's manifest still lists it
    assert all(content.exists(ref.digest) for ref in meta.get_image(b).blobs)

    snapshots_removed: list[str] = []
    assert release_layers(meta, result.layers, snapshots_removed.append) == [a_top]
    assert snapshots_removed == ["snap-base-a-top"]
    assert meta.layer_children(chain_ids([diff("base")])[0]) == [
        chain_ids([diff("base"), diff("b-top")])[1]
    ]


def test_dead_stacks_come_children_first(meta: MetadataStore, content: ContentStore) -> None:
    a = add_image(meta, content, "a", "l0", "l1", "l2")
    meta.remove_image(a)
    result = gc(meta, content)
    assert [layer.snapshot_key for layer in result.layers] == [
        "snap-l0-l1-l2",
        "snap-l0-l1",
        "snap-l0",
    ]
    removed: list[str] = []
    release_layers(meta, result.layers, removed.append)
    assert removed == ["snap-l0-l1-l2", "snap-l0-l1", "snap-l0"]
    assert meta.list_layers() == []
    assert list(content.digests()) == []


def test_a_container_keeps_its_layers_after_its_image_is_gone(
    meta: MetadataStore, content: ContentStore
) -> None:
    a = add_image(meta, content, "a", "base", "top")
    meta.add_container("c1", "c1-rw", a)
    meta.untag("example.com/a:latest")
    assert meta.garbage().layers == ()
    meta.remove_container("c1")
    meta.remove_image(a)
    assert len(meta.garbage().layers) == 2


def test_layer_that_gains_a_user_is_not_released(
    meta: MetadataStore, content: ContentStore
) -> None:
    add_stack(meta, "orphan")
    result = gc(meta, content)
    assert len(result.layers) == 1
    meta.add_image(Digest.of_bytes(b"late"), [result.layers[0].chain_id], 1)  # a pull raced
    removed: list[str] = []
    assert release_layers(meta, result.layers, removed.append) == []
    assert removed == []


def test_blobs_nothing_references_are_collected(meta: MetadataStore, content: ContentStore) -> None:
    keep = add_image(meta, content, "a", "base")
    stray = content.ingest(b"downloaded, never recorded").digest
    result = gc(meta, content)
    assert result.blobs == (stray,)
    assert not content.exists(stray)
    assert content.exists(keep)


def test_gc_cleans_what_a_crashed_writer_left(
    meta: MetadataStore, content: ContentStore, tmp_path: Path
) -> None:
    ingest = content.root / "ingest"
    (ingest / "tmp-4242-deadbeef").write_bytes(b"half a blob")
    old = ingest / f"{Digest.of_bytes(b'x').hex}.partial"
    old.write_bytes(b"stale download")
    os.utime(old, (0, 0))
    young = ingest / f"{Digest.of_bytes(b'y').hex}.partial"
    young.write_bytes(b"resumable")
    assert list(content.digests()) == []  # debris is never a blob
    result = gc(meta, content)
    assert sorted(p.name for p in result.ingest) == sorted(["tmp-4242-deadbeef", old.name])
    assert os.listdir(ingest) == [young.name]
