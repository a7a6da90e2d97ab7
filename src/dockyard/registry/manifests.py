"""Manifests: media types, parsing, and choosing the host's image from an index.

Docker schema 2 manifests and manifest lists, OCI manifests and indexes are accepted;
schema 1 (signed or not) is refused with a message that says how to convert the image.
``select_manifest`` picks the entry of a list or index for a platform the way
containerd's platform matcher does: os and architecture must match, a variant must
match when both sides name one (an entry without variant is a weaker match), and
attestation entries (``unknown/unknown``) are never chosen.
"""

from __future__ import annotations

import json
import platform as _platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument, NotFound, NotSupported
from dockyard.types.descriptor import Descriptor

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join((*IMAGE_MANIFESTS, *INDEXES))

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386"}
_VARIANT = {"aarch64": "v8", "armv7l": "v7", "armv6l": "v6"}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def host(cls) -> Platform:
        machine = _platform.machine()
        return cls("linux", _ARCH.get(machine, machine), _VARIANT.get(machine, ""))

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch[/variant]`` as ``--platform`` takes it."""
        parts = text.lower().split("/")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise InvalidArgument(f"invalid platform {text!r}: use os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Manifest:
    """An image manifest: config and layers (base first)."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class IndexEntry:
    descriptor: Descriptor
    platform: Platform | None


def media_type_of(raw: bytes, content_type: str) -> str:
    """The manifest's media type: its own ``mediaType`` field, else the Content-Type."""
    doc = _load(raw)
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    ctype = content_type.split(";", maxsplit=1)[0].strip()
    if ctype and ctype not in ("application/json", "text/plain"):
        return ctype
    if doc.get("schemaVersion") == 1:
        return SCHEMA1[0]
    if "manifests" in doc:
        return OCI_INDEX
    return OCI_MANIFEST


def refuse_schema1(media_type: str, where: str) -> None:
    if media_type in SCHEMA1:
        raise NotSupported(
            f"{where}: manifest schema 1 is not supported (deprecated since Docker 1.10): "
            "push the image again with a current client to convert it to schema 2"
        )


def parse_manifest(raw: bytes, media_type: str, where: str) -> Manifest:
    refuse_schema1(media_type, where)
    if media_type not in IMAGE_MANIFESTS:
        raise InvalidArgument(
            f"{where}: unknown manifest media type {media_type!r}: only Docker schema 2 and "
            "OCI image manifests (and their indexes) can be pulled"
        )
    doc = _load(raw)
    try:
        config = Descriptor.from_oci(doc["config"])
        layers = tuple(Descriptor.from_oci(d) for d in doc.get("layers") or [])
    except (KeyError, TypeError) as e:
        raise InvalidArgument(f"{where}: invalid manifest: missing {e}") from e
    return Manifest(media_type, config, layers)


def parse_index(raw: bytes, media_type: str, where: str) -> list[IndexEntry]:
    if media_type not in INDEXES:
        raise InvalidArgument(f"{where}: not a manifest list or index: {media_type}")
    doc = _load(raw)
    entries = []
    for item in doc.get("manifests") or []:
        if not isinstance(item, dict):
            raise InvalidArgument(f"{where}: invalid index entry {item!r}")
        desc = Descriptor.from_oci(item)
        plat = item.get("platform")
        found = None
        if isinstance(plat, dict):
            found = Platform(
                str(plat.get("os", "")),
                str(plat.get("architecture", "")),
                str(plat.get("variant", "")),
            )
        entries.append(IndexEntry(desc, found))
    return entries


def select_manifest(entries: Sequence[IndexEntry], want: Platform, where: str) -> Descriptor:
    """The entry for ``want``; NotFound naming the platforms on offer otherwise."""
    best: tuple[int, Descriptor] | None = None
    for entry in entries:
        p = entry.platform
        if p is None or p.os != want.os or p.architecture != want.architecture:
            continue
        if entry.descriptor.media_type in SCHEMA1:
            continue
        if p.variant and want.variant and p.variant != want.variant:
            continue
        score = 2 if p.variant == want.variant else 1
        if best is None or score > best[0]:
            best = (score, entry.descriptor)
    if best is None:
        offered = sorted(
            {str(e.platform) for e in entries if e.platform and e.platform.os != "unknown"}
        )
        raise NotFound(
            f"{where}: no matching manifest for {want} in the manifest list entries "
            f"(the image offers: {', '.join(offered) or 'none'})"
        )
    return best[1]


def docker_manifest(config: Descriptor, layers: Sequence[Descriptor]) -> bytes:
    """A Docker schema 2 manifest for ``config`` and ``layers`` (what ``docker push`` sends)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": config.to_oci(),
        "layers": [layer.to_oci() for layer in layers],
    }
    return json.dumps(doc, indent=3).encode()


def _load(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"invalid manifest: not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid manifest: not a JSON object")
    return doc
