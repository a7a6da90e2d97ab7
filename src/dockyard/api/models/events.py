"""Docker's JSON for events: the ``events.Message`` of ``GET /events``, one per line.

dockerd fills the deprecated ``status``, ``id`` and ``from`` fields for container and
image events only (``from`` is the container's image); ``scope`` is ``local`` for
everything a single engine emits.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.engine.events import Event

LEGACY_TYPES = frozenset({"container", "image"})


def event_message(event: Event) -> dict[str, Any]:
    """One event as dockerd encodes it (the keys in Go's field order)."""
    msg: dict[str, Any] = {}
    if event.type in LEGACY_TYPES:
        msg["status"] = event.action
        msg["id"] = event.actor_id
        image = event.attributes.get("image", "") if event.type == "container" else ""
        if image:  # omitempty
            msg["from"] = image
    msg["Type"] = event.type
    msg["Action"] = event.action
    msg["Actor"] = {"ID": event.actor_id, "Attributes": dict(sorted(event.attributes.items()))}
    msg["scope"] = event.scope
    msg["time"] = event.time_nano // 1_000_000_000
    msg["timeNano"] = event.time_nano
    return msg


def event_line(event: Event) -> bytes:
    """The message as Go's ``json.Encoder`` writes it: compact, with a newline."""
    return (json.dumps(event_message(event), separators=(",", ":")) + "\n").encode()
