"""EventLog and EventFilter: the bounded history, subscribers that do not read, emits
from worker threads, the replay-then-live watch, dockerd's attributes and filters."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from dockyard.engine.containerrecord import Container
from dockyard.engine.eventfilter import EventFilter, strip_tag
from dockyard.engine.events import Event, EventLog
from dockyard.errors import InvalidArgument

CID = "4f" * 32


def container(**config: Any) -> Container:
    return Container(
        id=CID,
        name="/web",
        created="",
        created_unix=0.0,
        path="sh",
        args=[],
        config={"Image": "busybox", **config},
        host_config={},
        image="sha256:" + "1" * 64,
        image_name="busybox",
        driver="vfs",
    )


def test_history_keeps_the_last_events_in_order() -> None:
    log = EventLog(keep=3)
    for n in range(5):
        log.emit("container", "start", f"c{n}")
    kept = log.history()
    assert [e.actor_id for e in kept] == ["c2", "c3", "c4"]
    assert [e.time_nano for e in kept] == sorted({e.time_nano for e in kept})


def test_history_bounds_are_inclusive() -> None:
    log = EventLog()
    a, b, c = (log.emit("image", "tag", x) for x in "abc")
    assert log.history(b.time_nano) == [b, c]
    assert log.history(0, b.time_nano) == [a, b]
    assert log.history(b.time_nano, b.time_nano) == [b]


def test_a_subscriber_that_does_not_read_loses_the_oldest_events() -> None:
    async def run() -> list[str]:
        log = EventLog(queue_depth=2)
        queue = log.subscribe()
        for n in range(5):
            log.emit("container", "start", f"c{n}")
        got = [queue.get_nowait().actor_id for _ in range(queue.qsize())]
        log.unsubscribe(queue)
        assert log.listeners == 0
        return got

    assert asyncio.run(run()) == ["c3", "c4"]


def test_emit_from_a_worker_thread_reaches_the_subscribers() -> None:
    async def run() -> Event:
        log = EventLog()
        watch = log.watch()
        thread = threading.Thread(target=log.emit, args=("image", "load", "sha256:x"))
        thread.start()
        event = await asyncio.wait_for(anext(watch), 5)
        thread.join()
        await watch.aclose()
        return event

    event = asyncio.run(run())
    assert (event.type, event.action, event.actor_id) == ("image", "load", "sha256:x")


def test_watch_replays_then_streams_without_gap_or_duplicate() -> None:
    async def run() -> list[str]:
        log = EventLog()
        first = log.emit("container", "create", "a")
        watch = log.watch(since_nano=first.time_nano)
        log.emit("container", "start", "a")
        got = [(await anext(watch)).action for _ in range(2)]
        assert log.listeners == 1
        await watch.aclose()
        assert log.listeners == 0
        return got

    assert asyncio.run(run()) == ["create", "start"]


def test_watch_without_bounds_replays_nothing() -> None:
    async def run() -> str:
        log = EventLog()
        log.emit("container", "create", "old")
        watch = log.watch()
        log.emit("container", "create", "new")
        event = await anext(watch)
        await watch.aclose()
        return event.actor_id

    assert asyncio.run(run()) == "new"


def test_watch_with_until_in_the_past_is_the_replay_alone() -> None:
    async def run() -> tuple[list[str], int]:
        log = EventLog()
        log.emit("container", "create", "a")
        log.emit("container", "start", "a")
        watch = log.watch(until_nano=time.time_ns())
        got = [e.action async for e in watch]
        return got, log.listeners

    got, listeners = asyncio.run(run())
    assert got == ["create", "start"]
    assert listeners == 0  # never subscribed


def test_watch_ends_when_until_is_reached() -> None:
    async def run() -> tuple[list[str], float]:
        log = EventLog()
        until = time.time_ns() + 300_000_000
        watch = log.watch(since_nano=1, until_nano=until)
        log.emit("container", "start", "a")
        started = time.monotonic()
        got = [e.action async for e in watch]
        return got, time.monotonic() - started

    got, took = asyncio.run(run())
    assert got == ["start"]
    assert took < 5


def test_watch_applies_the_filter_to_replay_and_live_events() -> None:
    async def run() -> list[str]:
        log = EventLog()
        log.emit("image", "tag", "i1")
        log.emit("container", "create", "c1")
        watch = log.watch(since_nano=1, include=EventFilter.parse({"type": ["container"]}))
        log.emit("image", "untag", "i1")
        log.emit("container", "start", "c1")
        got = [(await anext(watch)).action for _ in range(2)]
        await watch.aclose()
        return got

    assert asyncio.run(run()) == ["create", "start"]


def test_close_ends_live_watches() -> None:
    async def run() -> list[Event]:
        log = EventLog()
        watch = log.watch()
        asyncio.get_running_loop().call_later(0.05, log.close)
        got = [e async for e in watch]
        assert log.listeners == 0
        return got

    assert asyncio.run(run()) == []


def test_container_events_carry_labels_image_and_name() -> None:
    log = EventLog()
    c = container(Labels={"tier": "web", "name": "label-loses"})
    event = log.container(c, "kill", {"signal": "15"})
    assert event.actor_id == CID
    assert event.attributes == {"tier": "web", "image": "busybox", "name": "web", "signal": "15"}


def test_container_exit_logs_oom_then_die_with_the_exit_code() -> None:
    log = EventLog()
    c = container()
    c.exit_code, c.oom_killed, c.started_unix, c.finished_unix = 137, True, 100.0, 103.5
    log.container_exit(c)
    oom, die = log.history()
    assert (oom.action, die.action) == ("oom", "die")
    assert die.attributes["exitCode"] == "137"
    assert die.attributes["execDuration"] == "3"


def test_image_removal_logs_untag_per_name_then_delete() -> None:
    log = EventLog()
    log.removed("sha256:ab", ["docker.io/library/a:1", "docker.io/library/b:2"], ["sha256:ab", "x"])
    log.removed("sha256:cd", ["docker.io/library/c:1"], [])
    got = [(e.action, e.actor_id, e.attributes["name"]) for e in log.history()]
    assert got == [
        ("untag", "sha256:ab", "sha256:ab"),
        ("untag", "sha256:ab", "sha256:ab"),
        ("delete", "sha256:ab", "sha256:ab"),
        ("untag", "sha256:cd", "sha256:cd"),
    ]


# -- filters ------------------------------------------------------------------------------


def ev(type: str, action: str, actor: str, **attributes: str) -> Event:
    return Event(type, action, actor, attributes, 1)


WEB_START = ev("container", "start", CID, name="web", image="busybox:latest", tier="front")
DB_DIE = ev("container", "die", "9a" * 32, name="db", image="postgres", exitCode="1")
TAG = ev("image", "tag", "sha256:" + "1" * 64, name="busybox:v1")
VOLUME = ev("volume", "create", "data", driver="local")
EXEC = ev("container", "exec_create: sh -c date", CID, name="web", image="busybox")


def matching(filters: dict[str, list[str]]) -> list[Event]:
    include = EventFilter.parse(filters)
    return [e for e in (WEB_START, DB_DIE, TAG, VOLUME, EXEC) if include(e)]


def test_no_filter_matches_everything() -> None:
    assert len(matching({})) == 5


def test_values_of_one_key_are_ored_and_keys_are_anded() -> None:
    assert matching({"event": ["start", "die"]}) == [WEB_START, DB_DIE]
    assert matching({"event": ["start", "die"], "container": ["db"]}) == [DB_DIE]
    assert matching({"type": ["image", "volume"]}) == [TAG, VOLUME]


def test_container_matches_id_or_name_by_prefix_and_drops_other_kinds() -> None:
    assert matching({"container": ["we"]}) == [WEB_START, EXEC]
    assert matching({"container": [CID[:12]]}) == [WEB_START, EXEC]
    assert matching({"volume": ["da"]}) == [VOLUME]


def test_image_matches_the_name_with_or_without_tag() -> None:
    assert matching({"image": ["busybox"]}) == [WEB_START, TAG, EXEC]
    assert matching({"image": ["busybox:latest"]}) == [WEB_START]
    assert matching({"image": ["sha256:" + "1" * 64]}) == [TAG]
    assert matching({"image": ["postgres:latest"]}) == []


def test_exec_actions_match_by_prefix() -> None:
    assert matching({"event": ["exec_create"]}) == [EXEC]
    assert matching({"event": ["exec"]}) == []


def test_every_label_given_must_be_on_the_event() -> None:
    assert matching({"label": ["tier"]}) == [WEB_START]
    assert matching({"label": ["tier=front"]}) == [WEB_START]
    assert matching({"label": ["tier=back"]}) == []
    assert matching({"label": ["tier=front", "exitCode"]}) == []


def test_scope_and_daemon_filters() -> None:
    assert len(matching({"scope": ["local"]})) == 5
    assert matching({"scope": ["swarm"]}) == []
    assert matching({"daemon": ["nope"]}) == []


def test_an_unknown_filter_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        EventFilter.parse({"colour": ["red"]})


def test_strip_tag() -> None:
    assert strip_tag("busybox:latest") == "busybox"
    assert strip_tag("docker.io/library/busybox:1.36") == "busybox"
    assert strip_tag("localhost:5000/team/app:v2") == "localhost:5000/team/app"
    assert strip_tag("sha256:abc") == "sha256:abc"
    assert strip_tag("Not A Name") == "Not A Name"
