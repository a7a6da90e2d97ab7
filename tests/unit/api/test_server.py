"""The HTTP server against raw socket clients on a temp unix socket."""

from __future__ import annotations

import asyncio
import socket
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.api.router import Hijack, Request, Response, Router, json_response, stream
from dockyard.api.server import bind_unix, unix_path
from dockyard.errors import Conflict, NotFound, NotModified, NotSupported

from .httpclient import Client, ServerThread, read_chunk, read_head, read_reply


class Controls:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.closed = False


def make_router(ctl: Controls) -> Router:
    router = Router()

    @router.route("GET", "/echo/{name}")
    async def echo(req: Request, name: str) -> Response:
        return json_response({"name": name, "version": req.version, "q": req.query})

    @router.route("POST", "/upload")
    async def upload(req: Request) -> Response:
        size = chunks = 0
        async for chunk in req.body:
            size += len(chunk)
            chunks += 1
        return json_response({"size": size, "chunks": chunks})

    @router.route("POST", "/ignore-body")
    async def ignore_body(req: Request) -> Response:
        return json_response({"ok": True})

    @router.route("POST", "/wait")
    async def wait(req: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            try:
                yield b""  # headers go out before the first real chunk
                await ctl.release.wait()
                yield b'{"StatusCode":0}\n'
            finally:
                ctl.closed = True

        return stream(body())

    @router.route("GET", "/boom")
    async def boom(req: Request) -> Response:
        raise RuntimeError("kaboom")

    @router.route("GET", "/missing")
    async def missing(req: Request) -> Response:
        raise NotFound("no such container: web")

    @router.route("POST", "/start")
    async def start(req: Request) -> Response:
        raise NotModified("container already started")

    @router.route("POST", "/conflict")
    async def conflict(req: Request) -> Response:
        raise Conflict("name in use")

    @router.route("POST", "/attach")
    async def attach(req: Request) -> Hijack:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hello\n")
            await writer.drain()
            while data := await reader.read(1024):
                writer.write(data.upper())
                await writer.drain()

        return Hijack(run, "application/vnd.docker.multiplexed-stream")

    return router


@pytest.fixture
def ctl() -> Controls:
    return Controls()


@pytest.fixture
def server(ctl: Controls) -> Iterator[ServerThread]:
    with tempfile.TemporaryDirectory(prefix="dyt-") as tmp:
        st = ServerThread(make_router(ctl), Path(tmp) / "dyt-api.sock")
        try:
            yield st
        finally:
            st.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[Client]:
    c = Client(server.path)
    yield c
    c.close()


def test_common_headers_and_version_prefix(client: Client) -> None:
    r = client.request("GET", "/v1.41/echo/web?all=1&all=0&x=")
    assert r.status == 200
    assert r.headers["api-version"] == "1.45"
    assert r.headers["ostype"] == "linux"
    assert r.headers["docker-experimental"] == "false"
    assert r.headers["server"].startswith("Dockyard/")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-length"] == str(len(r.body))
    import json

    assert json.loads(r.body) == {
        "name": "web",
        "version": "1.41",
        "q": {"all": ["1", "0"], "x": [""]},
    }


def test_keep_alive_serves_many_requests_on_one_connection(client: Client) -> None:
    for i in range(5):
        r = client.request("GET", f"/echo/n{i}")
        assert r.status == 200
        assert f'"n{i}"'.encode() in r.body


def test_too_new_and_too_old_versions(client: Client) -> None:
    r = client.request("GET", "/v1.99/echo/x")
    assert r.status == 400
    assert r.body == (
        b'{"message": "client version 1.99 is too new. Maximum supported API version is 1.45"}\n'
    )
    r = client.request("GET", "/v1.12/echo/x")
    assert r.status == 400
    assert b"too old" in r.body


def test_unknown_path_404_and_wrong_method_405(client: Client) -> None:
    r = client.request("GET", "/nope")
    assert r.status == 404
    assert r.body == b'{"message": "page not found"}\n'
    r = client.request("DELETE", "/echo/x")
    assert r.status == 405
    assert "GET" in r.headers["allow"]
    assert b"message" in r.body


def test_error_kinds_map_to_statuses(client: Client) -> None:
    r = client.request("GET", "/missing")
    assert (r.status, r.body) == (404, b'{"message": "no such container: web"}\n')
    r = client.request("POST", "/conflict")
    assert r.status == 409
    r = client.request("POST", "/start")
    assert r.status == 304
    assert r.body == b""
    r = client.request("GET", "/boom")
    assert r.status == 500
    assert b"kaboom" in r.body
    # and the connection (and the daemon) carry on
    assert client.request("GET", "/echo/after").status == 200


def test_head_has_headers_but_no_body(client: Client) -> None:
    r = client.request("HEAD", "/echo/x")
    assert r.status == 200
    assert int(r.headers["content-length"]) > 0
    assert r.body == b""
    assert client.request("GET", "/echo/y").status == 200  # nothing stray on the wire


def test_content_length_body_streamed_to_handler(client: Client) -> None:
    data = b"x" * (3 * 1024 * 1024)
    r = client.request("POST", "/upload", data)
    import json

    result = json.loads(r.body)
    assert result["size"] == len(data)
    assert result["chunks"] > 1  # arrived in pieces, not buffered whole


def test_chunked_request_body(client: Client) -> None:
    head = b"POST /upload HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    client.send(head + chunks)
    r = read_reply(client.file)
    assert r.body == b'{"size": 11, "chunks": 2}\n'
    assert client.request("GET", "/echo/next").status == 200


def test_unread_body_is_drained_and_connection_kept(client: Client) -> None:
    r = client.request("POST", "/ignore-body", b"y" * 10000)
    assert r.status == 200
    assert client.request("GET", "/echo/next").status == 200


def test_streamed_response_headers_arrive_before_the_body_ends(
    server: ServerThread, client: Client, ctl: Controls
) -> None:
    client.send(b"POST /wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n")
    status_line, headers = read_head(client.file)  # would time out if buffered
    assert status_line == "HTTP/1.1 200 OK"
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    server.soon(ctl.release.set)
    assert read_chunk(client.file) == b'{"StatusCode":0}\n'
    assert read_chunk(client.file) is None
    assert client.request("GET", "/echo/again").status == 200


def test_stream_is_closed_when_the_client_leaves(
    server: ServerThread, client: Client, ctl: Controls
) -> None:
    client.send(b"POST /wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n")
    read_head(client.file)
    client.close()
    deadline = time.monotonic() + 5
    while not ctl.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ctl.closed


def test_hijack_upgrade(client: Client) -> None:
    client.send(
        b"POST /v1.45/attach?stream=1 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n"
        b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly"
    )
    status_line, headers = read_head(client.file)
    assert status_line == "HTTP/1.1 101 UPGRADED"
    assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    assert headers["connection"] == "Upgrade"
    assert headers["upgrade"] == "tcp"
    assert client.file.readline() == b"hello\n"
    # bytes sent together with the request (buffered by the parser) reach the handler
    assert client.file.read(5) == b"EARLY"
    client.send(b"more")
    assert client.file.read(4) == b"MORE"
    client.sock.shutdown(socket.SHUT_WR)
    assert client.closed_by_peer()


def test_hijack_without_upgrade_answers_200(client: Client) -> None:
    client.send(b"POST /attach HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n")
    status_line, headers = read_head(client.file)
    assert status_line == "HTTP/1.1 200 OK"
    assert "content-length" not in headers
    assert client.file.readline() == b"hello\n"
    client.send(b"abc")
    assert client.file.read(3) == b"ABC"


def test_malformed_request_gets_400_and_the_server_survives(server: ServerThread) -> None:
    bad = Client(server.path)
    bad.send(b"THIS IS NOT HTTP\r\n\r\n")
    r = read_reply(bad.file)
    assert r.status == 400
    assert b"message" in r.body
    assert bad.closed_by_peer()
    bad.close()
    bad = Client(server.path)
    bad.send(b"POST /upload HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    r = read_reply(bad.file)
    assert r.status == 400
    bad.close()
    good = Client(server.path)
    assert good.request("GET", "/echo/ok").status == 200
    good.close()


def test_http10_streamed_response_closes(
    client: Client, server: ServerThread, ctl: Controls
) -> None:
    server.soon(ctl.release.set)
    client.send(b"POST /wait HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    r = read_reply(client.file)
    assert r.body == b'{"StatusCode":0}\n'


def test_bind_unix_mode_and_stale_socket() -> None:
    with tempfile.TemporaryDirectory(prefix="dyt-") as tmp:
        path = Path(tmp) / "dyt-bind.sock"
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(path))
        stale.close()  # a socket file nobody listens on
        sock = bind_unix(path, mode=0o660)
        try:
            assert stat.S_IMODE(path.stat().st_mode) == 0o660
            with pytest.raises(Conflict, match="another daemon"):
                bind_unix(path)
        finally:
            sock.close()
        path.unlink()
        path.write_text("not a socket")
        with pytest.raises(Conflict, match="not a socket"):
            bind_unix(path)


@pytest.mark.parametrize(
    ("host", "kind"),
    [("tcp://0.0.0.0:2375", NotSupported), ("fd://", NotSupported), ("unix://rel", Exception)],
)
def test_unix_path_refuses_other_hosts(host: str, kind: Any) -> None:
    with pytest.raises(kind):
        unix_path(host)
    assert unix_path("unix:///run/x.sock") == Path("/run/x.sock")


def test_close_bounds_in_flight_requests_and_drops_idle_ones(
    server: ServerThread, ctl: Controls
) -> None:
    idle = Client(server.path)
    assert idle.request("GET", "/echo/x").status == 200
    busy = Client(server.path)
    busy.send(b"POST /wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n")
    read_head(busy.file)
    started = time.monotonic()
    server.call(server.server.close(0.3))
    assert time.monotonic() - started < 3
    assert ctl.closed  # the stream was cancelled after the grace period
    assert idle.closed_by_peer()
    idle.close()
    busy.close()
    with pytest.raises(OSError):
        Client(server.path)
