"""What both archive formats have in common: the images to load and the images to save.

``ImagePlan`` is one image found in an archive (exact config bytes, staged layer blobs,
names), checked by ``check_plan`` before anything is registered. ``SaveImage`` is one
image to write, with the names it is saved under.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.images.names import normalize_tag
from dockyard.store import ImageRecord, LayerRecord
from dockyard.types.digest import Digest

from .tarstream import parse_json


@dataclass(frozen=True)
class ImagePlan:
    """One image of an archive: config bytes, layer blobs (base first), full names."""

    config: bytes
    layers: tuple[Digest, ...]
    diff_ids: tuple[Digest, ...]
    names: tuple[str, ...]

    @property
    def id(self) -> Digest:
        return Digest.of_bytes(self.config)


def make_plan(
    config: bytes, layers: Sequence[Digest], names: Sequence[str], where: str
) -> ImagePlan:
    """Check ``config`` against its layer list and normalize ``names``."""
    doc = parse_json(config, f"the config of {where}")
    diff_ids = config_diff_ids(doc, where)
    if len(diff_ids) != len(layers):
        raise InvalidArgument(
            f"invalid image archive: {where} lists {len(layers)} layers but its config "
            f"has {len(diff_ids)} diff ids"
        )
    tags: list[str] = []
    for name in names:
        try:
            tags.append(normalize_tag(name))
        except InvalidArgument as e:
            raise InvalidArgument(f"invalid image archive: {where}: {e}") from e
    return ImagePlan(config, tuple(layers), tuple(diff_ids), tuple(dict.fromkeys(tags)))


def config_diff_ids(doc: Any, where: str) -> list[Digest]:
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid image archive: the config of {where} is not an object")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids", []), list):
        raise InvalidArgument(f"invalid image archive: the config of {where} has no rootfs")
    try:
        return [Digest.parse(d) for d in rootfs.get("diff_ids", [])]
    except (InvalidArgument, AttributeError) as e:
        raise InvalidArgument(f"invalid image archive: the config of {where}: {e}") from e


@dataclass(frozen=True)
class SaveImage:
    """One image to write: its record, layers (base first), config bytes and names."""

    record: ImageRecord
    layers: tuple[LayerRecord, ...]
    config: bytes
    diff_ids: tuple[Digest, ...]
    names: tuple[str, ...]  # normalized; empty when saved by id
