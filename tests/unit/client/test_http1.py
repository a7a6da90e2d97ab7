"""The CLI's HTTP/1.1 exchange against canned answers on a socket pair."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator

import pytest

from dockyard.client.http1 import ProtocolError, Response, send_request


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _answer(sock: socket.socket, pieces: list[bytes], close: bool = True) -> None:
    """Send ``pieces`` one by one (so the reader sees every split), then maybe close."""

    def run() -> None:
        for p in pieces:
            sock.sendall(p)
        if close:
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=run, daemon=True).start()


def test_content_length_body(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    _answer(
        theirs,
        [b"HTTP/1.1 200 OK\r\nContent-Len", b"gth: 5\r\nApi-Version: 1.45\r\n\r\nhel", b"lo"],
        close=False,
    )
    resp = Response(ours)
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.headers["api-version"] == "1.45"
    assert resp.read() == b"hello"
    assert resp.read1() == b""


def test_chunked_body_split_anywhere(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"
    )
    _answer(theirs, [raw[i : i + 3] for i in range(0, len(raw), 3)], close=False)
    resp = Response(ours)
    assert resp.read() == b"abc0123456789"


def test_body_until_close(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    _answer(theirs, [b"HTTP/1.1 200 OK\r\n\r\nstream", b"ed"])
    assert Response(ours).read() == b"streamed"


def test_no_body_for_head_204_and_upgrade_keeps_leftover(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    _answer(theirs, [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"], close=False)
    assert Response(ours).read() == b""
    _answer(theirs, [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"], close=False)
    assert Response(ours, "HEAD").read() == b""
    _answer(theirs, [b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00"], close=False)
    up = Response(ours)
    assert up.status == 101
    assert up.leftover() == b"\x01\x00\x00\x00"


@pytest.mark.parametrize(
    "raw",
    [b"", b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
)
def test_broken_answers_raise(pair: tuple[socket.socket, socket.socket], raw: bytes) -> None:
    ours, theirs = pair
    _answer(theirs, [raw])
    with pytest.raises(ProtocolError):
        Response(ours).read()


@pytest.mark.parametrize("body", [io.BytesIO(b"x" * 100_000), [b"ab", b"", b"cd"]])
def test_streamed_request_bodies_are_chunked(
    pair: tuple[socket.socket, socket.socket], body: object
) -> None:
    ours, theirs = pair
    expected = b"x" * 100_000 if isinstance(body, io.BytesIO) else b"abcd"
    threading.Thread(
        target=send_request, args=(ours, "POST", "/x", {"A": "b"}, body), daemon=True
    ).start()
    # read the request back as a server would: the head, then the chunked body
    req = _ServerView(theirs)
    assert req.head.startswith(b"POST /x HTTP/1.1\r\nHost: docker\r\nA: b\r\n")
    assert b"Transfer-Encoding: chunked" in req.head
    assert req.body == expected


def test_bytes_request_has_a_length(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    send_request(ours, "POST", "/y", {}, b"{}")
    ours.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := theirs.recv(4096):
        data += chunk
    assert data == b"POST /y HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}"


class _ServerView:
    def __init__(self, sock: socket.socket) -> None:
        buf = b""
        while not buf.endswith(b"\r\n0\r\n\r\n"):
            buf += sock.recv(65536)
        self.head, _, rest = buf.partition(b"\r\n\r\n")
        body = b""
        while True:
            line, _, rest = rest.partition(b"\r\n")
            size = int(line, 16)
            if size == 0:
                break
            body += rest[:size]
            rest = rest[size + 2 :]
        self.body = body
