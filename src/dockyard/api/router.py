"""Requests, responses and the route table: the seam between the HTTP server and routes.

Route modules (``api/routes/*.py``) register handlers on a ``Router``; the server
(``api/server.py``) parses HTTP, strips the ``/v1.NN`` prefix, matches the route and
writes what the handler returns. Handlers are ``async def handler(req, **params)`` and
return a ``Response`` (whole or streamed body) or a ``Hijack`` (the connection is handed
over after ``101 UPGRADED``, or after a 200 without a body for clients that do not ask
to upgrade, as Docker does for attach and exec).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"


@dataclass
class Request:
    """One parsed request. ``path`` has no version prefix; ``query`` keeps repeats."""

    method: str
    path: str
    version: str | None
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: AsyncIterator[bytes]
    _cached: bytes | None = field(default=None, repr=False)

    async def read(self) -> bytes:
        if self._cached is None:
            self._cached = b"".join([chunk async for chunk in self.body])
        return self._cached

    async def json(self, default: Any = None) -> Any:
        raw = await self.read()
        if not raw.strip():
            return default
        try:
            return json.loads(raw)
        except ValueError as e:
            raise InvalidArgument(f"the request body is not valid JSON: {e}") from None

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def q_bool(self, name: str, default: bool = False) -> bool:
        """Docker's query booleans: 1/true/True/yes count as true; present but empty too."""
        value = self.q(name)
        if value is None:
            return default
        return value.lower() in ("1", "true", "yes", "")

    def q_int(self, name: str, default: int | None = None) -> int | None:
        value = self.q(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(
                f"query parameter {name}: expected a number, got {value!r}"
            ) from None

    def q_json(self, name: str, default: Any = None) -> Any:
        value = self.q(name)
        if not value:
            return default
        try:
            return json.loads(value)
        except ValueError as e:
            raise InvalidArgument(f"query parameter {name}: not valid JSON: {e}") from None

    def version_at_least(self, version: str) -> bool:
        """Whether the client asked for API ``version`` or newer (no prefix: the newest)."""
        if self.version is None:
            return True
        return _vtuple(self.version) >= _vtuple(version)


def _vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")


def split_version(path: str) -> tuple[str | None, str]:
    """``/v1.45/info`` -> ("1.45", "/info"); no prefix -> (None, path).

    A version outside [MIN_API_VERSION, API_VERSION] is an InvalidArgument with Docker's
    wording (the server answers 400).
    """
    found = _VERSION_PREFIX.match(path)
    if not found:
        return None, path
    version, rest = found.group(1), found.group(2)
    if _vtuple(version) > _vtuple(API_VERSION):
        raise InvalidArgument(
            f"client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )
    if _vtuple(version) < _vtuple(MIN_API_VERSION):
        raise InvalidArgument(
            f"client version {version} is too old. Minimum supported API version is "
            f"{MIN_API_VERSION}, please upgrade your client to a newer version"
        )
    return version, rest


@dataclass
class Response:
    """A whole body (``bytes``) or a streamed one (an async iterator, sent chunked)."""

    status: int = 200
    body: bytes | AsyncIterator[bytes] = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, (json.dumps(obj) + "\n").encode(), "application/json")


def empty(status: int = 204) -> Response:
    return Response(status, b"", None)


def stream(chunks: AsyncIterator[bytes], content_type: str = "application/json") -> Response:
    return Response(200, chunks, content_type)


@dataclass
class Hijack:
    """Take over the connection: ``run(reader, writer)`` owns it until it returns."""

    run: Callable[[Any, Any], Awaitable[None]]
    content_type: str = "application/vnd.docker.raw-stream"


Handler = Callable[..., Awaitable[Response | Hijack]]


class Router:
    """Method + path pattern -> handler. Patterns use ``{name}`` (one segment) and
    ``{name:.+}`` (anything, e.g. image names with slashes)."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._table: list[tuple[str, str]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        regex = re.compile("^" + _to_regex(pattern) + "$")

        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), regex, handler))
            self._table.append((method.upper(), pattern))
            return handler

        return register

    def table(self) -> list[tuple[str, str]]:
        """Every route as registered: (method, pattern), in matching order."""
        return list(self._table)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and path parameters; None if no route has this path at all."""
        for m, regex, handler in self._routes:
            found = regex.match(path)
            if found and (m == method or (m == "GET" and method == "HEAD")):
                return handler, found.groupdict()
        return None

    def allows(self, path: str) -> list[str]:
        return [m for m, regex, _ in self._routes if regex.match(path)]


def _to_regex(pattern: str) -> str:
    out = []
    for part in re.split(r"(\{[^}]+\})", pattern):
        if part.startswith("{"):
            name, _, rx = part[1:-1].partition(":")
            out.append(f"(?P<{name}>{rx or '[^/]+'})")
        else:
            out.append(re.escape(part))
    return "".join(out)
