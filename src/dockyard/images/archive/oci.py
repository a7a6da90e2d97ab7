"""The OCI image layout in a tar (``oci-archive``), as Docker 25+, skopeo and containerd
write it.

Layout::

    oci-layout           {"imageLayoutVersion": "1.0.0"}
    index.json           an image index; one manifest descriptor per name, annotated with
                         org.opencontainers.image.ref.name and io.containerd.image.name
    blobs/sha256/<hex>   manifests, configs and layers (plain, gzip or zstd tars)
    manifest.json        written too (as Docker 25 does), so ``docker load`` of Docker
                         20.10 reads the same archive

Loading follows ``index.json`` (nested indexes pick the host's platform, else the first
manifest); saving writes each layer as its uncompressed tar (blob digest = diff id).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.images.config import OCI_CONFIG, OCI_MANIFEST, host_architecture
from dockyard.images.layertar.compression import OCI_LAYER, compression_of
from dockyard.images.names import familiar_name, tag_of
from dockyard.types.descriptor import Descriptor
from dockyard.types.digest import Digest

from .docker import MANIFEST as DOCKER_MANIFEST
from .plan import ImagePlan, SaveImage, make_plan
from .tarstream import ArchiveWriter, Staged, parse_json

LAYOUT = "oci-layout"
INDEX = "index.json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST_V2)
INDEXES = (OCI_INDEX, DOCKER_LIST)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _blob_path(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


# -- load ----------------------------------------------------------------------------


def _descriptors(doc: Any, what: str) -> list[Descriptor]:
    if not isinstance(doc, dict) or not isinstance(doc.get("manifests"), list):
        raise InvalidArgument(f"invalid image archive: {what} has no manifests list")
    try:
        return [Descriptor.from_oci(d) for d in doc["manifests"]]
    except (InvalidArgument, AttributeError, TypeError) as e:
        raise InvalidArgument(f"invalid image archive: {what}: {e}") from e


def _read_blob(staged: Staged, desc: Descriptor, what: str) -> bytes:
    data = staged.read(_blob_path(desc.digest), what)
    if len(data) != desc.size:
        raise InvalidArgument(
            f"invalid image archive: size mismatch for {what} {desc.digest}: "
            f"the descriptor says {desc.size} bytes, the blob has {len(data)}"
        )
    return data


def _name_of(desc: Descriptor) -> str | None:
    notes = desc.annotations or {}
    return notes.get(CONTAINERD_NAME) or notes.get(REF_NAME) or None


def _pick_platform(staged: Staged, desc: Descriptor, depth: int = 0) -> Descriptor:
    """The manifest for this host out of a (nested) index."""
    if desc.media_type not in INDEXES:
        return desc
    if depth > 4:
        raise InvalidArgument("invalid image archive: indexes nested too deeply")
    doc = parse_json(_read_blob(staged, desc, "index"), "index")
    children = _descriptors(doc, f"index {desc.digest}")
    if not children:
        raise InvalidArgument(f"invalid image archive: index {desc.digest} is empty")
    wanted = {"os": "linux", "architecture": host_architecture()}
    chosen = children[0]
    for raw, child in zip(doc["manifests"], children, strict=True):
        platform = raw.get("platform")
        if isinstance(platform, dict) and all(platform.get(k) == v for k, v in wanted.items()):
            chosen = child
            break
    return _pick_platform(staged, chosen, depth + 1)


def plan(staged: Staged) -> list[ImagePlan]:
    """The images ``index.json`` describes (one plan per image, all its names)."""
    layout = parse_json(staged.read(LAYOUT, "file"), LAYOUT)
    if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
        raise InvalidArgument(f"invalid image archive: {LAYOUT} has no imageLayoutVersion")
    top = _descriptors(parse_json(staged.read(INDEX, "file"), INDEX), INDEX)
    plans: dict[Digest, ImagePlan] = {}
    names: dict[Digest, list[str]] = {}
    for desc in top:
        manifest_desc = _pick_platform(staged, desc)
        if manifest_desc.media_type not in MANIFESTS:
            raise InvalidArgument(
                f"invalid image archive: {INDEX} names {manifest_desc.digest} of unsupported "
                f"media type {manifest_desc.media_type!r}"
            )
        where = f"manifest {manifest_desc.digest}"
        doc = parse_json(_read_blob(staged, manifest_desc, "manifest"), where)
        if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
            raise InvalidArgument(f"invalid image archive: {where} has no layers list")
        try:
            config_desc = Descriptor.from_oci(doc.get("config") or {})
            layer_descs = [Descriptor.from_oci(d) for d in doc["layers"]]
        except (InvalidArgument, AttributeError, TypeError) as e:
            raise InvalidArgument(f"invalid image archive: {where}: {e}") from e
        config = _read_blob(staged, config_desc, "config")
        blobs = []
        for layer in layer_descs:
            compression_of(layer.media_type)  # refuse what is not a layer
            digest = staged.blob(_blob_path(layer.digest), "layer")
            if staged.content.size(digest) != layer.size:
                raise InvalidArgument(
                    f"invalid image archive: size mismatch for layer {layer.digest}"
                )
            blobs.append(digest)
        name = _name_of(desc)
        image = make_plan(config, blobs, [], where)
        plans.setdefault(image.id, image)
        if name:
            names.setdefault(image.id, []).append(name)
    return [
        make_plan(p.config, p.layers, names.get(image_id, []), f"image {image_id}")
        for image_id, p in plans.items()
    ]


# -- save ----------------------------------------------------------------------------


class OciArchiveWriter:
    """Writes images as an OCI layout (plus Docker's manifest.json); blobs go in once."""

    def __init__(self, writer: ArchiveWriter) -> None:
        self._w = writer
        self._blobs: dict[Digest, int] = {}
        self._index: list[dict[str, Any]] = []
        self._docker: list[dict[str, Any]] = []
        writer.add_dir("blobs/sha256")

    def _bytes_blob(self, data: bytes) -> Descriptor:
        digest = Digest.of_bytes(data)
        if digest not in self._blobs:
            self._w.add_bytes(_blob_path(digest), data)
            self._blobs[digest] = len(data)
        return Descriptor(OCTET, digest, len(data))

    def add(self, image: SaveImage) -> None:
        layers = []
        for layer, diff_id in zip(image.layers, image.diff_ids, strict=True):
            if diff_id not in self._blobs:
                self._blobs[diff_id] = self._w.add_layer(_blob_path(diff_id), layer, diff_id)
            layers.append(Descriptor(OCI_LAYER, diff_id, self._blobs[diff_id]))
        config = self._bytes_blob(image.config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": Descriptor(OCI_CONFIG, config.digest, config.size).to_oci(),
            "layers": [d.to_oci() for d in layers],
        }
        desc = self._bytes_blob(_dumps(manifest))
        base = Descriptor(OCI_MANIFEST, desc.digest, desc.size).to_oci()
        for name in image.names:
            notes = {CONTAINERD_NAME: name}
            tag = tag_of(name)
            if tag is not None:
                notes[REF_NAME] = tag
            self._index.append({**base, "annotations": notes})
        if not image.names:
            self._index.append(base)
        self._docker.append(
            {
                "Config": _blob_path(config.digest),
                "RepoTags": [familiar_name(n) for n in image.names] or None,
                "Layers": [_blob_path(d.digest) for d in layers],
            }
        )

    def finish(self) -> None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self._index}
        self._w.add_bytes(INDEX, _dumps(index))
        self._w.add_bytes(LAYOUT, _dumps({"imageLayoutVersion": "1.0.0"}))
        self._w.add_bytes(DOCKER_MANIFEST, _dumps(self._docker))


OCTET = "application/octet-stream"


def write(writer: ArchiveWriter, images: Sequence[SaveImage]) -> None:
    oci = OciArchiveWriter(writer)
    for image in images:
        oci.add(image)
    oci.finish()
