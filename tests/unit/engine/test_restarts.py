"""Restart policies: dockerd's decisions (restartmanager, ShouldRestart) and the timers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dockyard.engine.containerrecord import Container
from dockyard.engine.reconcile import restart_at_boot
from dockyard.engine.restarts import (
    FIRST_DELAY,
    MAX_DELAY,
    RestartPolicy,
    RestartTimers,
    check_policy,
    next_delay,
    should_restart,
)
from dockyard.errors import InvalidArgument


def policy(name: str, count: int = 0) -> dict[str, Any]:
    return {"RestartPolicy": {"Name": name, "MaximumRetryCount": count}}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ({}, {"Name": "no", "MaximumRetryCount": 0}),
        (policy(""), {"Name": "no", "MaximumRetryCount": 0}),
        (policy("always"), {"Name": "always", "MaximumRetryCount": 0}),
        (policy("unless-stopped"), {"Name": "unless-stopped", "MaximumRetryCount": 0}),
        (policy("on-failure"), {"Name": "on-failure", "MaximumRetryCount": 0}),
        (policy("on-failure", 3), {"Name": "on-failure", "MaximumRetryCount": 3}),
        ({"RestartPolicy": {"Name": "no"}, "AutoRemove": True}, None),
    ],
)
def test_check_policy_accepts_and_fills_in(given: dict[str, Any], stored: Any) -> None:
    hc = dict(given)
    check_policy(hc)
    want = stored or {"Name": "no", "MaximumRetryCount": 0}
    assert hc["RestartPolicy"] == want
    assert RestartPolicy.of(hc) == RestartPolicy(want["Name"], want["MaximumRetryCount"])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (policy("sometimes"), "unknown policy 'sometimes'"),
        (policy("always", 2), "maximum retry count can only be used with 'on-failure'"),
        (policy("no", -1), "and cannot be negative"),
        (policy("on-failure", -1), "maximum retry count cannot be negative"),
        ({"RestartPolicy": "always"}, "must be an object"),
        ({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": "2"}}, "an integer"),
        ({**policy("always"), "AutoRemove": True}, "Conflicting options: --restart and --rm"),
        ({**policy("on-failure", 1), "AutoRemove": True}, "--restart and --rm"),
    ],
)
def test_check_policy_refuses(given: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        check_policy(dict(given))
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("name", "count", "exit_code", "manual", "restarts", "want"),
    [
        ("no", 0, 1, False, 0, False),
        ("always", 0, 0, False, 0, True),
        ("always", 0, 0, True, 7, True),  # dockerd: always ignores a manual stop here
        ("unless-stopped", 0, 0, False, 3, True),
        ("unless-stopped", 0, 1, True, 0, False),
        ("on-failure", 0, 0, False, 0, False),
        ("on-failure", 0, 1, False, 100, True),  # 0: no limit
        ("on-failure", 2, 1, False, 1, True),
        ("on-failure", 2, 1, False, 2, False),
        ("on-failure", 2, 137, True, 0, True),  # manual stops do not count for on-failure
    ],
)
def test_should_restart(
    name: str, count: int, exit_code: int, manual: bool, restarts: int, want: bool
) -> None:
    got = should_restart(
        RestartPolicy(name, count),
        exit_code=exit_code,
        manually_stopped=manual,
        restart_count=restarts,
    )
    assert got is want


def test_back_off_doubles_up_to_a_minute_and_starts_over_after_a_long_run() -> None:
    delays = []
    previous = 0.0
    for _ in range(12):
        previous = next_delay(previous, ran_for=0.5)
        delays.append(previous)
    assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert delays[-1] == MAX_DELAY and max(delays) == MAX_DELAY
    assert next_delay(25.6, ran_for=9.9) == pytest.approx(51.2)
    assert next_delay(25.6, ran_for=10.0) == FIRST_DELAY


def decide(timers: RestartTimers, name: str, **kw: Any) -> float | None:
    args: dict[str, Any] = {
        "exit_code": 1,
        "manually_stopped": False,
        "restart_count": 0,
        "ran_for": 0.1,
    }
    args.update(kw)
    return timers.decide("c1", RestartPolicy(name, args.pop("limit", 0)), **args)


def test_timers_decide_back_off_per_container_and_explicit_stops() -> None:
    timers = RestartTimers()
    assert decide(timers, "always") == pytest.approx(0.1)
    assert decide(timers, "always") == pytest.approx(0.2)
    assert decide(timers, "always", ran_for=12) == pytest.approx(0.1)
    assert timers.decide(
        "c2",
        RestartPolicy("always"),
        exit_code=0,
        manually_stopped=False,
        restart_count=0,
        ran_for=0,
    ) == pytest.approx(0.1)
    timers.exit_on_next("c1")  # docker stop / kill: the next exit is final
    assert decide(timers, "always") is None
    assert decide(timers, "always") == pytest.approx(0.1)  # only that one, and fresh
    timers.exit_on_next("c1")
    timers.reset("c1")  # docker start clears the mark
    assert decide(timers, "always") == pytest.approx(0.1)
    assert decide(timers, "on-failure", exit_code=0) is None
    assert decide(timers, "on-failure", limit=2, restart_count=2) is None
    assert decide(timers, "no") is None


def test_timers_run_cancel_and_close() -> None:
    async def scenario() -> list[str]:
        timers = RestartTimers()
        done: list[str] = []

        async def action(tag: str) -> None:
            await asyncio.sleep(0.05)
            done.append(tag)

        timers.schedule("a", 0.01, lambda: action("a"))
        timers.schedule("b", 0.01, lambda: action("b"))
        timers.schedule("c", 5, lambda: action("c"))
        assert timers.pending("a") and timers.cancel("b") and not timers.cancel("b")
        await asyncio.sleep(0.03)  # a's action is under way, no longer pending
        assert not timers.pending("a") and not timers.cancel("a")
        await timers.close()  # waits for a, drops c
        assert not timers.pending("c")
        return done

    assert asyncio.run(scenario()) == ["a"]


def record(**kw: Any) -> Container:
    c = Container(
        id="f" * 64,
        name="/c",
        created="2026-11-27T00:00:00Z",
        created_unix=0.0,
        path="sh",
        args=[],
        config={},
        host_config={},
        image="sha256:" + "0" * 64,
        image_name="busybox",
        driver="overlay",
        status="exited",
        started_at="2026-11-27T00:00:01Z",
    )
    for key, value in kw.items():
        setattr(c, key, value)
    return c


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        ({"host_config": policy("always")}, True),
        ({"host_config": policy("always"), "manually_stopped": True}, True),
        ({"host_config": policy("always"), "started_at": "0001-01-01T00:00:00Z"}, False),
        (
            {
                "host_config": policy("always"),
                "status": "created",
                "started_at": "0001-01-01T00:00:00Z",
            },
            False,
        ),
        ({"host_config": policy("unless-stopped")}, True),
        ({"host_config": policy("unless-stopped"), "manually_stopped": True}, False),
        ({"host_config": policy("on-failure"), "exit_code": 0}, False),
        ({"host_config": policy("on-failure", 2), "exit_code": 3, "restart_count": 1}, True),
        ({"host_config": policy("on-failure", 2), "exit_code": 3, "restart_count": 2}, False),
        ({"host_config": policy("no"), "exit_code": 3}, False),
        ({"host_config": {}}, False),
    ],
)
def test_restart_at_daemon_start(kw: dict[str, Any], want: bool) -> None:
    assert restart_at_boot(record(**kw)) is want
