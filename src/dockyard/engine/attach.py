"""``AttachSession``: one client attached to a container's stdio through its shim.

A session can exist before the container runs (``docker run`` attaches before it
starts): it waits unconnected, keeps what the client writes, and is connected by the
service when the shim is up but before the user process starts, so no output is lost.
``read()`` answers ``(1 | 2, data)`` and None at the end of the output.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from dockyard.shim import protocol


class AttachSession:
    def __init__(self, *, tty: bool, stdin: bool, stdout: bool, stderr: bool) -> None:
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._conn: protocol.ShimConnection | None = None
        self._pending: list[bytes] = []  # stdin frames written before the shim is up
        self._pump: asyncio.Task[None] | None = None
        self._ended = False
        self.closed = False

    def replay(self, stream: int, data: bytes) -> None:
        """Queue output from the log (``logs=True``) ahead of the live output."""
        self._queue.put_nowait((stream, data))

    async def connect(self, sock_path: Path) -> None:
        """Attach to the shim (called by the service)."""
        if self.closed:
            return
        conn = await protocol.ShimConnection.open(sock_path)
        await conn.call("attach", stdin=self.stdin, stdout=self.stdout, stderr=self.stderr)
        self._conn = conn
        for message in self._pending:
            conn.writer.write(message)
        self._pending.clear()
        await conn.writer.drain()
        self._pump = asyncio.get_running_loop().create_task(self._run(conn))

    async def _run(self, conn: protocol.ShimConnection) -> None:
        while True:
            got = await protocol.read_frame(conn.reader)
            if got is None:
                break
            self._queue.put_nowait(got)
        self.end()

    def end(self) -> None:
        """No more output (the container is gone, or the session was closed)."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)

    async def read(self) -> tuple[int, bytes] | None:
        if self._ended and self._queue.empty():
            return None
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # every later read ends too
        return item

    async def write(self, data: bytes) -> None:
        if not self.stdin or not data or self.closed:
            return
        self._send(protocol.frame(protocol.STDIN, data))
        if self._conn is not None:
            with contextlib.suppress(ConnectionError):
                await self._conn.writer.drain()

    async def close_stdin(self) -> None:
        if self.stdin and not self.closed:
            self._send(protocol.frame(protocol.CLOSE_STDIN, b""))
            if self._conn is not None:
                with contextlib.suppress(ConnectionError):
                    await self._conn.writer.drain()

    def _send(self, message: bytes) -> None:
        if self._conn is None:
            self._pending.append(message)
        elif not self._conn.writer.is_closing():
            self._conn.writer.write(message)

    def close(self) -> None:
        self.closed = True
        if self._pump is not None:
            self._pump.cancel()
        if self._conn is not None:
            self._conn.close()
        self.end()
