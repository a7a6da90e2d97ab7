"""Bridges between asyncio byte streams and the synchronous image code in a worker thread.

``BodyPipe``: an HTTP request body (an async iterator) read as a blocking file by a
thread (``archive.load``, ``import_rootfs``). ``ChunkPipe``: a blocking file a thread
writes (``archive.save``) read back as async chunks. Both are bounded (a few chunks in
flight), so neither side ever holds a whole archive in memory, and both can be aborted
from either end: a thread that stops reading makes the body drain into nothing, a client
that goes away makes the writing thread fail with ``BrokenPipeError``.
"""

from __future__ import annotations

import asyncio
import io
import queue
import threading
from collections.abc import AsyncIterator
from typing import Any

DEPTH = 8  # chunks in flight each way
CHUNK = 1 << 20  # bytes per chunk handed from the saving thread to the event loop
STALL = 600.0  # seconds a writer waits for a reader that takes nothing before it gives up


class _End:
    """The stream ended (cleanly, or with ``error``)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class BodyPipe(io.RawIOBase):
    """An async body, fed on the event loop by ``feed()``, read by a thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, depth: int = DEPTH) -> None:
        super().__init__()
        self._loop = loop
        self._queue: queue.SimpleQueue[bytes | _End] = queue.SimpleQueue()
        self._space = asyncio.Semaphore(depth)
        self._pending = b""
        self._offset = 0
        self._ended = False
        self._abandoned = False  # the reader is done: the rest of the body is drained

    # event-loop side

    async def feed(self, body: AsyncIterator[bytes]) -> None:
        """Hand ``body`` to the reader; after ``abandon()``, read it to its end unused."""
        try:
            async for chunk in body:
                if self._abandoned or not chunk:
                    continue
                await self._space.acquire()
                if not self._abandoned:
                    self._queue.put(bytes(chunk))
        except BaseException as e:
            self._queue.put(_End(ConnectionError(f"the request body broke off: {e}")))
            raise
        self._queue.put(_End())

    def fail(self, error: BaseException) -> None:
        """End the body with ``error`` for the reader (after what is queued already)."""
        self._queue.put(_End(error))

    def abandon(self) -> None:
        """The reader stops (thread-safe): unblock ``feed`` and let it drain the body."""
        self._abandoned = True
        self._loop.call_soon_threadsafe(self._space.release)

    # thread side

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._offset >= len(self._pending):
            if self._ended:
                return 0
            item = self._queue.get()
            self._loop.call_soon_threadsafe(self._space.release)
            if isinstance(item, _End):
                self._ended = True
                if item.error is not None:
                    raise item.error
                return 0
            self._pending, self._offset = item, 0
        n = min(len(view), len(self._pending) - self._offset)
        view[:n] = self._pending[self._offset : self._offset + n]
        self._offset += n
        return n


class ChunkPipe(io.RawIOBase):
    """Written by a thread, read on the event loop with ``chunks()``."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, depth: int = DEPTH, stall: float = STALL
    ) -> None:
        super().__init__()
        self._loop = loop
        self._stall = stall
        self._queue: asyncio.Queue[bytes | _End] = asyncio.Queue()
        self._slots = threading.Semaphore(depth)
        self._aborted = threading.Event()

    # thread side

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if chunk:
            self._put(chunk)
        return len(chunk)

    def finish(self, error: BaseException | None = None) -> None:
        """The writer is done (``error``: it failed); the reader sees the end."""
        try:
            self._put(_End(error))
        except (BrokenPipeError, RuntimeError):
            pass  # nobody reads any more, or the loop is gone

    def _put(self, item: bytes | _End) -> None:
        waited = 0.0
        while not self._slots.acquire(timeout=0.2):
            waited += 0.2
            if self._aborted.is_set():
                raise BrokenPipeError("the client went away")
            if waited >= self._stall:
                raise BrokenPipeError(f"the client read nothing for {self._stall:.0f}s")
        if self._aborted.is_set():
            raise BrokenPipeError("the client went away")
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    # event-loop side

    def abort(self) -> None:
        """The reader is gone: the writer's next write fails."""
        self._aborted.set()

    async def next(self) -> bytes | None:
        """The next chunk; None at the end; the writer's error if it failed."""
        item = await self._queue.get()
        self._slots.release()
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            return None
        return item


def buffered_writer(pipe: ChunkPipe) -> io.BufferedWriter:
    return io.BufferedWriter(pipe, buffer_size=CHUNK)


def buffered_reader(pipe: BodyPipe) -> io.BufferedReader:
    return io.BufferedReader(pipe, buffer_size=CHUNK)
