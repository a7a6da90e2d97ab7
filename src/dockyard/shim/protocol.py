"""The shim's control protocol: JSON lines, then raw frames for an attached client.

A client connects to ``<exec_root>/shims/<id>.sock`` and sends one JSON object per line;
each request gets one JSON line back (``{"ok": true, ...}`` or ``{"ok": false,
"error": "..."}``). Requests: ``state``, ``start``, ``kill`` (signal, all), ``resize``
(height, width), ``wait`` (answered when the container has exited), ``attach`` (stdin,
stdout, stderr). After the answer to ``attach`` the connection carries frames both ways:
an 8-byte header ``[stream, 0, 0, 0, size (big-endian u32)]`` and ``size`` bytes;
stream 0 is stdin data (client to shim), ``CLOSE_STDIN`` closes stdin, 1 and 2 are
stdout and stderr (shim to client). The shim closes the connection at the end of output.

``exec`` (id, process: a whole OCI process, stdin, stdout, stderr, height, width) runs
another process in the container (``execs.py``); after its answer (``pid``, ``tty``) the
connection carries frames as after ``attach``, for that process only, and ends with one
``EXIT`` frame whose data is ``{"exit_code": N}``. ``resize`` and ``kill`` with an
``exec`` key act on that exec instead of the container.
"""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, NotFound, SystemFault

from . import paths

STDIN = 0
STDOUT = 1
STDERR = 2
CLOSE_STDIN = 4
EXIT = 5  # the last frame of an exec: {"exit_code": N}
HEADER = struct.Struct(">BxxxI")
LINE_LIMIT = 1 << 20


SHORT_ID = paths.SHORT_ID


def socket_path(exec_root: Path, container_id: str) -> Path:
    return Path(paths.socket_file(str(exec_root), container_id))


def console_path(exec_root: Path, container_id: str) -> Path:
    """Where the runtime hands the shim a container's pty master (``--console-socket``)."""
    return Path(paths.console_file(str(exec_root), container_id))


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def frame(stream: int, data: bytes) -> bytes:
    return HEADER.pack(stream, len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """The next frame, or None at the end of the stream."""
    try:
        head = await reader.readexactly(HEADER.size)
        stream, size = HEADER.unpack(head)
        data = await reader.readexactly(size) if size else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return stream, data


class ShimConnection:
    """One client connection to a shim (the engine's side)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, path: Path) -> ShimConnection:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=LINE_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise NotFound(f"no shim at {path}: the container is not running") from e
        return cls(reader, writer)

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one request and read its answer; errors of the shim raise Conflict."""
        self.writer.write(encode({"op": op, **args}))
        await self.writer.drain()
        line = await self.reader.readline()
        if not line:
            raise SystemFault(f"the shim closed the connection during {op!r}")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise Conflict(str(answer.get("error", f"{op} failed")))
        return answer

    def close(self) -> None:
        self.writer.close()


async def call(path: Path, op: str, **args: Any) -> dict[str, Any]:
    """One request on a fresh connection."""
    conn = await ShimConnection.open(path)
    try:
        return await conn.call(op, **args)
    finally:
        conn.close()
