"""``AttachPump``: a hijacked connection copied to and from a process's stdio.

Shared by ``POST /containers/{id}/attach`` (an ``AttachSession``) and ``POST
/exec/{id}/start`` (an ``ExecSession``): both are ``StdioSession``s, read as ``(stream,
data)`` pairs until None, written to as stdin. ``terminal_size`` reads the ``h``/``w``
of their resize requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from dockyard._internal.detachkeys import EscapeScanner
from dockyard.api.models import containers as models
from dockyard.api.router import Request
from dockyard.errors import DockyardError, InvalidArgument, NotFound

log = logging.getLogger(__name__)

READ_SIZE = 32 * 1024


def terminal_size(req: Request) -> tuple[int, int]:
    """(height, width) of a resize request (``h``, ``w``)."""
    height, width = req.q_int("h", 0) or 0, req.q_int("w", 0) or 0
    if height < 0 or width < 0:
        raise InvalidArgument("resize: height and width must be positive numbers")
    return height, width


class StdioSession(Protocol):
    """What the pump needs of a session (``engine.attach.AttachSession`` and
    ``engine.execs.ExecSession``)."""

    @property
    def tty(self) -> bool: ...

    async def read(self) -> tuple[int, bytes] | None: ...

    async def write(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def close(self) -> None: ...


class AttachPump:
    """Copies a hijacked connection to and from a ``StdioSession``.

    Output: the session's (stream, data) as frames (or raw with a TTY) until the session
    ends. Input (with ``stdin``): the client's bytes to the container, watching for the
    detach keys; when the client closes its write side, the container's stdin is closed
    and the output keeps flowing until the container is done.
    """

    def __init__(self, session: StdioSession, *, stdin: bool, detach_keys: bytes) -> None:
        self.session = session
        self.stdin = stdin
        self.scanner = EscapeScanner(detach_keys)
        self.detached = False

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        out = asyncio.ensure_future(self._output(writer))
        inp = asyncio.ensure_future(self._input(reader))
        try:
            pending: set[asyncio.Future[None]] = {out, inp}
            while out in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if inp in done and (self.detached or inp.exception() is not None):
                    break
        finally:
            for task in (out, inp):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            self.session.close()
            with contextlib.suppress(Exception):
                if not writer.is_closing() and writer.can_write_eof():
                    writer.write_eof()

    async def _output(self, writer: asyncio.StreamWriter) -> None:
        tty = self.session.tty
        try:
            while (item := await self.session.read()) is not None:
                stream, data = item
                if not data:
                    continue
                writer.write(data if tty else models.frame(stream, data))
                await writer.drain()
        except (ConnectionError, OSError):
            log.debug("attach: the client went away")

    async def _input(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                break
            if not self.stdin:
                continue  # nothing to feed: read on, to notice the end of the client
            forward, self.detached = self.scanner.feed(data)
            if forward:
                try:
                    await self.session.write(forward)
                except (ConnectionError, OSError, NotFound):
                    return
            if self.detached:
                return
        if self.stdin:
            with contextlib.suppress(DockyardError, ConnectionError, OSError):
                await self.session.close_stdin()
