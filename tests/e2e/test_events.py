"""Events end to end: the real docker CLI (``docker events`` with since/until/filters, a
live stream that sees what happens after it connected), docker-py's ``events()`` and the
dockyard CLI, against a private dockyardd."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker  # docker-py, a dev dependency
import pytest

from dockyard.testing.daemon import DOCKER, Daemon
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")

# docker's default line: local RFC 3339 time with nanoseconds, type, action, actor, attributes
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(?:Z|[+-]\d\d:\d\d) "
    r"(?P<type>\w+) (?P<action>[\w:]+) (?P<actor>\S+)(?: \((?P<attrs>.*)\))?$"
)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        for container in c.containers.list(all=True):  # a private daemon: all are ours
            container.remove(force=True)
        c.close()


def now() -> str:
    return f"{time.time():.9f}"


def settle() -> str:
    """A moment for the last event to be recorded, then ``until`` as unix seconds."""
    time.sleep(0.3)
    return now()


def parse(stdout: str) -> list[tuple[str, str, str, dict[str, str]]]:
    out = []
    for line in stdout.splitlines():
        found = LINE.match(line)
        assert found, f"not docker's event line: {line!r}"
        attrs = dict(
            item.split("=", 1) for item in (found["attrs"] or "").split(", ") if "=" in item
        )
        out.append((found["type"], found["action"], found["actor"], attrs))
    return out


def listeners(daemon: Daemon) -> int:
    return int(daemon.docker("info", "--format", "{{.NEventsListener}}").stdout.strip())


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_docker_events_replays_a_run_rm_in_order(daemon: Daemon) -> None:
    name = unique()
    since = now()
    daemon.docker("run", "--rm", "--name", name, "--label", "team=blue", "busybox", "true")
    until = settle()
    res = daemon.docker(
        "events", "--since", since, "--until", until, "--filter", f"container={name}"
    )
    events = parse(res.stdout)
    assert [(t, a) for t, a, _, _ in events] == [
        ("container", "create"),
        ("container", "attach"),
        ("container", "start"),
        ("container", "die"),
        ("container", "destroy"),
    ]
    assert len({actor for _, _, actor, _ in events}) == 1
    for _, _, actor, attrs in events:
        assert re.fullmatch(r"[0-9a-f]{64}", actor)
        assert attrs["name"] == name and attrs["image"] == "busybox" and attrs["team"] == "blue"
    assert events[3][3]["exitCode"] == "0"

    # filters: keys ANDed, values of one key ORed; a filter on another kind drops it all
    res = daemon.docker(
        "events", "--since", since, "--until", until,
        "--filter", "event=start", "--filter", "event=die", "--filter", "label=team=blue",
    )  # fmt: skip
    assert [a for _, a, _, _ in parse(res.stdout)] == ["start", "die"]
    res = daemon.docker("events", "--since", since, "--until", until, "--filter", "type=image")
    assert res.stdout == ""
    res = daemon.docker(
        "events", "--since", since, "--until", until, "--filter", "image=busybox",
        "--format", "{{.Status}} {{.From}} {{.Actor.Attributes.name}}",
    )  # fmt: skip
    lines = res.stdout.splitlines()
    assert lines[0] == f"create busybox {name}" and len(lines) == 5


def test_a_live_docker_events_sees_what_happens_after_it_connected(daemon: Daemon) -> None:
    name = unique()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(daemon.dir / "docker-config")
    proc = subprocess.Popen(
        [DOCKER, "-H", daemon.url, "events", "--filter", "event=start", "--format", "{{json .}}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: listeners(daemon) == 1)
        daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "30")
        line = lines.get(timeout=15)
        message = json.loads(line)
        assert message["Type"] == "container" and message["Action"] == "start"
        assert message["status"] == "start" and message["from"] == "busybox"
        assert message["Actor"]["Attributes"]["name"] == name
        assert message["scope"] == "local" and message["timeNano"] // 10**9 == message["time"]
    finally:
        proc.kill()
        proc.wait(10)
        reader.join(5)
        stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
        daemon.docker("rm", "-f", name, check=False)
    wait_for(lambda: listeners(daemon) == 0)  # the daemon dropped the subscriber
    assert daemon.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()


def test_docker_py_events_with_since_and_until(daemon: Daemon, client: Any) -> None:
    tag = f"{unique()}:v1"
    since = time.time()
    client.images.get("busybox:latest").tag(tag)
    client.images.remove(tag)
    container = client.containers.run(
        "busybox", ["sh", "-c", "exit 3"], detach=True, labels={"team": "red"}
    )
    container.wait(timeout=30)
    container.remove()
    time.sleep(0.3)
    until = time.time()

    events = list(client.events(decode=True, since=since, until=until))
    actions = [(e["Type"], e["Action"]) for e in events]
    assert actions == [
        ("image", "tag"),
        ("image", "untag"),
        ("container", "create"),
        ("container", "start"),
        ("container", "die"),
        ("container", "destroy"),
    ]
    tagged = events[0]
    assert tagged["Actor"]["Attributes"]["name"] == tag
    assert tagged["id"] == tagged["Actor"]["ID"] and tagged["Actor"]["ID"].startswith("sha256:")
    die = events[4]
    assert die["Actor"]["Attributes"]["exitCode"] == "3"
    assert die["Actor"]["Attributes"]["team"] == "red"
    assert die["id"] == container.id and die["from"] == "busybox"

    only = list(client.events(decode=True, since=since, until=until, filters={"event": "die"}))
    assert [e["Action"] for e in only] == ["die"]


def test_dockyard_events_shows_the_lifecycle_verbs(daemon: Daemon) -> None:
    first, second = unique(), unique()
    since = now()
    daemon.docker("run", "-d", "--name", first, "busybox", "sleep", "30")
    daemon.docker("pause", first)
    daemon.docker("unpause", first)
    daemon.docker("rename", first, second)
    daemon.docker("stop", "-t", "1", second)  # sleep as pid 1 ignores SIGTERM: then SIGKILL
    daemon.docker("rm", second)
    until = settle()
    fmt = "{{.Action}} {{.Actor.Attributes.signal}} {{.Actor.Attributes.oldName}}"
    res = dockyard(daemon, "events", "--since", since, "--until", until, "--format", fmt)
    assert res.stdout.splitlines() == [
        "create <no value> <no value>",
        "start <no value> <no value>",
        "pause <no value> <no value>",
        "unpause <no value> <no value>",
        f"rename <no value> /{first}",
        "kill 15 <no value>",
        "kill 9 <no value>",
        "die <no value> <no value>",
        "stop <no value> <no value>",
        "destroy <no value> <no value>",
    ]
    res = dockyard(daemon, "system", "events", "--since", since, "--until", until,
                   "-f", "event=die")  # fmt: skip
    (event,) = parse(res.stdout)
    assert event[1] == "die" and event[3]["name"] == second and event[3]["exitCode"] == "137"


def dockyard(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    res = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert res.returncode == 0, f"dockyard {' '.join(args)}: exit {res.returncode}: {res.stderr}"
    return res
