"""``GET /events`` over a real in-process server: the replay with ``until`` in the past,
live events streamed as JSON lines, the end at ``until``, the subscriber dropped when the
client leaves, bad parameters; the message shape and the time parsing."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from dockyard.api.models.events import event_line, event_message
from dockyard.api.router import Router
from dockyard.api.routes import events as routes
from dockyard.engine.events import Event, EventLog
from dockyard.errors import InvalidArgument

from .httpclient import Client, ServerThread, read_chunk, read_head

NOW = 1_800_000_000 * 10**9
CID = "4f" * 32


# -- since / until ------------------------------------------------------------------------


def test_unix_seconds_with_a_fraction_as_the_docker_cli_sends_them() -> None:
    assert routes.parse_event_time("1700000000", "since", NOW) == 1_700_000_000 * 10**9
    assert routes.parse_event_time("1700000000.5", "since", NOW) == 1_700_000_000_500_000_000
    assert (
        routes.parse_event_time("1700000000.000000001", "until", NOW) == 1_700_000_000 * 10**9 + 1
    )
    assert routes.parse_event_time("", "since", NOW) == 0


def test_rfc3339_times() -> None:
    assert routes.parse_event_time("2023-11-14T22:13:20Z", "since", NOW) == 1_700_000_000 * 10**9
    got = routes.parse_event_time("2023-11-14T23:13:20.25+01:00", "since", NOW)
    assert got == 1_700_000_000_250_000_000


def test_durations_count_back_from_now() -> None:
    assert routes.parse_event_time("10m", "since", NOW) == NOW - 600 * 10**9
    assert routes.parse_event_time("1h30m", "since", NOW) == NOW - 5400 * 10**9
    assert routes.parse_event_time("1.5s", "since", NOW) == NOW - 1_500_000_000
    assert routes.parse_event_time("-2m", "until", NOW) == NOW + 120 * 10**9


def test_a_time_that_does_not_parse_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="query parameter since"):
        routes.parse_event_time("yesterday", "since", NOW)


# -- the message ---------------------------------------------------------------------------


def test_a_container_message_has_the_legacy_fields() -> None:
    event = Event("container", "start", CID, {"name": "web", "image": "busybox"}, NOW + 5)
    msg = event_message(event)
    assert list(msg) == [
        "status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano",
    ]  # fmt: skip
    assert msg["status"] == "start" and msg["id"] == CID and msg["from"] == "busybox"
    assert msg["Actor"] == {"ID": CID, "Attributes": {"image": "busybox", "name": "web"}}
    assert (msg["scope"], msg["time"], msg["timeNano"]) == ("local", NOW // 10**9, NOW + 5)


def test_an_image_message_has_no_from_and_a_volume_message_no_legacy_fields() -> None:
    image = event_message(Event("image", "tag", "sha256:ab", {"name": "x:y"}, NOW))
    assert image["status"] == "tag" and image["id"] == "sha256:ab" and "from" not in image
    volume = event_message(Event("volume", "create", "data", {"driver": "local"}, NOW))
    assert not {"status", "id", "from"} & set(volume)
    line = event_line(Event("volume", "create", "data", {}, NOW))
    assert line.endswith(b"}\n") and b" " not in line


# -- over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[ServerThread, EventLog]]:
    with tempfile.TemporaryDirectory(prefix="dyt-") as d:
        router = Router()
        server = ServerThread(router, Path(d) / "dyt.sock")
        log = EventLog()
        routes.register(router, log)
        try:
            yield server, log
        finally:
            server.stop()


def lines(body: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in body.splitlines()]


def wait_until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_until_in_the_past_answers_the_replay_and_ends(
    served: tuple[ServerThread, EventLog],
) -> None:
    server, log = served
    server.soon(log.emit, "container", "create", CID, {"name": "web"})
    server.soon(log.emit, "container", "start", CID, {"name": "web"})
    server.soon(log.emit, "image", "tag", "sha256:ab", {"name": "x:y"})
    wait_until(lambda: len(log.history()) == 3)
    until = f"{time.time():.9f}"
    client = Client(server.path)
    filters = quote(json.dumps({"type": {"container": True}}))
    reply = client.request("GET", f"/v1.45/events?since=0.5&until={until}&filters={filters}")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["transfer-encoding"] == "chunked"
    assert [m["Action"] for m in lines(reply.body)] == ["create", "start"]
    assert log.listeners == 0
    client.close()


def test_live_events_stream_until_the_client_leaves(
    served: tuple[ServerThread, EventLog],
) -> None:
    server, log = served
    client = Client(server.path)
    client.send(b"GET /v1.45/events HTTP/1.1\r\nHost: d\r\n\r\n")
    status_line, _ = read_head(client.file)  # the head comes before any event
    assert status_line.startswith("HTTP/1.1 200")
    assert log.listeners == 1
    server.soon(log.emit, "container", "die", CID, {"exitCode": "3"})
    chunk = read_chunk(client.file)
    assert chunk is not None
    message = json.loads(chunk)
    assert (message["Action"], message["Actor"]["Attributes"]) == ("die", {"exitCode": "3"})
    client.close()
    wait_until(lambda: log.listeners == 0)


def test_the_stream_ends_when_until_is_reached(served: tuple[ServerThread, EventLog]) -> None:
    server, log = served
    client = Client(server.path)
    until = f"{time.time() + 0.5:.9f}"
    client.send(f"GET /v1.45/events?until={until} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
    read_head(client.file)
    server.soon(log.emit, "container", "start", CID, {})
    chunk = read_chunk(client.file)
    assert chunk is not None and json.loads(chunk)["Action"] == "start"
    assert read_chunk(client.file) is None  # the last chunk, at until
    assert log.listeners == 0
    client.close()


def test_since_after_until_and_unknown_filters_are_400(
    served: tuple[ServerThread, EventLog],
) -> None:
    server, log = served
    client = Client(server.path)
    reply = client.request("GET", "/v1.45/events?since=20&until=10")
    assert reply.status == 400
    assert b"cannot be after" in reply.body
    filters = quote(json.dumps({"colour": ["red"]}))
    reply = client.request("GET", f"/v1.45/events?filters={filters}")
    assert reply.status == 400
    assert b"invalid filter 'colour'" in reply.body
    assert log.listeners == 0
    client.close()
