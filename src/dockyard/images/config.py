"""OCI image configs: building them, storing them, reading them back.

An image's id is the digest of its config blob, so the bytes must be stable: configs
are written as canonical JSON (sorted keys, no spaces, UTF-8). ``new_config`` builds
one from its parts, ``add_image`` stores it with its layers and names, ``load_config``
reads it back. Field names are the OCI ones (``config.Env``, ``rootfs.diff_ids``, ...),
which Docker's image JSON shares.
"""

from __future__ import annotations

import itertools
import json
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.store import BlobRef, ImageRecord, LayerRecord
from dockyard.types.digest import Digest

from .imagestore import ImageStore
from .layers import DIFF_BLOB
from .names import normalize_tag

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG_KEYS = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
)
_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
}
EPOCH = "1970-01-01T00:00:00Z"


def host_architecture() -> str:
    """The host's architecture in OCI/Go terms (amd64, arm64, ...)."""
    machine = platform.machine()
    return _ARCH.get(machine, machine)


def format_time(seconds: float) -> str:
    """RFC 3339 in UTC as Docker writes it (nanoseconds dropped when zero)."""
    stamp = datetime.fromtimestamp(seconds, UTC)
    if stamp.microsecond:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (fractions beyond microseconds cut)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    head, dot, rest = value.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError as e:
        raise InvalidArgument(f"invalid time {text!r} in image config: {e}") from e


def history_entry(
    created_by: str = "",
    *,
    created: float | str | None = None,
    comment: str = "",
    author: str = "",
    empty_layer: bool = False,
) -> dict[str, Any]:
    """One ``history`` item (empty fields left out, as Docker does)."""
    when = (
        created
        if isinstance(created, str)
        else format_time(time.time() if created is None else created)
    )
    entry: dict[str, Any] = {"created": when}
    if created_by:
        entry["created_by"] = created_by
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment
    if empty_layer:
        entry["empty_layer"] = True
    return entry


def new_config(
    diff_ids: Sequence[Digest | str] = (),
    *,
    container_config: Mapping[str, Any] | None = None,
    history: Iterable[Mapping[str, Any]] = (),
    created: float | str | None = None,
    author: str = "",
    architecture: str | None = None,
    os_name: str = "linux",
    variant: str = "",
) -> dict[str, Any]:
    """An OCI image config over ``diff_ids`` (base first); empty runtime fields dropped."""
    when = (
        created
        if isinstance(created, str)
        else format_time(time.time() if created is None else created)
    )
    doc: dict[str, Any] = {
        "architecture": architecture or host_architecture(),
        "os": os_name,
        "created": when,
        "config": clean_container_config(container_config or {}),
        "rootfs": {"type": "layers", "diff_ids": [str(d) for d in diff_ids]},
        "history": [dict(h) for h in history],
    }
    if variant:
        doc["variant"] = variant
    if author:
        doc["author"] = author
    return doc


def clean_container_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The known runtime fields of ``config`` without empty values; unknown keys refused."""
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise InvalidArgument(f"unknown image config field(s): {', '.join(unknown)}")
    return {
        k: config[k] for k in CONFIG_KEYS if k in config and config[k] not in (None, "", [], {})
    }


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_config(config: Mapping[str, Any], layers: Sequence[LayerRecord]) -> None:
    """Refuse a config whose ``rootfs.diff_ids`` are not those of ``layers``."""
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, Mapping) or rootfs.get("type") != "layers":
        raise InvalidArgument('image config needs rootfs {"type": "layers", "diff_ids": [...]}')
    diff_ids = [str(d) for d in rootfs.get("diff_ids", [])]
    if diff_ids != [str(layer.diff_id) for layer in layers]:
        raise InvalidArgument(
            f"image config lists {len(diff_ids)} diff ids that do not match its "
            f"{len(layers)} layers"
        )
    for below, above in itertools.pairwise(layers):
        if above.parent != below.chain_id:
            raise InvalidArgument(f"layer {above.chain_id} does not sit on {below.chain_id}")
    if layers and layers[0].parent is not None:
        raise InvalidArgument(f"layer {layers[0].chain_id} is not a base layer")


def add_image(
    store: ImageStore,
    config: Mapping[str, Any],
    layers: Sequence[LayerRecord],
    names: Sequence[str] = (),
    manifest: bytes | None = None,
    *,
    parent: Digest | None = None,
) -> str:
    """Store ``config`` over ``layers`` (base first), tag ``names``; answer the image id.

    ``parent`` records the image this one was committed from (``Parent`` in inspect).
    """
    check_config(config, layers)
    tags = [normalize_tag(n) for n in names]
    raw = canonical_json(config)
    with store.lock:
        desc = store.content.ingest(raw, media_type=OCI_CONFIG)
        blobs = [
            BlobRef(layer.diff_id, DIFF_BLOB)
            for layer in layers
            if store.content.exists(layer.diff_id)
        ]
        if parent is not None:
            blobs.append(BlobRef(parent, "parent"))
        if manifest is not None:
            blobs.append(
                BlobRef(store.content.ingest(manifest, media_type=OCI_MANIFEST).digest, "manifest")
            )
        created = config.get("created")
        record = store.metadata.add_image(
            desc.digest,
            [layer.chain_id for layer in layers],
            sum(layer.size for layer in layers),
            blobs=blobs,
            created=parse_time(created) if isinstance(created, str) else None,
        )
        for tag in tags:
            store.metadata.tag(tag, record.id)
    return str(record.id)


def load_config(store: ImageStore, image: ImageRecord) -> dict[str, Any]:
    """The parsed config blob of ``image``."""
    try:
        doc = json.loads(store.content.read(image.config))
    except ValueError as e:
        raise InvalidArgument(f"config of image {image.id.short} is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidArgument(f"config of image {image.id.short} is not a JSON object")
    return doc


def raw_config(store: ImageStore, image: ImageRecord) -> bytes:
    return store.content.read(image.config)
