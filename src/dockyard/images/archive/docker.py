"""The docker-archive format (``docker save`` of Docker 20.10 and earlier).

Layout::

    manifest.json        [{"Config": "<hex>.json", "RepoTags": [...], "Layers": [...]}]
    repositories         {"<repo>": {"<tag>": "<top layer v1 id>"}}
    <hex>.json           the image config (hex = image id)
    <v1 id>/VERSION      "1.0"
    <v1 id>/json         legacy v1 image JSON (read by nobody since Docker 1.10)
    <v1 id>/layer.tar    the uncompressed layer tar, or a symlink to an identical one

Docker 25+ writes ``Config``/``Layers`` as ``blobs/sha256/<hex>`` paths of an OCI layout
in the same archive; loading follows whatever paths ``manifest.json`` names. v1 ids are
made as Docker makes them: a digest over the layer's chain and its parent's v1 id, so
layers shared between images get the same directory and are written once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.images.names import familiar_name, repository_of, tag_of
from dockyard.types.digest import Digest

from .plan import ImagePlan, SaveImage, make_plan
from .tarstream import ArchiveWriter, Staged, parse_json

MANIFEST = "manifest.json"
REPOSITORIES = "repositories"
EPOCH = "1970-01-01T00:00:00Z"
_V1_TOP_KEYS = (
    "created",
    "author",
    "comment",
    "container",
    "container_config",
    "docker_version",
    "config",
    "architecture",
    "variant",
    "os",
)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# -- load ----------------------------------------------------------------------------


def plan(staged: Staged) -> list[ImagePlan]:
    """The images ``manifest.json`` describes."""
    doc = parse_json(staged.read(MANIFEST, "file"), MANIFEST)
    if not isinstance(doc, list):
        raise InvalidArgument(f"invalid image archive: {MANIFEST} is not a list")
    plans = []
    for n, entry in enumerate(doc):
        where = f"{MANIFEST} entry {n}"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidArgument(f"invalid image archive: {where} has no Config")
        layers = entry.get("Layers") or []
        tags = entry.get("RepoTags") or []
        if not (isinstance(layers, list) and all(isinstance(x, str) for x in layers)):
            raise InvalidArgument(f"invalid image archive: {where}: Layers is not a list")
        if not (isinstance(tags, list) and all(isinstance(x, str) for x in tags)):
            raise InvalidArgument(f"invalid image archive: {where}: RepoTags is not a list")
        config_path = entry["Config"]
        config = staged.read(config_path, "config")
        _check_config_name(config_path, config)
        blobs = [staged.blob(path, "layer") for path in layers]
        plans.append(make_plan(config, blobs, tags, where))
    return plans


def _check_config_name(path: str, config: bytes) -> None:
    """``<hex>.json`` names the config's digest; a mismatch means corruption."""
    base = path.rpartition("/")[2].removesuffix(".json")
    if len(base) == 64 and all(c in "0123456789abcdef" for c in base):
        actual = Digest.of_bytes(config)
        if actual.hex != base:
            raise InvalidArgument(
                f"invalid image archive: digest mismatch: config {path!r} hashes to {actual}"
            )


# -- save ----------------------------------------------------------------------------


def _v1_id(chain: Digest, parent: str, config: Digest | None) -> str:
    seed = {"chain_id": str(chain), "parent": parent, "config": str(config or "")}
    return Digest.of_bytes(_dumps(seed)).hex


def _v1_json(v1_id: str, parent: str, config: dict[str, Any] | None) -> bytes:
    doc: dict[str, Any] = {"id": v1_id}
    if parent:
        doc["parent"] = parent
    if config is None:
        doc.update(created=EPOCH, container_config={}, os="linux")
    else:
        doc.update({k: config[k] for k in _V1_TOP_KEYS if k in config})
    return _dumps(doc)


class DockerArchiveWriter:
    """Writes images in the docker-archive layout; shared layers go in once."""

    def __init__(self, writer: ArchiveWriter) -> None:
        self._w = writer
        self._v1_done: set[str] = set()
        self._tar_of: dict[Digest, str] = {}  # diff id -> path of its layer.tar
        self._manifest: list[dict[str, Any]] = []
        self._repos: dict[str, dict[str, str]] = {}

    def add(self, image: SaveImage) -> None:
        parent = ""
        paths = []
        top_config = json.loads(image.config)
        for i, (layer, diff_id) in enumerate(zip(image.layers, image.diff_ids, strict=True)):
            top = i == len(image.layers) - 1
            v1 = _v1_id(layer.chain_id, parent, image.record.config if top else None)
            path = f"{v1}/layer.tar"
            if v1 not in self._v1_done:
                self._v1_done.add(v1)
                self._w.add_dir(v1)
                self._w.add_bytes(f"{v1}/VERSION", b"1.0")
                self._w.add_bytes(f"{v1}/json", _v1_json(v1, parent, top_config if top else None))
                if diff_id in self._tar_of:
                    self._w.add_symlink(path, f"../{self._tar_of[diff_id]}")
                else:
                    self._w.add_layer(path, layer, diff_id)
                    self._tar_of[diff_id] = path
            paths.append(path)
            parent = v1
        self._w.add_bytes(f"{image.record.config.hex}.json", image.config)
        tags = [familiar_name(n) for n in image.names]
        self._manifest.append(
            {"Config": f"{image.record.config.hex}.json", "RepoTags": tags or None, "Layers": paths}
        )
        for name in image.names:
            tag = tag_of(name)
            if tag is not None and parent:
                self._repos.setdefault(familiar_name(repository_of(name)), {})[tag] = parent

    def finish(self) -> None:
        self._w.add_bytes(MANIFEST, _dumps(self._manifest))
        if self._repos:
            self._w.add_bytes(REPOSITORIES, _dumps(self._repos))


def write(writer: ArchiveWriter, images: Sequence[SaveImage]) -> None:
    docker = DockerArchiveWriter(writer)
    for image in images:
        docker.add(image)
    docker.finish()
