"""The container endpoints end to end: the real docker CLI, docker-py and the dockyard CLI
against a private dockyardd (``exec`` is not in scope here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"


def name() -> str:
    return unique()


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        try:
            for container in c.containers.list(all=True):  # a private daemon: all are ours
                container.remove(force=True)
        except docker.errors.APIError:
            pass
        c.close()


@pytest.fixture
def cleanup(daemon: Daemon) -> Iterator[list[str]]:
    """Names to remove (forced) at the end, even when the test failed."""
    names: list[str] = []
    try:
        yield names
    finally:
        for n in names:
            daemon.docker("rm", "-f", n, check=False, timeout=30)


def dockyard(
    daemon: Daemon, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    res = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        input=input,
    )
    if check and res.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)}: exit {res.returncode}: {res.stderr}")
    return res


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


# -- docker CLI ---------------------------------------------------------------------------


def test_docker_run_rm_echo(daemon: Daemon) -> None:
    res = daemon.docker("run", "--rm", BUSYBOX, "echo", "hi", timeout=60)
    assert res.stdout == "hi\n"
    assert daemon.docker("ps", "-aq").stdout.strip() == ""


def test_docker_run_exit_code(daemon: Daemon, cleanup: list[str]) -> None:
    n = name()
    cleanup.append(n)
    res = daemon.docker("run", "--name", n, BUSYBOX, "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3, res.stderr
    out = daemon.docker("ps", "-a", "--filter", f"name={n}", "--format", "{{.Status}}").stdout
    assert out.startswith("Exited (3)")


@pytest.mark.parametrize(("command", "code"), [("/no/such/cmd", 127), ("nosuchcmd", 127),
                                              ("/etc/passwd", 126)])  # fmt: skip
def test_docker_run_rm_of_a_command_that_cannot_run(
    daemon: Daemon, command: str, code: int
) -> None:
    """As with dockerd: 127 or 126 from the CLI, and --rm removes the container anyway."""
    res = daemon.docker("run", "--rm", BUSYBOX, command, check=False, timeout=60)
    assert res.returncode == code, res.stderr
    assert daemon.docker("ps", "-aq").stdout.strip() == ""


def test_docker_detached_lifecycle(daemon: Daemon, cleanup: list[str]) -> None:
    n = name()
    cleanup.append(n)
    cid = daemon.docker(
        "run", "-d", "--name", n, BUSYBOX, "sh", "-c", "echo started; sleep 30"
    ).stdout.strip()
    assert len(cid) == 64
    ps = daemon.docker("ps").stdout
    assert ps.splitlines()[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    row = next(line for line in ps.splitlines() if line.endswith(n))
    assert cid[:12] in row and " Up " in row
    wait_for(lambda: "started" in daemon.docker("logs", n).stdout)
    doc = json.loads(daemon.docker("inspect", n).stdout)[0]
    assert doc["State"]["Running"] is True and doc["Name"] == f"/{n}"
    daemon.docker("stop", "-t", "1", n, timeout=30)
    status = daemon.docker(
        "ps", "-a", "--filter", f"name={n}", "--format", "{{.Status}}"
    ).stdout.strip()
    assert status.startswith(("Exited (137)", "Exited (143)")), status
    assert daemon.docker("rm", n).stdout.strip() == n
    cleanup.remove(n)
    assert n not in daemon.docker("ps", "-a").stdout


def test_docker_run_i_with_piped_stdin(daemon: Daemon) -> None:
    res = daemon.docker("run", "--rm", "-i", BUSYBOX, "cat", input=b"piped through\n")
    assert res.stdout == "piped through\n"


def test_docker_bad_input_then_a_normal_run(daemon: Daemon, cleanup: list[str]) -> None:
    res = daemon.docker("run", "--rm", "dyt-no-such-image:latest", "true", check=False)
    assert res.returncode == 125
    assert "Unable to find image" in res.stderr
    missing = daemon.docker("start", "dyt-no-such-container", check=False)
    assert missing.returncode == 1 and "No such container" in missing.stderr
    n = name()
    cleanup.append(n)
    daemon.docker("run", "-d", "--name", n, BUSYBOX, "sleep", "30")
    refused = daemon.docker("rm", n, check=False)
    assert refused.returncode == 1
    assert daemon.docker("run", "--rm", BUSYBOX, "echo", "still fine").stdout == "still fine\n"


# -- raw API errors ---------------------------------------------------------------------------


def raw(daemon: Daemon, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(daemon.sock))
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        s.sendall(head.encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_text, _, rest = data.partition(b"\r\n\r\n")
    status = int(head_text.split()[1])
    if b"chunked" in head_text.lower():
        size_line, _, rest = rest.partition(b"\r\n")
        rest = rest[: int(size_line, 16)]
    return status, json.loads(rest) if rest.strip() else None


def test_api_errors(daemon: Daemon) -> None:
    status, doc = raw(daemon, "POST", "/v1.45/containers/create", b'{"Image":"dyt-nope"}')
    assert status == 404 and "No such image" in doc["message"]
    status, doc = raw(daemon, "POST", "/v1.45/containers/create", b"{not json")
    assert status == 400
    status, doc = raw(daemon, "POST", "/v1.45/containers/dyt-missing/start")
    assert status == 404 and "No such container" in doc["message"]


# -- docker-py --------------------------------------------------------------------------------


def test_docker_py_run_and_detached(client: Any) -> None:
    assert client.containers.run(BUSYBOX, "echo hi", remove=True) == b"hi\n"
    container = client.containers.run(
        BUSYBOX, ["sh", "-c", "echo ready; sleep 30"], detach=True, name=name()
    )
    try:
        wait_for(lambda: b"ready" in container.logs())
        container.reload()
        assert container.status == "running"
        container.stop(timeout=1)
        container.reload()
        assert container.status == "exited"
    finally:
        container.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container.id)


def test_docker_py_rm_of_a_running_container_is_a_conflict(client: Any) -> None:
    container = client.containers.run(BUSYBOX, "sleep 30", detach=True, name=name())
    try:
        with pytest.raises(docker.errors.APIError) as info:
            container.remove()
        assert info.value.status_code == 409
    finally:
        container.remove(force=True)


# -- the dockyard CLI -----------------------------------------------------------------------


def test_dockyard_cli_run_flows(daemon: Daemon, cleanup: list[str]) -> None:
    assert dockyard(daemon, "run", "--rm", BUSYBOX, "echo", "hi").stdout == "hi\n"
    res = dockyard(daemon, "run", "--rm", BUSYBOX, "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3
    piped = dockyard(daemon, "run", "--rm", "-i", BUSYBOX, "cat", input="from stdin\n")
    assert piped.stdout == "from stdin\n"
    n = name()
    cleanup.append(n)
    cid = dockyard(daemon, "run", "-d", "--name", n, BUSYBOX, "sh", "-c", "echo up; sleep 30")
    assert len(cid.stdout.strip()) == 64
    ps = dockyard(daemon, "ps").stdout
    assert ps.splitlines()[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"]
    assert any(line.endswith(n) and " Up " in line for line in ps.splitlines())
    wait_for(lambda: "up" in dockyard(daemon, "logs", n).stdout)
    doc = json.loads(dockyard(daemon, "inspect", n).stdout)[0]
    assert doc["Id"] == cid.stdout.strip()
    image_doc = json.loads(dockyard(daemon, "inspect", BUSYBOX).stdout)[0]
    assert image_doc["RepoTags"] == [BUSYBOX]
    assert dockyard(daemon, "stop", "-t", "1", n).stdout.strip() == n
    status = dockyard(daemon, "ps", "-a", "--filter", f"name={n}", "--format", "{{.Status}}")
    assert status.stdout.startswith(("Exited (137)", "Exited (143)"))
    assert dockyard(daemon, "wait", n).stdout.strip() in ("137", "143")
    assert dockyard(daemon, "rm", n).stdout.strip() == n
    cleanup.remove(n)
    missing = dockyard(daemon, "start", "dyt-missing", check=False)
    assert missing.returncode == 1 and "No such container" in missing.stderr
