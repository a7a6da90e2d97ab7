"""A minimal HTTP/1.1 client exchange over one connected socket.

Why not ``http.client``: importing it costs the CLI about 20 ms (it pulls in ``email``
and ``ssl``), more than the whole round trip to the daemon; ``h11`` costs 17 ms. The
client only talks to a Docker-API daemon, so it needs little: a request with a
``Content-Length`` or chunked body, and a response head followed by a body delimited by
``Content-Length``, chunked encoding, or the end of the connection.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:  # (``typing`` costs the CLI 3 ms at import)
    from typing import IO, TypeAlias

    Body: TypeAlias = bytes | IO[bytes] | Iterable[bytes] | None

HEAD_LIMIT = 1 << 20
READ_SIZE = 64 * 1024
BODYLESS = frozenset({101, 204, 304})


class ProtocolError(OSError):
    """The peer's answer is not HTTP/1.1 as expected (or the connection ended early)."""


def send_request(
    sock: socket.socket, method: str, target: str, headers: Mapping[str, str], body: Body
) -> None:
    """Send the head and the body: bytes with a length, a file or iterable chunked."""
    lines = [f"{method} {target} HTTP/1.1", "Host: docker"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is None or isinstance(body, bytes):
        data = body or b""
        if data or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(data)}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        return
    lines.append("Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    for chunk in _pieces(body):
        if chunk:
            sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
    sock.sendall(b"0\r\n\r\n")


def _pieces(body: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(body, "read", None)
    if read is None:
        yield from body
        return
    while chunk := read(READ_SIZE):
        yield chunk


class Response:
    """A response head and its body reader on ``sock``."""

    def __init__(self, sock: socket.socket, method: str = "GET") -> None:
        self.sock = sock
        self._buf = b""
        self._eof = False
        self.status, self.reason, self.headers = self._read_head()
        self._chunked = False
        self._left = -1  # bytes left of a Content-Length body, -1: until close
        self._chunk_left = 0
        self._done = False
        if method == "HEAD" or self.status in BODYLESS or 100 <= self.status < 200:
            self._done = self.status != 101  # 101: what follows is the upgraded stream
            self._left = 0 if self._done else -1
        elif "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in self.headers:
            try:
                self._left = int(self.headers["content-length"])
            except ValueError:
                raise ProtocolError("invalid Content-Length in the answer") from None
            self._done = self._left == 0

    # -- raw input ---------------------------------------------------------------------

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self.sock.recv(READ_SIZE)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _read_head(self) -> tuple[int, str, dict[str, str]]:
        while b"\r\n\r\n" not in self._buf:
            if len(self._buf) > HEAD_LIMIT or not self._fill():
                raise ProtocolError("the connection closed before a complete answer")
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP answer: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), parts[2] if len(parts) > 2 else "", headers

    def _take(self, size: int) -> bytes:
        """Up to ``size`` buffered (or newly received) bytes; b"" at the end."""
        if not self._buf and not self._fill():
            return b""
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self._buf:
            if not self._fill():
                raise ProtocolError("the connection closed inside a chunked answer")
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    # -- the body ----------------------------------------------------------------------

    def read1(self, size: int = READ_SIZE) -> bytes:
        """Some of the body (at most ``size`` bytes), b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                try:
                    self._chunk_left = int(self._line().split(b";")[0], 16)
                except ValueError:
                    raise ProtocolError("invalid chunk size in the answer") from None
                if self._chunk_left == 0:
                    while self._line():  # trailers, up to the empty line
                        pass
                    self._done = True
                    return b""
            data = self._take(min(size, self._chunk_left))
            if not data:
                raise ProtocolError("the connection closed inside a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._line()  # the CRLF after the chunk
            return data
        if self._left >= 0:
            data = self._take(min(size, self._left))
            if not data:
                raise ProtocolError("the connection closed before the end of the answer")
            self._left -= len(data)
            self._done = self._left == 0
            return data
        data = self._take(size)
        self._done = not data
        return data

    def read(self) -> bytes:
        parts = []
        while data := self.read1():
            parts.append(data)
        return b"".join(parts)

    def leftover(self) -> bytes:
        """Bytes received after the head (an upgraded connection's first stream bytes)."""
        data, self._buf = self._buf, b""
        return data
