"""Docker's JSON for images: ``ImageSummary``, ``ImageInspect``, history items, the
images part of ``/system/df`` and the JSON progress lines of load/import/pull.

Version differences follow Docker: ``VirtualSize`` only before API 1.44; untagged
images listed as ``<none>:<none>`` before 1.43; the ``Container``/``ContainerConfig``
fields of inspect only before 1.45.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from dockyard.engine.images import ImagesDiskUsage, LocalImage
from dockyard.images.history import HistoryItem
from dockyard.images.listing import ImageSummary
from dockyard.images.names import familiar_name

NONE_TAG = "<none>:<none>"
NONE_DIGEST = "<none>@<none>"


def _older(version: str | None, than: str) -> bool:
    """Whether the client's API version is older than ``than`` (no version: newest)."""
    if version is None:
        return False
    return tuple(int(p) for p in version.split(".")) < tuple(int(p) for p in than.split("."))


def image_summary(
    image: ImageSummary, version: str | None, *, containers: bool = False
) -> dict[str, Any]:
    """A ``GET /images/json`` item. ``SharedSize`` and ``Containers`` are -1 (not
    computed) unless ``containers`` (``/system/df`` computes both)."""
    tags, digests = list(image.repo_tags), list(image.repo_digests)
    if _older(version, "1.43") and not tags and not digests:
        tags, digests = [NONE_TAG], [NONE_DIGEST]
    doc: dict[str, Any] = {
        "Id": image.id,
        "ParentId": image.parent,
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": int(image.created),
        "Size": image.size,
        "SharedSize": image.shared_size if containers else -1,
        "Labels": dict(image.labels),
        "Containers": image.containers if containers else -1,
    }
    if _older(version, "1.44"):
        doc["VirtualSize"] = image.size
    return doc


def image_inspect(doc: dict[str, Any], version: str | None) -> dict[str, Any]:
    """``GET /images/{name}/json``: the image layer's document, fitted to the version."""
    out = dict(doc)
    if _older(version, "1.44"):
        out["VirtualSize"] = out.get("Size", 0)
    if _older(version, "1.45"):
        out.setdefault("Container", "")
        out.setdefault("ContainerConfig", dict(out.get("Config") or {}))
    return out


def history_item(item: HistoryItem) -> dict[str, Any]:
    """A ``GET /images/{name}/history`` item (``Tags`` null below the newest entry)."""
    return {
        "Id": item.id,
        "Created": int(item.created),
        "CreatedBy": item.created_by,
        "Tags": list(item.tags) or None,
        "Size": item.size,
        "Comment": item.comment,
    }


def images_disk_usage(du: ImagesDiskUsage, version: str | None) -> dict[str, Any]:
    """The images part of ``GET /system/df``: ``LayersSize`` and ``Images``."""
    return {
        "LayersSize": du.usage.size,
        "Images": [image_summary(i, version, containers=True) for i in du.images],
    }


# -- JSON message streams ---------------------------------------------------------------


def message(doc: dict[str, Any]) -> bytes:
    """One line of a JSON message stream (Docker ends each with CRLF)."""
    return (json.dumps(doc) + "\r\n").encode()


def error_message(text: str) -> bytes:
    """An error inside a stream whose status is out already."""
    return message({"errorDetail": {"message": text}, "error": text})


def loaded_messages(names: Iterable[str]) -> list[bytes]:
    """``docker load``'s closing lines: ``Loaded image: NAME`` or ``Loaded image ID: ID``."""
    out = []
    for name in names:
        if name.startswith("sha256:"):
            out.append(message({"stream": f"Loaded image ID: {name}\n"}))
        else:
            out.append(message({"stream": f"Loaded image: {name}\n"}))
    return out


def pull_up_to_date(image: LocalImage) -> list[bytes]:
    """The pull messages for an image that is here already (as Docker's, no download)."""
    short = familiar_name(image.name)
    repo, _, tag = image.name.rpartition(":")
    if "@" in image.name:
        repo, _, tag = image.name.partition("@")
    path = repo.split("/", 1)[1]  # a normalized name always starts with its registry
    lines = [message({"status": f"Pulling from {path}", "id": tag})]
    digests: Sequence[str] = image.digests
    if digests:
        lines.append(message({"status": f"Digest: {digests[0].rpartition('@')[2]}"}))
    lines.append(message({"status": f"Status: Image is up to date for {short}"}))
    return lines
