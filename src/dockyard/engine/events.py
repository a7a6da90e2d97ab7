"""``EventLog``: the daemon's event stream (``GET /events``, ``docker events``).

Every service emits what happened to its objects (``emit``); the log keeps the last
``KEEP`` events in memory, as dockerd does, for ``since`` replays, and hands each new
event to the live subscribers. Events are not persisted: after a daemon restart the
history starts empty, as with dockerd.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

KEEP = 1024
QUEUE_DEPTH = 4096


@dataclass(frozen=True)
class Event:
    """One event: ``type`` container|image|volume|network|daemon, ``action`` as Docker
    names it (create, start, die, destroy, tag, untag, delete, exec_create, ...)."""

    type: str
    action: str
    actor_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    time_nano: int = 0
    scope: str = "local"


class EventLog:
    """The event history and its live subscribers (see the module doc)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._history: collections.deque[Event] = collections.deque(maxlen=keep)
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def emit(
        self,
        type: str,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
    ) -> Event:
        """Record an event and pass it to every subscriber (never blocks, never raises)."""
        event = Event(type, action, actor_id, dict(attributes or {}), time.time_ns())
        self._history.append(event)
        for queue in list(self._subscribers):
            if queue.full():  # a subscriber that does not read loses the oldest events
                queue.get_nowait()
            queue.put_nowait(event)
        return event

    def history(self, since_nano: int = 0, until_nano: int = 0) -> list[Event]:
        """The kept events in ``[since, until]`` (0: unbounded), oldest first."""
        return [
            e
            for e in self._history
            if e.time_nano >= since_nano and (not until_nano or e.time_nano <= until_nano)
        ]

    def subscribe(self) -> asyncio.Queue[Event]:
        """A queue that receives every event emitted from now on; ``unsubscribe`` it."""
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_DEPTH)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)
