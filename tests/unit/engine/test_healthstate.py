"""Healthchecks' pure side (``engine/healthstate.py``): the config merge of create over
the image, the settings and their defaults, the state machine of probe results, the
output buffer and dockerd's texts; and what a container without a healthcheck costs the
monitor (``engine/health.py``): nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.api.models.containers import container_inspect, health_doc
from dockyard.engine import healthstate as hs
from dockyard.engine.containerrecord import Container
from dockyard.engine.health import HealthMonitors
from dockyard.engine.specgen import merge_config
from dockyard.errors import InvalidArgument

MS = 1_000_000
IMAGE = {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 5 * hs.SECOND, "Retries": 4}


def test_create_fields_over_the_image_fields() -> None:
    assert merge_config({"Healthcheck": IMAGE}, {})["Healthcheck"] == IMAGE
    given = {"Timeout": 2 * hs.SECOND, "Interval": 0}
    assert merge_config({"Healthcheck": IMAGE}, {"Healthcheck": given})["Healthcheck"] == {
        **IMAGE,
        "Timeout": 2 * hs.SECOND,
    }
    replaced = {"Test": ["CMD", "true"]}
    assert hs.merge_healthcheck(IMAGE, replaced) == {**IMAGE, "Test": ["CMD", "true"]}
    assert hs.merge_healthcheck(IMAGE, {"Test": ["NONE"]})["Test"] == ["NONE"]
    assert hs.merge_healthcheck(None, {"Test": ["CMD", "x"]}) == {"Test": ["CMD", "x"]}
    assert "Healthcheck" not in merge_config({}, {})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"Interval": MS - 1}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"Timeout": 10}, "Timeout in Healthcheck cannot be less than 1ms"),
        ({"StartPeriod": 5}, "StartPeriod in Healthcheck cannot be less than 1ms"),
        ({"StartInterval": 5}, "StartInterval in Healthcheck cannot be less than 1ms"),
        ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ],
)
def test_create_refuses_what_dockerd_refuses(given: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        merge_config({}, {"Healthcheck": given})


def test_settings_defaults_shell_and_no_probe() -> None:
    s = hs.Settings.of({"Healthcheck": {"Test": ["CMD-SHELL", "true"]}})
    assert s is not None
    assert s.command == ("/bin/sh", "-c", "true")
    assert (s.interval, s.timeout, s.start_period, s.start_interval, s.retries) == (
        30.0, 30.0, 0.0, 5.0, 3,
    )  # fmt: skip
    shell = hs.Settings.of({"Healthcheck": {"Test": ["CMD-SHELL", "x"]}, "Shell": ["bash", "-c"]})
    assert shell is not None and shell.command == ("bash", "-c", "x")
    direct = hs.Settings.of({"Healthcheck": {"Test": ["CMD", "a", "b"], "Timeout": 300 * MS}})
    assert direct is not None and direct.command == ("a", "b") and direct.timeout == 0.3
    for hc in (None, {"Test": ["NONE"]}, {"Test": []}, {"Test": ["WHAT", "x"]}, {"Test": ["CMD"]}):
        assert hs.Settings.of({"Healthcheck": hc}) is None


def settings(**kw: Any) -> hs.Settings:
    base: dict[str, Any] = {"Test": ["CMD", "true"]}
    base.update(kw)
    s = hs.Settings.of({"Healthcheck": base})
    assert s is not None
    return s


def result(code: int) -> dict[str, Any]:
    return {"start": "s", "end": "e", "exit_code": code, "output": ""}


def test_starting_unhealthy_healthy_and_the_events() -> None:
    s = settings(Retries=2)
    h = hs.starting(None)
    assert hs.record(h, result(1), s, 10) is None
    assert (h["status"], h["failing_streak"]) == ("starting", 1)
    assert hs.record(h, result(1), s, 11) == "unhealthy"
    assert hs.record(h, result(1), s, 12) is None  # no new event while it stays
    assert h["failing_streak"] == 3
    assert hs.record(h, result(0), s, 13) == "healthy"
    assert h["failing_streak"] == 0
    assert hs.record(h, result(2), s, 14) is None  # healthy until Retries failures
    assert hs.record(h, result(-1), s, 15) == "unhealthy"


def test_failures_in_the_start_period_do_not_count_while_starting() -> None:
    s = settings(Retries=1, StartPeriod=10 * hs.SECOND)
    h = hs.starting(None)
    assert hs.record(h, result(1), s, 3.0) is None
    assert (h["status"], h["failing_streak"]) == ("starting", 0)
    assert hs.record(h, result(0), s, 4.0) == "healthy"
    assert hs.record(h, result(1), s, 5.0) == "unhealthy"  # healthy once: it counts
    fresh = hs.starting(None)
    assert hs.record(fresh, result(1), s, 10.5) == "unhealthy"  # the period is over


def test_log_keeps_five_and_a_restart_keeps_the_log() -> None:
    s = settings()
    h = hs.starting(None)
    for code in range(8):
        hs.record(h, result(code), s, 100)
    assert [r["exit_code"] for r in h["log"]] == [3, 4, 5, 6, 7]
    hs.stopped(h)
    assert h["status"] == "unhealthy"
    again = hs.starting(h)
    assert again == {"status": "starting", "failing_streak": 0, "log": h["log"]}
    hs.stopped(None)  # no healthcheck: nothing to stop


def test_next_wait_follows_dockerd() -> None:
    s = settings(Interval=10 * hs.SECOND, StartPeriod=60 * hs.SECOND, StartInterval=hs.SECOND)
    assert s.next_wait(0, "starting") == 1.0  # the start interval in the start period
    assert s.next_wait(0, "healthy") == 10.0
    assert s.next_wait(55, "starting") == 5.0  # a probe right when the period ends
    assert s.next_wait(61, "starting") == 10.0
    assert settings().next_wait(0, "starting") == 30.0  # no start period


def test_output_buffer_cuts_at_4096_bytes() -> None:
    buf = hs.OutputBuffer()
    buf.write(b"a" * 4000)
    buf.write(b"b" * 96)
    assert buf.text() == "a" * 4000 + "b" * 96 and not buf.truncated
    buf.write(b"c")
    assert buf.text().endswith("b...") and len(buf.text()) == 4099
    bad = hs.OutputBuffer()
    bad.write(b"ok \xff\n")
    assert bad.text() == "ok \ufffd\n"


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"), (300 * MS, "300ms"), (1500 * MS, "1.5s"), (30 * hs.SECOND, "30s"),
        (60 * hs.SECOND, "1m0s"), (90 * hs.SECOND, "1m30s"), (3600 * hs.SECOND, "1h0m0s"),
        (1500, "1.5µs"), (12, "12ns"), (1_250_000, "1.25ms"),
    ],
)  # fmt: skip
def test_go_duration_text(ns: int, text: str) -> None:
    assert hs.go_duration(ns) == text


def test_texts_of_ps_and_inspect() -> None:
    assert hs.timeout_message(300 * MS, "") == "Health check exceeded timeout (300ms)"
    assert hs.timeout_message(hs.SECOND, "hi\n") == "Health check exceeded timeout (1s): hi\n"
    assert hs.status_suffix(None) == ""
    assert hs.status_suffix({"status": "starting"}) == " (health: starting)"
    assert hs.status_suffix({"status": "healthy"}) == " (healthy)"
    assert hs.status_of(None) == "none"
    doc = health_doc({"status": "healthy", "failing_streak": 0, "log": [result(0)]})
    assert doc == {
        "Status": "healthy",
        "FailingStreak": 0,
        "Log": [{"Start": "s", "End": "e", "ExitCode": 0, "Output": ""}],
    }


def container(config: dict[str, Any], **kw: Any) -> Container:
    return Container(
        id="c" * 64, name="/web", created="", created_unix=0.0, path="sleep", args=["9"],
        config=config, host_config={}, image="sha256:" + "0" * 64, image_name="busybox",
        driver="vfs", **kw,
    )  # fmt: skip


def test_the_record_shows_in_ps_and_inspect(tmp_path: Path) -> None:
    c = container({}, status="running", started_unix=100.0)
    assert c.view(tmp_path, now=103).status_text == "Up 3 seconds"
    assert "Health" not in container_inspect(c.view(tmp_path))["State"]
    c.health = hs.starting(None)
    assert c.view(tmp_path, now=103).status_text == "Up 3 seconds (health: starting)"
    c.save(tmp_path)
    loaded = Container.load(tmp_path)
    assert loaded.health == c.health
    state = container_inspect(loaded.view(tmp_path))["State"]
    assert state["Health"] == {"Status": "starting", "FailingStreak": 0, "Log": []}
    c.status = "paused"
    assert c.view(tmp_path, now=103).status_text == "Up 3 seconds (Paused)"


class FakeService:
    """What HealthMonitors reads of the container service, for the no-probe paths."""

    events = None


def test_no_healthcheck_no_task() -> None:
    async def scenario() -> tuple[int, int, Any, Any]:
        monitors = HealthMonitors(FakeService())  # type: ignore[arg-type]
        plain = [container({}, status="running") for _ in range(20)]
        off = container({"Healthcheck": {"Test": ["NONE"]}}, status="running")
        for c in [*plain, off]:
            monitors.started(c)
        idle = monitors.watching()
        probed = container({"Healthcheck": {"Test": ["CMD", "true"]}}, status="running")
        monitors.started(probed)
        busy = monitors.watching()
        monitors.exited(probed)
        await monitors.close()
        return idle, busy, plain[0].health, probed.health

    idle, busy, plain_health, probed_health = asyncio.run(scenario())
    assert (idle, busy) == (0, 1)
    assert plain_health is None
    assert probed_health == {"status": "unhealthy", "failing_streak": 0, "log": []}


class CreateRecorder:
    """The create backend of ``POST /containers/create``, keeping the bodies it got."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def create(self, body: dict[str, Any], name: str | None) -> tuple[str, list[str]]:
        self.bodies.append(body)
        return "0" * 64, []


def test_start_interval_is_ignored_before_api_1_44() -> None:
    from dockyard.api.router import Request, Router
    from dockyard.api.routes import containers as routes

    async def create(version: str | None) -> dict[str, Any]:
        backend = CreateRecorder()
        router = Router()
        routes.register(router, backend)  # type: ignore[arg-type]
        found = router.match("POST", "/containers/create")
        assert found is not None
        hc = {"Test": ["CMD", "true"], "StartInterval": 2 * hs.SECOND}
        raw = json.dumps({"Image": "busybox", "Healthcheck": hc}).encode()

        async def body() -> Any:
            yield raw

        await found[0](Request("POST", "/containers/create", version, {}, {}, body()))
        return backend.bodies[0]["Healthcheck"]

    assert "StartInterval" not in asyncio.run(create("1.43"))
    assert asyncio.run(create("1.44"))["StartInterval"] == 2 * hs.SECOND
    assert asyncio.run(create(None))["StartInterval"] == 2 * hs.SECOND
