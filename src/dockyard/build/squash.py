"""``--squash``: the layers a build added above its base image, merged into one.

As Docker's ``--squash``: the new image has the base image's layers plus one layer
holding the difference between the base's tree and the built image's tree; its config
is the built image's, its history is kept whole, with every entry of the build but the
last marked ``empty_layer`` (their changes live in the one squashed layer).
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from dockyard.images.config import add_image, load_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.layers import layer_chain, register_layer
from dockyard.images.layertar.diff import diff_plain
from dockyard.images.rootfs import (
    mount_container,
    prepare_container,
    remove_container,
    unmount_container,
)


def squash_image(store: ImageStore, image_id: str, base_id: str | None) -> str:
    """The squashed form of ``image_id`` over ``base_id`` (None: scratch); its id."""
    image = store.image(image_id)
    base = None if base_id is None else store.image(base_id)
    base_layers = [] if base is None else store.layers_of(base)
    if len(image.layers) - len(base_layers) <= 1:
        return image_id  # nothing to merge
    config = load_config(store, image)
    tmp = store.root / "tmp"
    tmp.mkdir(exist_ok=True)
    tag = secrets.token_hex(8)
    ids = (f"squash-base-{tag}", f"squash-top-{tag}")
    prepare_container(store, ids[0], base_id)
    try:
        prepare_container(store, ids[1], image_id)
        try:
            with (
                tempfile.TemporaryDirectory(dir=tmp, prefix="squash-") as work,
                tempfile.TemporaryFile(dir=tmp, prefix="squash-") as layer_tar,
            ):
                lower, upper = Path(work, "lower"), Path(work, "upper")
                lower.mkdir()
                upper.mkdir()
                mount_container(store, ids[0], lower)
                try:
                    mount_container(store, ids[1], upper)
                    try:
                        diff_plain(lower if base_id is not None else None, upper, layer_tar)
                    finally:
                        unmount_container(upper)
                finally:
                    unmount_container(lower)
                layer_tar.seek(0)
                parent = base_layers[-1] if base_layers else None
                layer = register_layer(store, parent, layer_tar)
        finally:
            remove_container(store, ids[1])
    finally:
        remove_container(store, ids[0])
    base_history = 0 if base is None else len(load_config(store, base).get("history") or [])
    history = [dict(h) for h in config.get("history") or []]
    for entry in history[base_history:-1]:
        entry["empty_layer"] = True
    if len(history) > base_history:
        history[-1].pop("empty_layer", None)
    config["history"] = history
    config["rootfs"] = {
        "type": "layers",
        "diff_ids": [str(x.diff_id) for x in base_layers] + [str(layer.diff_id)],
    }
    layers = [*layer_chain(store, parent), layer] if parent is not None else [layer]
    return add_image(store, config, layers, parent=None if base is None else base.id)
