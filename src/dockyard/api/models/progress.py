"""Pull and push progress as Docker's JSON messages (``jsonmessage.JSONMessage``).

``{"status": "Downloading", "progressDetail": {"current": 1, "total": 2}, "progress":
"[=>   ]  1B/2B", "id": "<short digest>"}``; a push ends with an ``aux`` message that
carries the tag, digest and size of the manifest.
"""

from __future__ import annotations

from typing import Any

from dockyard.images.pull import PullProgress
from dockyard.images.push import PushProgress, PushResult

from .images import message

BAR_WIDTH = 50


def human_size(n: float) -> str:
    """go-units ``HumanSize``: decimal units, 4 significant digits (``1.036MB``)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def progress_bar(current: int, total: int) -> str:
    """The ``progress`` text dockerd sends: a 50-wide bar and ``current/total``."""
    if total <= 0:
        return human_size(current)
    filled = min(BAR_WIDTH, BAR_WIDTH * current // total)
    bar = "=" * filled + (">" if filled < BAR_WIDTH else "") + " " * (BAR_WIDTH - filled - 1)
    return f"[{bar[:BAR_WIDTH]}] {human_size(current):>8}/{human_size(total)}"


def progress_message(item: PullProgress | PushProgress) -> bytes:
    doc: dict[str, Any] = {"status": item.status}
    if item.current is not None:
        detail = {"current": item.current, "total": item.total or 0}
        doc["progressDetail"] = detail
        doc["progress"] = progress_bar(item.current, item.total or 0)
    elif item.id and not item.status.startswith(("Pulling from", "The push refers")):
        doc["progressDetail"] = {}
    if item.id:
        doc["id"] = item.id
    return message(doc)


def push_result_message(result: PushResult) -> bytes:
    return message(
        {
            "progressDetail": {},
            "aux": {"Tag": result.tag, "Digest": str(result.digest), "Size": result.size},
        }
    )
