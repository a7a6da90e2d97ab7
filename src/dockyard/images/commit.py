"""``docker commit``: a container's writable layer becomes a new image.

The container's changes are written as a layer tar (overlay: its upper dir; plain
drivers: its tree against the parent layer's), registered on the image's top layer
and stored under a config derived from the image's: ``--change`` instructions applied,
the new diff id appended, a history entry (author, message) added, a new creation time.
The source image is recorded as the new image's parent. On failure the new layer is
released again, so the store is as before.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from dockyard.store import LayerRecord

from .config import add_image, format_time, history_entry, load_config, new_config
from .imagestore import ImageStore
from .instructions import Change, apply_changes, parse_change
from .layers import layer_chain, register_layer
from .layertar.diff import diff_overlay, diff_plain
from .names import normalize_tag
from .remove import release_unused
from .rootfs import container, container_tree, container_upper, parent_tree


def commit_container(
    store: ImageStore,
    container_id: str,
    names: Sequence[str] = (),
    changes: Sequence[str | Change] = (),
    *,
    author: str = "",
    message: str = "",
    created: float | None = None,
    created_by: str = "",
    pause: Callable[[], AbstractContextManager[object]] | None = None,
) -> str:
    """Commit the container's changes as a new image tagged ``names``; answer its id.

    ``pause`` holds a running container still while its changes are read (the engine
    passes one that freezes the container, as ``docker commit`` does by default)."""
    parsed = [c if isinstance(c, Change) else parse_change(c) for c in changes]
    for name in names:
        normalize_tag(name)
    when = time.time() if created is None else created
    with store.lock:
        record = container(store, container_id)
        image = None if record.image_id is None else store.metadata.get_image(record.image_id)
        base = load_config(store, image) if image is not None else new_config()
        parent = None if record.layer is None else store.metadata.get_layer(record.layer)
        tmp = store.root / "tmp"
        tmp.mkdir(exist_ok=True)
        with tempfile.TemporaryFile(dir=tmp, prefix="commit-") as f:
            with pause() if pause is not None else nullcontext():
                upper = container_upper(store, container_id)
                if upper is not None:
                    diff_overlay(upper, f)
                else:
                    tree = container_tree(store, container_id)
                    diff_plain(parent_tree(store, record), tree, f)
            f.seek(0)
            layer = register_layer(store, parent, f)
        try:
            config = derive_config(
                base,
                layer,
                parsed,
                author=author,
                message=message,
                when=when,
                created_by=created_by,
            )
            layers = [*layer_chain(store, parent), layer]
            return add_image(
                store, config, layers, names, parent=None if image is None else image.id
            )
        except BaseException:
            release_unused(store, [layer.chain_id], [layer.diff_id])
            raise


def derive_config(
    base: dict[str, Any],
    layer: LayerRecord,
    changes: Sequence[Change],
    *,
    author: str,
    message: str,
    when: float,
    created_by: str = "",
) -> dict[str, Any]:
    """The new image's config: ``base`` with the changes, the layer and a history entry."""
    config = dict(base)
    for stale in ("container", "container_config", "docker_version", "id", "parent"):
        config.pop(stale, None)
    config["config"] = apply_changes(base.get("config") or {}, changes)
    rootfs = dict(base.get("rootfs") or {"type": "layers"})
    rootfs["type"] = "layers"
    rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), str(layer.diff_id)]
    config["rootfs"] = rootfs
    config["created"] = format_time(when)
    history = list(base.get("history") or [])
    history.append(history_entry(created_by, created=when, author=author, comment=message))
    config["history"] = history
    if author:
        config["author"] = author
    else:
        config.pop("author", None)
    if message:
        config["comment"] = message
    else:
        config.pop("comment", None)
    return config
