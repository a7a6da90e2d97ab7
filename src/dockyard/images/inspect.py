"""``docker image inspect``: an image in Docker's JSON shape.

Keys are Docker's (``Id``, ``RepoTags``, ``RootFS``, ``GraphDriver``, ...) because this
is the one answer whose shape the API hands out as is; everything else in ``images``
uses snake_case value objects. ``GraphDriver.Data`` names the overlay dirs of the
top layer (as overlay2 does); vfs and btrfs give no data.
"""

from __future__ import annotations

from typing import Any

from dockyard.store import ImageRecord
from dockyard.types.digest import Digest

from .config import format_time, load_config
from .imagestore import ImageStore
from .layers import snapshot_path
from .names import familiar_name
from .remove import PARENT_BLOB


def repo_tags(image: ImageRecord) -> list[str]:
    return [familiar_name(n) for n in image.names if "@" not in n]


def repo_digests(image: ImageRecord) -> list[str]:
    return [familiar_name(n) for n in image.names if "@" in n]


def parent_of(image: ImageRecord) -> str:
    for blob in image.blobs:
        if blob.kind == PARENT_BLOB:
            return str(blob.digest)
    return ""


def graph_driver(store: ImageStore, image: ImageRecord) -> dict[str, Any]:
    if store.driver != "overlay" or image.top_layer is None:
        return {"Name": store.driver, "Data": None}
    chain = store.layers_of(image)
    dirs = [str(snapshot_path(store, layer.snapshot_key)) for layer in reversed(chain)]
    data = {
        "UpperDir": dirs[0],
        "WorkDir": str(snapshot_path(store, chain[-1].snapshot_key).parent / "work"),
    }
    if len(dirs) > 1:
        data["LowerDir"] = ":".join(dirs[1:])
    data["MergedDir"] = str(snapshot_path(store, chain[-1].snapshot_key).parent / "merged")
    return {"Name": "overlay2", "Data": data}


def inspect_image(store: ImageStore, ref: str | Digest) -> dict[str, Any]:
    """The ``GET /images/{name}/json`` document."""
    image = store.image(ref)
    config = load_config(store, image)
    rootfs = config.get("rootfs") or {}
    doc: dict[str, Any] = {
        "Id": str(image.id),
        "RepoTags": repo_tags(image),
        "RepoDigests": repo_digests(image),
        "Parent": parent_of(image),
        "Comment": config.get("comment", ""),
        "Created": config.get("created") or format_time(image.created),
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": _runtime_config(config.get("config") or {}),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": image.size,
        "GraphDriver": graph_driver(store, image),
        "RootFS": {
            "Type": rootfs.get("type", "layers"),
            "Layers": list(rootfs.get("diff_ids", [])),
        },
        "Metadata": {"LastTagTime": _last_tag_time(store, image)},
    }
    if config.get("variant"):
        doc["Variant"] = config["variant"]
    if config.get("os.version"):
        doc["OsVersion"] = config["os.version"]
    return doc


def _runtime_config(config: dict[str, Any]) -> dict[str, Any]:
    """Docker's container-config shape: every field present, empty ones as Docker has them."""
    out: dict[str, Any] = {
        "Hostname": "",
        "Domainname": "",
        "User": config.get("User", ""),
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": config.get("Env"),
        "Cmd": config.get("Cmd"),
        "Image": "",
        "Volumes": config.get("Volumes"),
        "WorkingDir": config.get("WorkingDir", ""),
        "Entrypoint": config.get("Entrypoint"),
        "OnBuild": None,
        "Labels": config.get("Labels"),
    }
    if config.get("ExposedPorts"):
        out["ExposedPorts"] = config["ExposedPorts"]
    if config.get("StopSignal"):
        out["StopSignal"] = config["StopSignal"]
    return out


def _last_tag_time(store: ImageStore, image: ImageRecord) -> str:
    """When a name last pointed here; Docker's zero time when it never did."""
    if not image.names:
        return "0001-01-01T00:00:00Z"
    return format_time(image.created)
