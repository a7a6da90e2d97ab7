"""``GET /events``: the event history and the live events, as newline-delimited JSON.

``since`` and ``until`` take what the docker CLI sends (unix seconds with an optional
fraction, ``1700000000.123456789``) and, for other clients, RFC 3339 times and Go
durations counted back from now (``10m``, ``1h30m``). With ``until`` in the past the
answer is the replay alone; otherwise the stream stays open for live events until
``until`` is reached or the client goes away (the server then closes the body, which
ends the subscription).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from dockyard.api.filters import parse_filters
from dockyard.api.models.events import event_line
from dockyard.api.router import Request, Response, Router, stream
from dockyard.engine.eventfilter import EventFilter
from dockyard.engine.events import EventLog, EventWatch
from dockyard.errors import InvalidArgument

_UNIX = re.compile(r"(\d+)(?:\.(\d*))?")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
          "h": 3600 * 10**9}  # fmt: skip


def register(router: Router, events: EventLog) -> None:
    @router.route("GET", "/events")
    async def get_events(req: Request) -> Response:
        now = time.time_ns()
        since_text, until_text = req.q("since") or "", req.q("until") or ""
        since = parse_event_time(since_text, "since", now)
        until = parse_event_time(until_text, "until", now)
        if until and since > until:
            raise InvalidArgument(
                f"`since` time ({since_text}) cannot be after `until` time ({until_text})"
            )
        include = EventFilter.parse(parse_filters(req.q("filters")))
        watch = events.watch(since, until, include if include.filters else None, now)
        return stream(EventBody(watch))


class EventBody:
    """The response body: each event of the watch as a JSON line; closing the body (the
    server does when the client leaves or the stream ends) closes the watch, even when
    no line was asked for yet."""

    def __init__(self, watch: EventWatch) -> None:
        self._watch = watch

    def __aiter__(self) -> EventBody:
        return self

    async def __anext__(self) -> bytes:
        return event_line(await self._watch.__anext__())

    async def aclose(self) -> None:
        await self._watch.aclose()


def parse_event_time(value: str, name: str, now_nano: int) -> int:
    """``since``/``until`` as unix nanoseconds (0 when absent); see the module doc."""
    value = value.strip()
    if not value:
        return 0
    found = _UNIX.fullmatch(value)
    if found:
        # as dockerd's ParseTimestamps: the fraction is read as digits of a second
        fraction = (found.group(2) or "")[:9]
        return int(found.group(1)) * 10**9 + int(fraction.ljust(9, "0") or 0)
    duration = _go_duration(value)
    if duration is not None:
        return now_nano - duration
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            f"query parameter {name}: {value!r} is neither a unix timestamp, an RFC 3339 "
            "time nor a duration (like 10m)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # local time, as the docker CLI reads it
    whole = int(parsed.timestamp())
    return whole * 10**9 + parsed.microsecond * 1000


def _go_duration(text: str) -> int | None:
    """A Go duration (``1h30m``, ``-5m`` counts forward) in nanoseconds, else None."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        return None
    return sign * sum(int(float(n) * _UNITS[u]) for n, u in parts)
