"""Bad input to every endpoint that takes one: malformed JSON, wrong JSON types, unknown
objects and bad query values answer 4xx with Docker's ``{"message": ...}``, never a 500;
clients that hang up in the middle of a stream leave a daemon that works. After each,
a normal ``run`` still works and nothing was left behind.

The endpoints are not listed by hand: they come from the daemon's own route table.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique

BUSYBOX = "busybox:latest"
BODIES = [
    b"{not json",
    b"[1, 2]",
    b'"a string"',
    b"12",
    json.dumps({"Image": 7, "Cmd": 5, "Env": "x", "HostConfig": "y", "Labels": 3,
                "Container": [], "Name": {}, "Detach": "no", "Memory": "big"}).encode(),
]  # fmt: skip


def request(
    daemon: Daemon, method: str, path: str, body: bytes = b"", timeout: float = 30.0
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on the daemon's socket; status, headers, whole body."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(daemon.sock))
        head = (
            f"{method} /v1.45{path} HTTP/1.1\r\nHost: dyt\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        s.sendall(head.encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    raw_head, _, payload = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        payload = _dechunk(payload)
    return int(lines[0].split()[1]), headers, payload


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


@pytest.fixture(scope="module")
def write_routes() -> list[tuple[str, str]]:
    """Every POST/PUT/DELETE route of a daemon built from this code (its route table)."""
    from dockyard.daemon import wiring
    from dockyard.daemon.config import DaemonConfig

    top = Path(tempfile.mkdtemp(prefix="dyt-routes-"))
    engine = wiring.build(
        DaemonConfig(data_root=top / "data", exec_root=top / "exec", bridge="none")
    )
    try:
        table = engine.router.table()
    finally:
        engine.close()
        import shutil

        shutil.rmtree(top, ignore_errors=True)
    routes = [(m, p) for m, p in table if m in ("POST", "PUT", "DELETE")]
    assert ("POST", "/containers/create") in routes and len(routes) > 30
    return routes


def _fill(pattern: str, missing: str) -> str:
    """The pattern with every ``{param}`` an object that does not exist. An image name
    is on a loopback registry: a push must find it missing before any registry matters
    (and never reaches past this host)."""
    out, rest = "", pattern
    while "{" in rest:
        before, _, after = rest.partition("{")
        param, _, rest = after.partition("}")
        out += before + (f"127.0.0.1:9/{missing}" if param.endswith(":.+") else missing)
    return out + rest


def _is_docker_error(status: int, headers: dict[str, str], payload: bytes) -> bool:
    if not 400 <= status < 500 or "json" not in headers.get("content-type", ""):
        return False
    try:
        doc = json.loads(payload)
    except ValueError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("message"), str) and bool(doc["message"])


def _state(daemon: Daemon) -> dict[str, str]:
    """What a leak would change: the objects the daemon lists."""
    return {
        kind: daemon.docker(*args).stdout
        for kind, args in {
            "containers": ("ps", "-aq", "--no-trunc"),
            "images": ("images", "-aq", "--no-trunc"),
            "volumes": ("volume", "ls", "-q"),
            "networks": ("network", "ls", "-q", "--no-trunc"),
        }.items()
    }


def _still_works(daemon: Daemon, before: dict[str, str]) -> None:
    res = daemon.docker("run", "--rm", BUSYBOX, "echo", "still-ok")
    assert res.stdout == "still-ok\n"
    assert _state(daemon) == before
    log = daemon.log.read_text(errors="replace")
    assert "unexpected error" not in log, log[-3000:]


def test_every_write_endpoint_refuses_malformed_bodies_with_4xx_json(
    daemon: Daemon, write_routes: list[tuple[str, str]]
) -> None:
    before = _state(daemon)
    missing = unique("missing")
    failures = []
    for method, pattern in write_routes:
        # bad filters too: the prune endpoints read nothing else (they ignore a body, as
        # dockerd's do), and a prune must not run here
        path = _fill(pattern, missing) + "?filters=%7Bbad"
        for body in BODIES:
            status, headers, payload = request(daemon, method, path, body)
            if not _is_docker_error(status, headers, payload):
                failures.append(f"{method} {path} {body[:20]!r}: {status} {payload[:200]!r}")
    assert not failures, "\n".join(failures)
    _still_works(daemon, before)


@pytest.fixture
def box(daemon: Daemon) -> Iterator[str]:
    name = unique("box")
    daemon.docker("run", "-d", "--name", name, BUSYBOX, "sleep", "300")
    try:
        yield name
    finally:
        daemon.docker("rm", "-f", name, check=False)


# a valid body per endpoint that takes JSON; each field is then given wrong JSON types
TEMPLATES: dict[str, dict[str, Any]] = {
    "/containers/create": {
        "Image": BUSYBOX, "Cmd": ["true"], "Entrypoint": ["sh"], "Env": ["A=1"],
        "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/v": {}},
        "WorkingDir": "/", "User": "root", "Tty": False, "StopSignal": "SIGTERM",
        "StopTimeout": 3, "Healthcheck": {"Test": ["NONE"], "Interval": 0},
        "Hostname": "h", "OnBuild": [], "Shell": ["sh"],
        "HostConfig": {
            "Memory": 0, "Binds": [], "PortBindings": {"80/tcp": [{"HostPort": ""}]},
            "RestartPolicy": {"Name": "no"}, "NetworkMode": "none", "Mounts": [],
            "CapAdd": [], "CapDrop": [], "Dns": [], "ExtraHosts": [], "Tmpfs": {},
            "Ulimits": [], "Devices": [], "LogConfig": {"Type": "json-file", "Config": {}},
            "Privileged": False, "AutoRemove": False, "CpuShares": 0, "PidsLimit": 0,
            "Sysctls": {}, "SecurityOpt": [], "ShmSize": 0, "VolumesFrom": [],
            "Init": False, "GroupAdd": [], "OomScoreAdj": 0, "ConsoleSize": [0, 0],
        },
        "NetworkingConfig": {"EndpointsConfig": {"none": {"Aliases": []}}},
    },
    "/containers/{box}/exec": {"Cmd": ["true"], "Env": ["A=1"], "User": "", "Tty": False,
                               "WorkingDir": "/", "Privileged": False},
    "/containers/{box}/update": {"Memory": 0, "CpuShares": 0, "PidsLimit": 0,
                                 "RestartPolicy": {"Name": "no"}, "BlkioWeight": 0},
    "/commit?container={box}&repo={image}": {"Cmd": ["true"], "Env": ["A=1"],
                                             "Labels": {"a": "b"}, "Entrypoint": ["sh"],
                                             "ExposedPorts": {"80/tcp": {}}, "Volumes": {}},
    "/volumes/create": {"Name": "{volume}", "Driver": "local", "DriverOpts": {},
                        "Labels": {"a": "b"}},
    "/networks/create": {"Name": "{network}", "Driver": "bridge", "Internal": False,
                         "Labels": {}, "Options": {}, "IPAM": {"Config": []}},
    "/networks/none/connect": {"Container": "{missing}", "EndpointConfig": {"Aliases": []}},
    "/networks/none/disconnect": {"Container": "{missing}", "Force": False},
}  # fmt: skip
WRONG: list[Any] = [5, "x", [1], {"a": 1}, True, 1.5]


def _paths(doc: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in doc.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


def _with(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(doc))
    at = copy
    for key in path[:-1]:
        at = at[key]
    at[path[-1]] = value
    return copy


def test_wrong_json_types_in_every_field_are_4xx_never_500(daemon: Daemon, box: str) -> None:
    before = _state(daemon)
    names = {"box": box, "image": unique("img"), "volume": unique("vol"),
             "network": unique("net"), "missing": unique("missing")}  # fmt: skip
    failures = []
    for pattern, template in TEMPLATES.items():
        path = pattern.format(**names)
        body = json.loads(json.dumps(template).replace("{volume}", names["volume"])
                          .replace("{network}", names["network"])
                          .replace("{missing}", names["missing"]))  # fmt: skip
        for field in _paths(body):
            for wrong in WRONG:
                status, headers, payload = request(daemon, "POST", path, json.dumps(
                    _with(body, field, wrong)).encode())  # fmt: skip
                if status >= 500 or (status >= 400 and not _is_docker_error(
                        status, headers, payload)):  # fmt: skip
                    failures.append(f"{path} {'.'.join(field)}={wrong!r}: {status} {payload!r}")
                elif status < 300:  # a value dockerd accepts too: undo what it made
                    _undo(daemon, path, payload, names)
    assert not failures, "\n".join(failures[:40])
    _still_works(daemon, before)


def _undo(daemon: Daemon, path: str, payload: bytes, names: dict[str, str]) -> None:
    if path.startswith("/containers/create"):  # with its anonymous volumes
        daemon.docker("rm", "-fv", json.loads(payload)["Id"], check=False)
    elif path.startswith("/commit"):
        daemon.docker("rmi", "-f", json.loads(payload)["Id"], check=False)
    elif path.startswith("/volumes/create"):
        daemon.docker("volume", "rm", json.loads(payload)["Name"], check=False)
    elif path.startswith("/networks/create"):
        daemon.docker("network", "rm", json.loads(payload)["Id"], check=False)


def test_refusals_users_meet_every_day(daemon: Daemon, box: str) -> None:
    """Unknown objects, a name conflict, rm of a running container, bad query values:
    Docker's status and message. (Attaching to a stopped container is refused by the
    CLI; the API waits for it to start, as dockerd's does.)"""
    cases = [
        ("POST", f"/containers/create?name={box}", json.dumps({"Image": BUSYBOX}), 409),
        ("POST", "/containers/create", json.dumps({"Image": "dyt-no-such:1"}), 404),
        ("DELETE", f"/containers/{box}", "", 409),
        ("GET", f"/containers/{unique()}/json", "", 404),
        ("GET", f"/images/{unique()}/json", "", 404),
        ("POST", f"/containers/{box}/kill?signal=SIGNOPE", "", 400),
        ("POST", f"/containers/{box}/wait?condition=sometime", "", 400),
        ("GET", f"/containers/{box}/logs?stdout=1&since=yesterday", "", 400),
    ]
    for method, path, body, expected in cases:
        status, headers, payload = request(daemon, method, path, body.encode())
        assert status == expected, (path, status, payload)
        assert _is_docker_error(status, headers, payload), (path, payload)


def _hang_up_after(daemon: Daemon, method: str, path: str, body: bytes, seconds: float) -> bytes:
    """Start a streaming request, read for a while, then close the connection."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(seconds)
    s.connect(str(daemon.sock))
    head = (
        f"{method} /v1.45{path} HTTP/1.1\r\nHost: dyt\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: application/x-tar\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    s.sendall(head.encode() + body)
    got = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except TimeoutError:
        pass
    s.close()
    return got


def _build_context(script: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        data = f"FROM {BUSYBOX}\nRUN {script}\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.timeout(240)
def test_clients_that_hang_up_mid_stream(daemon: Daemon, box: str) -> None:
    before = _state(daemon)
    noisy = unique("noisy")
    daemon.docker("run", "-d", "--name", noisy, BUSYBOX, "sh", "-c",
                  "while true; do echo tick; sleep 0.05; done")  # fmt: skip
    try:
        streams = [
            ("GET", f"/containers/{noisy}/logs?follow=1&stdout=1", b""),
            ("GET", "/events", b""),
            ("GET", f"/containers/{box}/stats", b""),
            ("POST", f"/containers/{noisy}/attach?stream=1&stdout=1&stderr=1", b""),
            ("POST", "/build?t=" + unique("hangup"), _build_context("sleep 30")),
        ]
        for method, path, body in streams:
            for _ in range(2):
                got = _hang_up_after(daemon, method, path, body, 1.0)
                assert got.startswith(b"HTTP/1.1 "), (path, got[:200])
                # the daemon answers at once after each hang-up
                assert request(daemon, "GET", "/_ping".replace("/v1.45", ""))[0] == 200
        # the abandoned builds stop: no build container is left running
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if daemon.docker("ps", "-aq").stdout.split() == _ids(daemon, box, noisy):
                break
            time.sleep(0.5)
        assert sorted(daemon.docker("ps", "-aq").stdout.split()) == _ids(daemon, box, noisy)
    finally:
        daemon.docker("rm", "-f", noisy, check=False)
    daemon.docker("builder", "prune", "-af", check=False)
    for image in daemon.docker("images", "-q", "--filter", "dangling=true").stdout.split():
        daemon.docker("rmi", "-f", image, check=False)
    _still_works(daemon, before)


def _ids(daemon: Daemon, *names: str) -> list[str]:
    return sorted(daemon.docker("inspect", "-f", "{{.Id}}", n).stdout.strip()[:12] for n in names)
