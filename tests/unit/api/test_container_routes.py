"""The /containers routes against a fake ContainerService: frames, status strings,
filters, the streamed wait, attach over a real (in-process) server, and the CLI pieces
that shape requests and tables."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard._internal.detachkeys import EscapeScanner, parse_detach_keys
from dockyard.api.errors import error_response
from dockyard.api.models import containers as models
from dockyard.api.router import Hijack, Request, Response, Router
from dockyard.api.routes import containers as routes
from dockyard.cli import containers as cli
from dockyard.cli import output
from dockyard.cli.containerconfig import container_config, ram_in_bytes
from dockyard.cli.flags import Command, Flag
from dockyard.cli.run import RUN
from dockyard.client.api import demux
from dockyard.engine.containers import (
    AttachSession,
    ContainerService,
    ContainerState,
    ContainerView,
)
from dockyard.errors import Conflict, InvalidArgument, NotFound, NotModified

from .httpclient import Client, ServerThread, read_head

ZERO = "0001-01-01T00:00:00Z"


def state(status: str, **kw: Any) -> ContainerState:
    base: dict[str, Any] = {
        "status": status,
        "running": status in ("running", "paused"),
        "paused": status == "paused",
        "restarting": False,
        "oom_killed": False,
        "dead": False,
        "pid": 0,
        "exit_code": 0,
        "error": "",
        "started_at": ZERO,
        "finished_at": ZERO,
    }
    base.update(kw)
    return ContainerState(**base)


def view(cid: str = "c" * 64, name: str = "/dyt-web", **kw: Any) -> ContainerView:
    base: dict[str, Any] = {
        "id": cid,
        "name": name,
        "created": "2024-05-01T10:00:00.123456789Z",
        "created_unix": 1714557600,
        "path": "echo",
        "args": ("hi",),
        "config": {"Image": "busybox", "Cmd": ["echo", "hi"], "Tty": False},
        "host_config": {"NetworkMode": "none"},
        "state": state("created"),
        "image": "sha256:" + "a" * 64,
        "image_name": "busybox",
        "resolv_conf_path": "",
        "hostname_path": "",
        "hosts_path": "",
        "log_path": "",
        "restart_count": 0,
        "driver": "overlay2",
        "platform": "linux",
    }
    base.update(kw)
    return ContainerView(**base)


class FakeSession(AttachSession):
    def __init__(self, tty: bool = False) -> None:
        self.tty = tty
        self.out: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self.received = bytearray()
        self.stdin_closed = asyncio.Event()
        self.closed = False

    async def read(self) -> tuple[int, bytes] | None:
        return await self.out.get()

    async def write(self, data: bytes) -> None:
        self.received += data

    async def close_stdin(self) -> None:
        self.stdin_closed.set()
        await self.out.put((1, b"got:" + bytes(self.received)))
        await self.out.put(None)

    def close(self) -> None:
        self.closed = True


class FakeService(ContainerService):
    def __init__(self) -> None:  # no store: nothing here touches it
        self.views: dict[str, ContainerView] = {}
        self.exited = asyncio.Event()
        self.calls: list[Any] = []
        self.session = FakeSession()
        self.removed: list[str] = []

    def _find(self, ref: str) -> ContainerView:
        for v in self.views.values():
            if ref in (v.id, v.name.lstrip("/")) or v.id.startswith(ref):
                return v
        raise NotFound(f"No such container: {ref}")

    async def create(self, body: dict[str, Any], name: str | None) -> tuple[str, list[str]]:
        if body.get("Image") == "nope":
            raise NotFound("No such image: nope:latest")
        v = view(cid=f"{len(self.views):064x}", name="/" + (name or "x"))
        self.views[v.id] = v
        return v.id, []

    async def start(self, ref: str) -> None:
        v = self._find(ref)
        if v.state.running:
            raise NotModified("container already started")
        self.calls.append(("start", ref))

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        self._find(ref)
        self.calls.append(("stop", ref, timeout, signal))

    async def kill(self, ref: str, signal: str = "KILL") -> None:
        self.calls.append(("kill", ref, signal))

    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        self._find(ref)
        await self.exited.wait()
        return {"StatusCode": 3, "Error": None}

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        v = self._find(ref)
        if v.state.running and not force:
            raise Conflict(f"cannot remove container {ref}: it is running")
        self.removed.append(v.id)
        del self.views[v.id]

    async def list(
        self,
        all: bool = False,
        filters: dict[str, list[str]] | None = None,
        limit: int = -1,
        size: bool = False,
    ) -> list[ContainerView]:
        self.calls.append(("list", all, filters, limit, size))
        return list(self.views.values())

    async def inspect(self, ref: str, size: bool = False) -> ContainerView:
        return self._find(ref)

    async def logs(self, ref: str, **kw: Any) -> AsyncIterator[tuple[int, bytes]]:
        self.calls.append(("logs", ref, kw))

        async def gen() -> AsyncIterator[tuple[int, bytes]]:
            yield 1, b"out\n"
            yield 2, b"err\n"

        return gen()

    async def attach(
        self, ref: str, *, stdin: bool, stdout: bool, stderr: bool, logs: bool = False
    ) -> AttachSession:
        self._find(ref)
        return self.session


class Api:
    def __init__(self) -> None:
        self.service = FakeService()
        self.router = Router()
        routes.register(self.router, self.service)

    async def call(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]] | None = None,
        body: bytes = b"",
        version: str | None = None,
    ) -> Response | Hijack:
        async def gen() -> AsyncIterator[bytes]:
            if body:
                yield body

        found = self.router.match(method, path)
        assert found is not None, f"no route for {method} {path}"
        handler, params = found
        req = Request(method, path, version, query or {}, {}, gen())
        try:
            return await handler(req, **params)
        except Exception as e:
            return error_response(e)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def body_of(response: Response | Hijack) -> bytes:
    assert isinstance(response, Response)
    if isinstance(response.body, bytes):
        return response.body
    return b"".join([c async for c in response.body])


# -- models ---------------------------------------------------------------------------------


def test_frames_are_docker_8_byte_headers() -> None:
    assert models.frame(1, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    big = b"x" * 70000
    head = models.frame(2, big)[:8]
    assert head == struct.pack(">BxxxL", 2, 70000)
    pairs = list(
        demux(iter([models.frame(1, b"a") + models.frame(2, b"bc")[:5], b"\x00\x00\x02bc"]), True)
    )
    assert pairs == [(1, b"a"), (2, b"bc")]
    assert models.stream_content_type(False, "1.45") == models.MULTIPLEXED
    assert models.stream_content_type(True, "1.45") == models.RAW_STREAM
    assert models.stream_content_type(False, "1.41") == models.RAW_STREAM


def test_status_strings() -> None:
    # the engine computes Docker's ps status; the API model passes it through
    from dockyard._internal.humanize import human_duration
    from dockyard.engine.containerrecord import Container, status_text
    from dockyard.images.config import parse_time

    def record(status: str, started: str = "", finished: str = "", code: int = 0) -> Container:
        return Container(
            "c" * 64, "/dyt-c", "", 0.0, "sh", [], {}, {}, "sha256:" + "0" * 64, "busybox",
            "overlay", status=status, exit_code=code,
            started_unix=parse_time(started) if started else 0.0,
            finished_unix=parse_time(finished) if finished else 0.0,
        )  # fmt: skip

    now = parse_time("2024-05-01T10:00:10Z")
    assert status_text(record("created"), now) == "Created"
    up = record("running", started="2024-05-01T10:00:05.5Z")
    assert status_text(up, now) == "Up 4 seconds"
    long_up = record("running", started="2024-05-01T09:58:00Z")
    assert status_text(long_up, now) == "Up 2 minutes"
    paused = record("paused", started="2024-05-01T09:58:00Z")
    assert status_text(paused, now) == "Up 2 minutes (Paused)"
    exited = record(
        "exited",
        code=137,
        started="2024-05-01T09:00:00Z",
        finished="2024-05-01T10:00:07.123456789+00:00",
    )
    assert status_text(exited, now) == "Exited (137) 2 seconds ago"
    assert status_text(record("dead", started="2024-05-01T09:00:00Z"), now) == "Dead"
    assert human_duration(0.5) == "Less than a second"
    assert human_duration(3600 * 30) == "30 hours"


def test_summary_and_inspect_shapes() -> None:
    v = view(state=state("running", started_at="2024-05-01T10:00:00Z"), status_text="Up 1 second")
    doc = models.container_summary(v)
    assert doc["Names"] == ["/dyt-web"] and doc["Status"] == "Up 1 second"
    assert doc["Command"] == "echo hi" and doc["State"] == "running"
    assert doc["HostConfig"] == {"NetworkMode": "none"}
    assert "none" in doc["NetworkSettings"]["Networks"]
    assert "SizeRw" not in doc
    full = models.container_inspect(v)
    assert full["State"]["Running"] is True and full["State"]["FinishedAt"] == ZERO
    assert full["Config"]["Tty"] is False and full["Config"]["Image"] == "busybox"
    # docker-py's containers.run reads the log driver to decide whether to fetch logs
    assert full["HostConfig"]["LogConfig"]["Type"] == "json-file"
    assert full["Name"] == "/dyt-web" and full["Args"] == ["hi"]


# -- routes ---------------------------------------------------------------------------------


def test_ps_filters_parsing() -> None:
    assert routes.ps_filters('{"status":{"running":true},"name":["web"]}') == {
        "status": ["running"],
        "name": ["web"],
    }
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        routes.ps_filters('{"colour":["red"]}')
    with pytest.raises(InvalidArgument, match="status=sleepy"):
        routes.ps_filters('{"status":["sleepy"]}')
    with pytest.raises(InvalidArgument):
        routes.ps_filters("{not json")
    assert routes.parse_tail("all") == -1 and routes.parse_tail("5") == 5
    assert routes.parse_timestamp("1700000000.5", "since") == 1700000000.5


def test_create_list_inspect_and_errors() -> None:
    async def go() -> None:
        api = Api()
        r = await api.call("POST", "/containers/create", {"name": ["dyt-a"]}, b'{"Image":"x"}')
        assert isinstance(r, Response) and r.status == 201
        cid = json.loads(await body_of(r))["Id"]
        bad = await api.call("POST", "/containers/create", body=b"{nope")
        assert isinstance(bad, Response) and bad.status == 400
        empty = await api.call("POST", "/containers/create")
        assert isinstance(empty, Response) and empty.status == 400
        missing = await api.call("POST", "/containers/create", body=b'{"Image":"nope"}')
        assert isinstance(missing, Response) and missing.status == 404
        assert b"No such image" in await body_of(missing)
        listed = await api.call("GET", "/containers/json", {"all": ["1"], "limit": ["0"]})
        docs = json.loads(await body_of(listed))
        assert [d["Id"] for d in docs] == [cid]
        assert api.service.calls[-1] == ("list", True, {}, -1, False)
        bad_filter = await api.call("GET", "/containers/json", {"filters": ['{"x":["1"]}']})
        assert isinstance(bad_filter, Response) and bad_filter.status == 400
        doc = json.loads(await body_of(await api.call("GET", f"/containers/{cid}/json")))
        assert doc["Name"] == "/dyt-a"
        nf = await api.call("POST", "/containers/dyt-none/start")
        assert isinstance(nf, Response) and nf.status == 404
        stop = await api.call("POST", "/containers/dyt-a/stop", {"t": ["1"], "signal": ["TERM"]})
        assert isinstance(stop, Response) and stop.status == 204
        assert api.service.calls[-1] == ("stop", "dyt-a", 1, "TERM")
        bad_wait = await api.call("POST", "/containers/dyt-a/wait", {"condition": ["soon"]})
        assert isinstance(bad_wait, Response) and bad_wait.status == 400
        rename = await api.call("POST", "/containers/dyt-a/rename")
        assert isinstance(rename, Response) and rename.status == 400
        gone = await api.call("DELETE", "/containers/dyt-a", {"force": ["1"]})
        assert isinstance(gone, Response) and gone.status == 204

    run(go())


def test_start_of_a_running_container_is_304() -> None:
    async def go() -> None:
        api = Api()
        v = view(state=state("running"))
        api.service.views[v.id] = v
        r = await api.call("POST", "/containers/dyt-web/start")
        assert isinstance(r, Response) and r.status == 304 and r.body == b""
        rm = await api.call("DELETE", "/containers/dyt-web")
        assert isinstance(rm, Response) and rm.status == 409

    run(go())


def test_logs_are_framed_without_tty_and_raw_with_one() -> None:
    async def go() -> None:
        api = Api()
        v = view()
        api.service.views[v.id] = v
        r = await api.call("GET", "/containers/dyt-web/logs", {"stdout": ["1"], "stderr": ["1"]})
        assert isinstance(r, Response) and r.content_type == models.MULTIPLEXED
        assert await body_of(r) == models.frame(1, b"out\n") + models.frame(2, b"err\n")
        none = await api.call("GET", "/containers/dyt-web/logs")
        assert isinstance(none, Response) and none.status == 400
        t = view(cid="d" * 64, name="/dyt-tty", config={"Tty": True})
        api.service.views[t.id] = t
        q = {"stdout": ["1"], "tail": ["2"], "since": ["10"]}
        raw = await api.call("GET", "/containers/dyt-tty/logs", q)
        assert isinstance(raw, Response) and raw.content_type == models.RAW_STREAM
        assert await body_of(raw) == b"out\nerr\n"
        assert api.service.calls[-1][2]["tail"] == 2

    run(go())


def test_wait_sends_its_head_at_once_and_the_body_when_done() -> None:
    async def go() -> None:
        api = Api()
        v = view()
        api.service.views[v.id] = v
        r = await api.call("POST", "/containers/dyt-web/wait", {"condition": ["next-exit"]})
        # the handler returned (the head can go out) while the container still runs
        assert isinstance(r, Response) and r.status == 200
        assert not isinstance(r.body, bytes)
        it = aiter(r.body)
        pending = asyncio.ensure_future(anext(it))
        await asyncio.sleep(0.05)
        assert not pending.done()
        api.service.exited.set()
        assert json.loads(await pending) == {"StatusCode": 3, "Error": None}
        missing = await api.call("POST", "/containers/dyt-none/wait")
        assert isinstance(missing, Response) and missing.status == 404

    run(go())


@pytest.fixture
def served() -> Iterator[tuple[ServerThread, FakeService]]:
    service_box: list[FakeService] = []
    with tempfile.TemporaryDirectory(prefix="dyt-") as d:
        router = Router()
        # the fake's asyncio objects must belong to the server's loop: made there
        server = ServerThread(router, Path(d) / "dyt.sock")

        async def make() -> FakeService:
            s = FakeService()
            v = view()
            s.views[v.id] = v
            return s

        service = server.call(make())
        routes.register(router, service)
        service_box.append(service)
        try:
            yield server, service
        finally:
            server.stop()


def test_wait_over_http_does_not_buffer(served: tuple[ServerThread, FakeService]) -> None:
    server, service = served
    client = Client(server.path)
    client.send(
        b"POST /v1.45/containers/dyt-web/wait?condition=next-exit HTTP/1.1\r\n"
        b"Host: d\r\nContent-Length: 0\r\n\r\n"
    )
    status_line, headers = read_head(client.file)
    assert status_line.startswith("HTTP/1.1 200")
    assert headers["transfer-encoding"] == "chunked"
    server.soon(service.exited.set)
    size = int(client.file.readline(), 16)
    assert json.loads(client.file.read(size)) == {"StatusCode": 3, "Error": None}
    client.close()


def test_attach_hijack_frames_stdin_and_half_close(
    served: tuple[ServerThread, FakeService],
) -> None:
    server, service = served
    client = Client(server.path)
    client.send(
        b"POST /v1.45/containers/dyt-web/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
        b"Host: d\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    status_line, headers = read_head(client.file)
    assert status_line == "HTTP/1.1 101 UPGRADED"
    assert headers["content-type"] == models.MULTIPLEXED
    server.soon(service.session.out.put_nowait, (2, b"oops\n"))
    assert client.file.read(8 + 5) == models.frame(2, b"oops\n")
    client.send(b"abc")
    client.sock.shutdown(socket.SHUT_WR)  # the client's stdin ended
    assert client.file.read(8 + 7) == models.frame(1, b"got:abc")
    assert client.closed_by_peer()
    assert service.session.closed
    client.close()


def test_attach_to_a_missing_container_is_a_404(
    served: tuple[ServerThread, FakeService],
) -> None:
    server, _ = served
    client = Client(server.path)
    reply = client.request(
        "POST",
        "/v1.45/containers/dyt-none/attach?stream=1&stdout=1",
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
    )
    assert reply.status == 404 and b"No such container" in reply.body
    client.close()


def test_detach_keys() -> None:
    keys = parse_detach_keys("ctrl-p,ctrl-q")
    assert keys == b"\x10\x11"
    assert parse_detach_keys("a,ctrl-@") == b"a\x00"
    with pytest.raises(ValueError):
        parse_detach_keys("ctrl-1")
    scanner = EscapeScanner(keys)
    assert scanner.feed(b"ab\x10") == (b"ab", False)
    assert scanner.feed(b"x") == (b"\x10x", False)
    assert scanner.feed(b"\x10") == (b"", False)
    assert scanner.feed(b"\x11rest") == (b"", True)


# -- CLI pieces ---------------------------------------------------------------------------


def test_run_flags_stop_at_the_image() -> None:
    opts, args = RUN.parse(["--rm", "-e", "A=1", "busybox", "sh", "-c", "exit 3"])
    assert args == ["busybox", "sh", "-c", "exit 3"] and opts["rm"]
    cmd = Command("x", "", "", [Flag("hostname", "h", "string")])
    assert cmd.parse(["-h", "box"])[0]["hostname"] == "box"


def test_container_config_of_run_flags() -> None:
    opts, args = RUN.parse(
        [
            "-i",
            "--name",
            "dyt-x",
            "-v",
            "/tmp:/data:ro",
            "-w",
            "/data",
            "-u",
            "1000",
            "-h",
            "box",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "--cap-add",
            "NET_ADMIN",
            "--network",
            "host",
            "--entrypoint",
            "/bin/sh",
            "busybox",
            "-c",
            "cat",
        ]
    )
    config = container_config(opts, args, detach=False)
    assert config["Image"] == "busybox" and config["Cmd"] == ["-c", "cat"]
    assert config["Entrypoint"] == ["/bin/sh"]
    assert config["OpenStdin"] and config["StdinOnce"] and config["AttachStdin"]
    assert config["Hostname"] == "box" and config["User"] == "1000"
    host = config["HostConfig"]
    assert host["Binds"] == ["/tmp:/data:ro"] and host["Memory"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 20
    assert host["CapAdd"] == ["NET_ADMIN"] and host["NetworkMode"] == "host"
    assert ram_in_bytes("1g") == 1024**3 and ram_in_bytes("512MiB") == 512 * 1024**2


def test_ps_rows_like_docker() -> None:
    summary = models.container_summary(
        view(status_text="Up 5 seconds", config={"Cmd": ["sleep", "30"]})
    )
    summary["Command"] = "sleep 30 && echo a long command"
    rows = cli.container_rows([summary], trunc=True, now=1714557600 + 120)
    row = rows[0]
    assert row["ID"] == "c" * 12 and row["Names"] == "dyt-web"
    assert row["Command"] == '"sleep 30 && echo a …"'
    assert row["RunningFor"] == "2 minutes ago" and row["Status"] == "Up 5 seconds"
    text = output.render_rows(cli.PS_TABLE, rows, cli.PS_HEADERS)
    assert text.splitlines()[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
