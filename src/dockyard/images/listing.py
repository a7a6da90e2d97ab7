"""``docker images``, the layer tree and ``docker system df`` for images.

``list_images`` answers one ``ImageSummary`` per image (the CLI prints one row per
tag). Filters, as Docker's: ``dangling=true|false``, ``label=key`` or ``label=k=v``,
``reference=<glob>`` (matched against ``repo`` and ``repo:tag`` in familiar form),
``before=<image>`` and ``since=<image>`` (creation time). Without ``all_images``, an
untagged image that is the parent of another image is hidden (Docker's intermediate
images). ``layer_tree`` draws the layer parentage with the images on each layer.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.store import ImageRecord, LayerRecord

from .config import load_config
from .imagestore import ImageStore
from .inspect import parent_of, repo_digests, repo_tags
from .names import familiar_name

FILTERS = ("dangling", "label", "reference", "before", "since")


@dataclass(frozen=True)
class ImageSummary:
    id: str
    parent: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: float
    size: int
    shared_size: int
    labels: Mapping[str, str] = field(default_factory=dict)
    containers: int = 0

    def docker(self) -> dict[str, Any]:
        """The ``GET /images/json`` item."""
        return {
            "Id": self.id,
            "ParentId": self.parent,
            "RepoTags": list(self.repo_tags),
            "RepoDigests": list(self.repo_digests),
            "Created": int(self.created),
            "Size": self.size,
            "SharedSize": self.shared_size,
            "VirtualSize": self.size,
            "Labels": dict(self.labels) or None,
            "Containers": self.containers,
        }


def _labels(store: ImageStore, image: ImageRecord) -> dict[str, str]:
    return dict((load_config(store, image).get("config") or {}).get("Labels") or {})


def _matches_reference(image: ImageRecord, patterns: Sequence[str]) -> bool:
    for name in image.names:
        short = familiar_name(name)
        repo = short.split("@")[0].rsplit(":", 1)[0] if ":" in short.split("/")[-1] else short
        for pattern in patterns:
            if fnmatch.fnmatchcase(short, pattern) or fnmatch.fnmatchcase(repo, pattern):
                return True
    return False


def _label_ok(labels: Mapping[str, str], wanted: Sequence[str]) -> bool:
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


def list_images(
    store: ImageStore,
    *,
    all_images: bool = False,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> list[ImageSummary]:
    """The images, newest first, filtered as ``docker images --filter``."""
    filters = filters or {}
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise InvalidArgument(f"invalid filter {unknown[0]!r}: use one of {', '.join(FILTERS)}")
    images = store.metadata.list_images()
    users: dict[str, int] = {}
    for c in store.metadata.list_containers():
        if c.image_id is not None:
            users[str(c.image_id)] = users.get(str(c.image_id), 0) + 1
    parents = {parent_of(i) for i in images}
    layer_users: dict[str, int] = {}
    for image in images:
        for chain in image.layers:
            layer_users[str(chain)] = layer_users.get(str(chain), 0) + 1
    sizes = {str(layer.chain_id): layer.size for layer in store.metadata.list_layers()}
    bounds = {k: [store.image(v).created for v in filters.get(k, ())] for k in ("before", "since")}
    out: list[ImageSummary] = []
    for image in images:
        dangling = not any("@" not in n for n in image.names)
        if not all_images and dangling and str(image.id) in parents and "dangling" not in filters:
            continue
        if "dangling" in filters:
            want = [v.lower() in ("1", "true") for v in filters["dangling"]]
            if dangling not in want:
                continue
        if "reference" in filters and not _matches_reference(image, filters["reference"]):
            continue
        if any(image.created >= b for b in bounds["before"]):
            continue
        if any(image.created <= b for b in bounds["since"]):
            continue
        labels = _labels(store, image)
        if "label" in filters and not _label_ok(labels, filters["label"]):
            continue
        shared = sum(sizes.get(str(c), 0) for c in image.layers if layer_users.get(str(c), 0) > 1)
        out.append(
            ImageSummary(
                str(image.id),
                parent_of(image),
                tuple(repo_tags(image)),
                tuple(repo_digests(image)),
                image.created,
                image.size,
                shared,
                labels,
                users.get(str(image.id), 0),
            )
        )
    out.sort(key=lambda s: s.created, reverse=True)
    return out


def layer_tree(store: ImageStore) -> str:
    """The layers as a tree (base layers at the left), each with the images it tops."""
    layers = store.metadata.list_layers()
    kids: dict[str | None, list[LayerRecord]] = {}
    for layer in layers:
        kids.setdefault(None if layer.parent is None else str(layer.parent), []).append(layer)
    tops: dict[str, list[str]] = {}
    for image in store.metadata.list_images():
        if image.top_layer is not None:
            label = ", ".join(repo_tags(image)) or "<none>"
            tops.setdefault(str(image.top_layer), []).append(f"{image.id.short} ({label})")
    lines: list[str] = []

    def draw(parent: str | None, prefix: str) -> None:
        children = sorted(kids.get(parent, []), key=lambda layer: str(layer.chain_id))
        for i, layer in enumerate(children):
            last = i == len(children) - 1
            images = tops.get(str(layer.chain_id))
            suffix = f"  <- {'; '.join(images)}" if images else ""
            lines.append(
                f"{prefix}{'└─ ' if last else '├─ '}{layer.chain_id.short} {layer.size}B{suffix}"
            )
            draw(str(layer.chain_id), prefix + ("   " if last else "│  "))

    draw(None, "")
    return "\n".join(lines)


@dataclass(frozen=True)
class ImagesUsage:
    """``docker system df`` for images: counts and bytes (layers shared counted once)."""

    images: int
    active: int
    size: int
    reclaimable: int
    containers_size: int


def disk_usage(store: ImageStore) -> ImagesUsage:
    images = store.metadata.list_images()
    containers = store.metadata.list_containers()
    used_images = {c.image_id for c in containers}
    layers = {str(layer.chain_id): layer.size for layer in store.metadata.list_layers()}
    live: set[str] = set()
    for image in images:
        if image.id in used_images:
            live.update(str(c) for c in image.layers)
    for c in containers:
        if c.layer is not None:
            live.add(str(c.layer))
    total = sum(layers.values())
    reclaimable = sum(size for chain, size in layers.items() if chain not in live)
    containers_size = 0
    for c in containers:
        try:
            containers_size += store.snapshotter.usage(c.snapshot_key).size_bytes
        except Exception:
            continue
    return ImagesUsage(
        len(images), len(used_images & {i.id for i in images}), total, reclaimable, containers_size
    )
