"""``docker history``: an image's history entries, newest first, with layer sizes.

Each non-empty history entry of the config owns the next layer (base first); empty
ones (``empty_layer``) own none and have size 0. The newest entry shows the image's
own id and names, older ones ``<missing>`` (as for a pulled image). A config without
history gets one synthetic entry per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.types.digest import Digest

from .config import load_config, parse_time
from .imagestore import ImageStore
from .names import familiar_name

MISSING = "<missing>"


@dataclass(frozen=True)
class HistoryItem:
    id: str
    created: float
    created_by: str
    size: int
    comment: str
    tags: tuple[str, ...]

    def docker(self) -> dict[str, Any]:
        """The ``GET /images/{name}/history`` item."""
        return {
            "Id": self.id,
            "Created": int(self.created),
            "CreatedBy": self.created_by,
            "Tags": list(self.tags) or None,
            "Size": self.size,
            "Comment": self.comment,
        }


def image_history(store: ImageStore, ref: str | Digest) -> list[HistoryItem]:
    image = store.image(ref)
    config = load_config(store, image)
    sizes = [layer.size for layer in store.layers_of(image)]
    entries = list(config.get("history") or [])
    if not entries:
        entries = [{"created": config.get("created", "")} for _ in sizes]
    items: list[HistoryItem] = []
    layer_index = 0
    for entry in entries:
        size = 0
        if not entry.get("empty_layer"):
            size = sizes[layer_index] if layer_index < len(sizes) else 0
            layer_index += 1
        created = entry.get("created")
        items.append(
            HistoryItem(
                MISSING,
                parse_time(created) if isinstance(created, str) and created else 0.0,
                str(entry.get("created_by", "")),
                size,
                str(entry.get("comment", "")),
                (),
            )
        )
    items.reverse()
    if items:
        names = tuple(familiar_name(n) for n in image.names if "@" not in n)
        top = items[0]
        items[0] = HistoryItem(
            str(image.id), top.created, top.created_by, top.size, top.comment, names
        )
    return items
