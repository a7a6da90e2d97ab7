"""The pure side of container healthchecks: the probe settings, the state machine, the
probe's output buffer and the texts, as dockerd's (``daemon/health.go``).

A container's ``Config.Healthcheck`` is the image's, overridden field by field by the
create body's (``merge_healthcheck``); ``Test`` ``["NONE"]`` turns it off. ``Settings``
are the effective values (0 takes dockerd's defaults: interval 30 s, timeout 30 s, start
period 0, start interval 5 s, 3 retries).

The state lives on the container record as ``health`` (``None``: no healthcheck ran):
``{"status", "failing_streak", "log": [{"start", "end", "exit_code", "output"}]}``.
``record`` applies one probe's result: a success makes it ``healthy``; a failure counts
unless it comes during the start period while still ``starting``; ``retries``
consecutive failures make it ``unhealthy``. The log keeps the last 5 results. A stopped
(or paused) container's status reads ``unhealthy``, as dockerd's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

SECOND = 1_000_000_000  # ns
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MINIMUM_DURATION = 1_000_000  # 1 ms: dockerd refuses shorter non-zero durations
MAX_OUTPUT = 4096  # bytes of a probe's output kept
MAX_LOG = 5  # results kept in State.Health.Log

STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
NONE = "none"

_DURATIONS = ("Interval", "Timeout", "StartPeriod", "StartInterval")
_FIELDS = (*_DURATIONS, "Retries")


def check_healthcheck(given: Any) -> None:
    """dockerd's ``validateHealthCheck`` of a create body's ``Healthcheck``."""
    if not isinstance(given, Mapping):
        return
    for key in _DURATIONS:
        value = int(given.get(key) or 0)
        if value != 0 and value < MINIMUM_DURATION:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if int(given.get("Retries") or 0) < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")


def merge_healthcheck(image: Any, given: Any) -> dict[str, Any] | None:
    """The container's ``Healthcheck``: the create body's, its empty ``Test`` and zero
    fields taken from the image's (dockerd's ``merge``); the image's when none is given."""
    check_healthcheck(given)
    if not isinstance(image, Mapping) or not image:
        return dict(given) if isinstance(given, Mapping) else None
    if not isinstance(given, Mapping):
        return dict(image)
    merged = dict(given)
    if not merged.get("Test"):
        merged["Test"] = image.get("Test")
    for key in _FIELDS:
        if not merged.get(key) and image.get(key):
            merged[key] = image[key]
    return merged


@dataclass(frozen=True)
class Settings:
    """A container's effective probe: its command and timings (seconds, and the timeout
    in ns for dockerd's message)."""

    command: tuple[str, ...]
    interval: float
    timeout: float
    timeout_ns: int
    start_period: float
    start_interval: float
    retries: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Settings | None:
        """None when the container has no healthcheck (none, ``NONE``, an unknown kind)."""
        hc = config.get("Healthcheck")
        if not isinstance(hc, Mapping):
            return None
        test = [str(t) for t in hc.get("Test") or []]
        if not test or test[0] not in ("CMD", "CMD-SHELL") or len(test) < 2:
            return None
        command = test[1:]
        if test[0] == "CMD-SHELL":  # the container's SHELL, else /bin/sh -c
            shell = [str(s) for s in config.get("Shell") or []] or ["/bin/sh", "-c"]
            command = [*shell, *command]

        def ns(key: str, default: int) -> int:
            return int(hc.get(key) or 0) or default

        timeout = ns("Timeout", DEFAULT_TIMEOUT)
        return cls(
            command=tuple(command),
            interval=ns("Interval", DEFAULT_INTERVAL) / SECOND,
            timeout=timeout / SECOND,
            timeout_ns=timeout,
            start_period=ns("StartPeriod", DEFAULT_START_PERIOD) / SECOND,
            start_interval=ns("StartInterval", DEFAULT_START_INTERVAL) / SECOND,
            retries=max(0, int(hc.get("Retries") or 0)) or DEFAULT_RETRIES,
        )

    def next_wait(self, since_start: float, status: str) -> float:
        """Seconds to the next probe (dockerd's ``getInterval``): the start interval while
        starting inside the start period, and a probe right when the period ends."""
        if since_start >= self.start_period:
            return self.interval
        remaining = self.start_period - since_start
        if remaining < self.interval:
            return remaining
        return self.start_interval if status == STARTING else self.interval


def starting(health: Mapping[str, Any] | None) -> dict[str, Any]:
    """The state at a (re)start or a live restore: starting, no streak, the log kept."""
    log = list((health or {}).get("log") or [])
    return {"status": STARTING, "failing_streak": 0, "log": log}


def stopped(health: dict[str, Any] | None) -> None:
    """The monitor stopped (exit, pause): dockerd then reports unhealthy."""
    if health is not None:
        health["status"] = UNHEALTHY


def record(
    health: dict[str, Any], result: dict[str, Any], settings: Settings, since_start: float
) -> str | None:
    """Apply one result (``start``, ``end``, ``exit_code``, ``output``); ``since_start``
    is the probe's start in seconds after the container's. The new status if it changed."""
    old = health.get("status") or UNHEALTHY
    health["log"] = [*(health.get("log") or []), result][-MAX_LOG:]
    if result["exit_code"] == 0:
        health["failing_streak"] = 0
        health["status"] = HEALTHY
    elif not (old == STARTING and since_start < settings.start_period):
        health["failing_streak"] = int(health.get("failing_streak") or 0) + 1
        if health["failing_streak"] >= settings.retries:
            health["status"] = UNHEALTHY
    new = str(health.get("status") or UNHEALTHY)
    return new if new != old else None


def status_of(health: Mapping[str, Any] | None) -> str:
    """What the ``health`` filter of ``ps`` matches: none without a healthcheck."""
    if health is None:
        return NONE
    return str(health.get("status") or UNHEALTHY)


def status_suffix(health: Mapping[str, Any] | None) -> str:
    """The suffix of ps's ``Up 3 seconds``: `` (healthy)``, `` (health: starting)``."""
    if health is None:
        return ""
    status = status_of(health)
    return f" (health: {status})" if status == STARTING else f" ({status})"


class OutputBuffer:
    """A probe's stdout and stderr: the first 4096 bytes, then ``...`` if there was more."""

    def __init__(self, limit: int = MAX_OUTPUT) -> None:
        self._data = bytearray()
        self._limit = limit
        self.truncated = False

    def write(self, data: bytes) -> None:
        room = self._limit - len(self._data)
        if room > 0:
            self._data += data[:room]
        if len(data) > max(room, 0):
            self.truncated = True

    def text(self) -> str:
        out = bytes(self._data).decode(errors="replace")  # Go's JSON replaces bad UTF-8
        return out + "..." if self.truncated else out


def timeout_message(timeout_ns: int, output: str) -> str:
    """dockerd's output of a probe that ran past its timeout."""
    head = f"Health check exceeded timeout ({go_duration(timeout_ns)})"
    return f"{head}: {output}" if output else head


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``200ms``, ``1.5s``, ``1m0s``, ``1h0m0s``."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)
    if u < SECOND:
        size, unit = next((s, n) for s, n in ((1_000_000, "ms"), (1000, "µs"), (1, "ns")) if u >= s)
        return sign + _fraction(u, size) + unit
    hours, rest = divmod(u, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return sign + text + _fraction(rest, SECOND) + "s"


def _fraction(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    digits = str(frac).rjust(len(str(size)) - 1, "0").rstrip("0") if size > 1 else ""
    return f"{whole}.{digits}" if digits else str(whole)
