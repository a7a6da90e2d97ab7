"""``docker import``: a root file system tar becomes a one-layer image.

The tar (plain, gzip or zstd) is registered as a base layer, and a config is written
over it: the host platform, the ``--change`` instructions applied to an empty runtime
config, one history entry (``Imported from <source>``). Nothing is left behind when
the tar or a change is bad: changes are parsed before any work, and a layer that no
image ends up using is released again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import BinaryIO

from dockyard.store import LayerRecord

from .config import add_image, format_time, history_entry, new_config
from .imagestore import ImageStore
from .instructions import Change, apply_changes, parse_change
from .layers import register_layer
from .layertar.compression import Readable
from .names import normalize_tag
from .remove import release_unused

__all__ = ["import_rootfs", "parse_change"]


def import_rootfs(
    store: ImageStore,
    stream: BinaryIO | Readable,
    names: Sequence[str] = (),
    changes: Sequence[str | Change] = (),
    *,
    message: str = "",
    source: str = "-",
    platform: tuple[str, str] | None = None,
    created: float | None = None,
) -> str:
    """Import ``stream`` as a new image tagged ``names``; answer the image id.

    ``platform`` is (os, architecture), the host's by default.
    """
    parsed = [c if isinstance(c, Change) else parse_change(c) for c in changes]
    for name in names:
        normalize_tag(name)  # refuse a bad name before unpacking anything
    runtime = apply_changes({}, parsed)
    when = time.time() if created is None else created
    with store.lock:
        layer = register_layer(store, None, stream)
        try:
            config = new_config(
                [layer.diff_id],
                container_config=runtime,
                history=[
                    history_entry("", created=when, comment=message or f"Imported from {source}")
                ],
                created=format_time(when),
                os_name=platform[0] if platform else "linux",
                architecture=platform[1] if platform else None,
            )
            if message:
                config["comment"] = message
            return add_image(store, config, [layer], names)
        except BaseException:
            _release(store, layer)
            raise


def _release(store: ImageStore, layer: LayerRecord) -> None:
    release_unused(store, [layer.chain_id], [layer.diff_id])
