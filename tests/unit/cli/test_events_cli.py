"""``dockyard events`` against a canned daemon: the query it sends (since/until as unix
seconds, filters as JSON), docker's default line, ``--format`` templates and ``json``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from dockyard.cli import events as cli
from dockyard.cli.main import main

from .fakedaemon import FakeDaemon

CID = "4f" * 32
# 2026-11-27T20:00:00.000000123Z
NANO = 1_795_809_600 * 10**9 + 123
START = {
    "status": "start",
    "id": CID,
    "from": "busybox",
    "Type": "container",
    "Action": "start",
    "Actor": {"ID": CID, "Attributes": {"name": "x", "image": "busybox", "a<b": "c&d"}},
    "scope": "local",
    "time": NANO // 10**9,
    "timeNano": NANO,
}
TAG = {
    "Type": "image",
    "Action": "tag",
    "Actor": {"ID": "sha256:ab", "Attributes": {}},
    "scope": "local",
    "time": NANO // 10**9,
    "timeNano": NANO,
}


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def body() -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in (START, TAG))


def test_default_line_is_dockers(
    utc: None, fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/events", body=body())
    assert main(["-H", host, "events", "--since", "1700000000", "--until", "10m"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"2026-11-27T20:00:00.000000123Z container start {CID} (a<b=c&d, image=busybox, name=x)",
        "2026-11-27T20:00:00.000000123Z image tag sha256:ab",
    ]
    _, path, query, _ = fake.requests[-1]
    assert path.endswith("/events")
    assert query["since"] == ["1700000000"]
    assert abs(float(query["until"][0]) - (time.time() - 600)) < 30
    assert "filters" not in query


def test_filters_are_sent_as_json(fake: FakeDaemon, host: str) -> None:
    fake.route("GET", "/events", body=b"")
    argv = ["-H", host, "system", "events", "-f", "type=container", "--filter", "event=die"]
    argv += ["-f", "event=start"]
    assert main(argv) == 0
    _, _, query, _ = fake.requests[-1]
    assert json.loads(query["filters"][0]) == {"type": ["container"], "event": ["die", "start"]}


def test_format_templates_read_go_field_names(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/events", body=body())
    fmt = "{{.Status}}|{{.ID}}|{{.From}}|{{.Type}}|{{.Action}}|{{.Actor.Attributes.name}}"
    assert main(["-H", host, "events", "--format", fmt]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"start|{CID}|busybox|container|start|x",
        "|||image|tag|<no value>",
    ]


def test_json_prints_the_message_as_sent(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/events", body=body())
    assert main(["-H", host, "events", "--format", "{{json .}}"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert json.loads(first) == START
    assert first.startswith('{"status":"start","id":')
    assert "\\u003c" in first and "\\u0026" in first  # Go's HTML escaping
    assert json.loads(second) == TAG


def test_a_bad_template_fails_before_connecting(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-H", host, "events", "--format", "{{.Nope"]) != 0
    assert not [r for r in fake.requests if r[1].endswith("/events")]
    assert capsys.readouterr().err


def test_rfc3339_nano_uses_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    try:
        assert cli.rfc3339_nano(NANO) == "2026-11-27T21:00:00.000000123+01:00"
    finally:
        monkeypatch.undo()
        time.tzset()
