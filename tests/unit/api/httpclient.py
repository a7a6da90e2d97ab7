"""A raw HTTP/1.1 client over a unix socket, and an in-process server in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from dockyard.api.router import Router
from dockyard.api.server import Server, serve_unix

T = TypeVar("T")


@dataclass
class Reply:
    status_line: str
    status: int
    headers: dict[str, str]
    body: bytes


def read_head(f: BinaryIO) -> tuple[str, dict[str, str]]:
    status_line = f.readline().decode().rstrip("\r\n")
    headers: dict[str, str] = {}
    while True:
        line = f.readline().decode()
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers


def read_chunk(f: BinaryIO) -> bytes | None:
    """One chunk of a chunked body; None at the last (zero) chunk."""
    size = int(f.readline().split(b";")[0], 16)
    if size == 0:
        f.readline()
        return None
    data = f.read(size)
    f.readline()
    return data


def read_reply(f: BinaryIO, head: bool = False) -> Reply:
    status_line, headers = read_head(f)
    status = int(status_line.split()[1])
    body = b""
    if head or status in (204, 304) or 100 <= status < 200:
        pass
    elif headers.get("transfer-encoding") == "chunked":
        while (chunk := read_chunk(f)) is not None:
            body += chunk
    elif "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    else:
        body = f.read()
    return Reply(status_line, status, headers, body)


class Client:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Reply:
        lines = [f"{method} {path} HTTP/1.1", "Host: docker"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return read_reply(self.file, head=method == "HEAD")

    def closed_by_peer(self) -> bool:
        return self.file.read(1) == b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class ServerThread:
    """A ``Server`` on its own event loop in a thread; ``call`` runs a coroutine there."""

    def __init__(self, router: Router, path: Path) -> None:
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Server = self.call(serve_unix(router, path))

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def soon(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.call(self.server.close(2.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
