"""The rows of the metadata database as value objects (see ``schema`` for the tables)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.types.digest import Digest


@dataclass(frozen=True, slots=True)
class LayerRecord:
    """A committed layer snapshot: the stack of layers up to ``diff_id``."""

    chain_id: Digest
    diff_id: Digest
    parent: Digest | None
    size: int
    snapshot_key: str
    created: float


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A content-store blob an image keeps alive.

    ``kind`` is free text; the image code uses ``config``, ``manifest``, ``index`` and
    ``layer`` (a compressed layer as pulled, kept for push and save).
    """

    digest: Digest
    kind: str


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """An image: its id (= config digest), layer stack (chain ids, base first), blobs."""

    id: Digest
    config: Digest
    size: int
    created: float
    layers: tuple[Digest, ...]
    blobs: tuple[BlobRef, ...]
    names: tuple[str, ...]

    @property
    def top_layer(self) -> Digest | None:
        return self.layers[-1] if self.layers else None


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    """A container's claim on the store: its writable snapshot and what is below it."""

    id: str
    snapshot_key: str
    image_id: Digest | None
    layer: Digest | None
    created: float


@dataclass(frozen=True, slots=True)
class Garbage:
    """What nothing references any more.

    ``layers`` come children first: remove them in that order (a snapshot's parent
    cannot go before it). ``blobs`` are the given content-store blobs that no image
    references.
    """

    layers: tuple[LayerRecord, ...]
    blobs: tuple[Digest, ...]


def digest_or_none(text: str | None) -> Digest | None:
    return None if text is None else Digest.parse(text)


def layer_from_row(row: tuple[str, str, str | None, int, str, float]) -> LayerRecord:
    chain_id, diff_id, parent, size, key, created = row
    return LayerRecord(
        Digest.parse(chain_id), Digest.parse(diff_id), digest_or_none(parent), size, key, created
    )


def container_from_row(row: tuple[str, str, str | None, str | None, float]) -> ContainerRecord:
    container_id, key, image_id, layer, created = row
    return ContainerRecord(
        container_id, key, digest_or_none(image_id), digest_or_none(layer), created
    )
