"""``EventLog``: the daemon's event stream (``GET /events``, ``docker events``).

Every service emits what happened to its objects (``emit``, or the ``container`` and
``image`` shorthands that add Docker's attributes); the log keeps the last ``KEEP``
events in memory for ``since`` replays and hands each new event to the live subscribers.
Events are not persisted: after a daemon restart the history starts empty, as with
dockerd.

``watch`` is what ``GET /events`` serves: the kept events in ``[since, until]`` that pass
the filter, then (unless ``until`` is past) the live ones until ``until`` or until the
caller closes it. It subscribes when it is made, in the same step that takes the replay,
so no event falls between the replay and the live part, and an ``events`` client whose
response head is out already receives everything that happens from then on.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .containerrecord import Container

KEEP = 1024
#: a subscriber that does not read keeps at most this many events; older ones are dropped
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


#: what a subscriber's queue receives when the log closes
CLOSED = Event("", "", "")


class EventLog:
    """The event history and its live subscribers (see the module doc)."""

    def __init__(self, keep: int = KEEP, queue_depth: int = QUEUE_DEPTH) -> None:
        self._history: collections.deque[Event] = collections.deque(maxlen=keep)
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._queue_depth = queue_depth
        self._last = 0
        self._mutex = threading.RLock()  # emit may run in worker threads
        self._loop: asyncio.AbstractEventLoop | None = None  # the subscribers' loop
        self._closed = False

    def emit(
        self,
        type: str,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
    ) -> Event:
        """Record an event and pass it to every subscriber (never blocks, never raises);
        safe to call from a worker thread as well as from the event loop."""
        # strictly increasing times keep the history sorted and since/until exact
        with self._mutex:
            now = max(time.time_ns(), self._last + 1)
            self._last = now
            event = Event(type, action, actor_id, dict(attributes or {}), now)
            self._history.append(event)
        loop = self._loop
        if loop is not None and self._subscribers:
            try:
                on_loop = asyncio.get_running_loop() is loop
            except RuntimeError:
                on_loop = False
            if on_loop:
                self._publish(event)
            elif not loop.is_closed():  # emitted from a worker thread
                loop.call_soon_threadsafe(self._publish, event)
        return event

    def _publish(self, event: Event) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a subscriber that does not read loses the oldest events
                queue.get_nowait()
            queue.put_nowait(event)

    def container(self, c: Container, action: str, extra: Mapping[str, str] | None = None) -> Event:
        """A container event with dockerd's attributes: the labels, ``image`` (as the
        user named it) and ``name``, then ``extra`` (exitCode, signal, oldName, ...)."""
        attributes = {str(k): str(v) for k, v in (c.config.get("Labels") or {}).items()}
        image = c.config.get("Image")
        if image:
            attributes["image"] = str(image)
        attributes["name"] = c.name.lstrip("/")
        attributes.update(extra or {})
        return self.emit("container", action, c.id, attributes)

    def container_exit(self, c: Container) -> None:
        """What dockerd logs when a container's process ended: ``oom`` if the kernel
        killed it for memory, then ``die`` with ``exitCode`` and ``execDuration``."""
        if c.oom_killed:
            self.container(c, "oom")
        ran = max(0, int(c.finished_unix - c.started_unix)) if c.started_unix else 0
        self.container(c, "die", {"exitCode": str(c.exit_code), "execDuration": str(ran)})

    def image(
        self,
        image_id: str,
        action: str,
        name: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Event:
        """An image event as dockerd logs it: the image's labels and ``name`` (the tag
        for tag, the image id itself for untag, delete, load, save and import)."""
        attributes = dict(labels or {})
        attributes["name"] = name or image_id
        return self.emit("image", action, image_id, attributes)

    def removed(self, image_id: str, untagged: Sequence[str], deleted: Sequence[str]) -> None:
        """What dockerd logs for an image removal: ``untag`` per name, then ``delete`` if
        the image itself went (``deleted`` lists the image id and its layers)."""
        if not image_id:
            return
        for _ in untagged:
            self.image(image_id, "untag")
        if image_id in deleted:
            self.image(image_id, "delete")

    def history(self, since_nano: int = 0, until_nano: int = 0) -> list[Event]:
        """The kept events in ``[since, until]`` (0: unbounded), oldest first."""
        with self._mutex:
            kept = list(self._history)
        return [
            e
            for e in kept
            if e.time_nano >= since_nano and (not until_nano or e.time_nano <= until_nano)
        ]

    def subscribe(self) -> asyncio.Queue[Event]:
        """A queue that receives every event emitted from now on; ``unsubscribe`` it."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_depth)
        self._loop = asyncio.get_running_loop()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)

    def close(self) -> None:
        """End every watch (the daemon is stopping: ``events`` clients see the end of the
        stream instead of holding the shutdown up)."""
        self._closed = True
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(CLOSED)

    @property
    def listeners(self) -> int:
        """How many subscribers are live (``NEventsListener`` of ``docker info``)."""
        return len(self._subscribers)

    def watch(
        self,
        since_nano: int = 0,
        until_nano: int = 0,
        include: Callable[[Event], bool] | None = None,
        now_nano: int | None = None,
    ) -> EventWatch:
        """The events ``GET /events`` sends (see the module doc); ``aclose()`` it."""
        now = time.time_ns() if now_nano is None else now_nano
        past = bool(until_nano) and until_nano < now
        with self._mutex:  # the replay and the subscription see the same moment
            replay: list[Event] = []
            if since_nano or until_nano:  # as dockerd: no bounds, no replay
                replay = self.history(since_nano, until_nano)
            queue = None if past or self._closed else self.subscribe()
            last = self._last
        if include is not None:
            replay = [e for e in replay if include(e)]
        # an event emitted by a thread just before is in the history and may still come
        # through the queue: the watch skips what was emitted before it
        return EventWatch(self, replay, queue, until_nano, include, last)


class EventWatch:
    """An async iterator of events: a replay, then live events (see ``EventLog.watch``).

    Ends when ``until`` is reached; otherwise runs until ``aclose()``, which also ends
    the subscription (the server closes the body when the client goes away)."""

    def __init__(
        self,
        log: EventLog,
        replay: list[Event],
        queue: asyncio.Queue[Event] | None,
        until_nano: int,
        include: Callable[[Event], bool] | None,
        after_nano: int = 0,
    ) -> None:
        self._log = log
        self._after = after_nano
        self._replay = collections.deque(replay)
        self._queue = queue
        self._until = until_nano
        self._include = include

    def __aiter__(self) -> EventWatch:
        return self

    async def __anext__(self) -> Event:
        if self._replay:
            return self._replay.popleft()
        while self._queue is not None:
            event = await self._next_live()
            if event is None or event is CLOSED or (self._until and event.time_nano > self._until):
                break
            if event.time_nano <= self._after:
                continue
            if self._include is None or self._include(event):
                return event
        await self.aclose()
        raise StopAsyncIteration

    async def _next_live(self) -> Event | None:
        """The next live event, or None when ``until`` passes first."""
        assert self._queue is not None
        if not self._until:
            return await self._queue.get()
        left = (self._until - time.time_ns()) / 1e9
        if left <= 0:
            return self._queue.get_nowait() if not self._queue.empty() else None
        try:
            return await asyncio.wait_for(self._queue.get(), left)
        except TimeoutError:
            return None

    async def aclose(self) -> None:
        if self._queue is not None:
            self._log.unsubscribe(self._queue)
            self._queue = None
        self._replay.clear()
