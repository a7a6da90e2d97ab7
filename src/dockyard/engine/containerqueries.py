"""``ContainerQueries``: the read-side container verbs of ``ContainerService``.

``list``, ``inspect``, ``logs``, ``attach``, ``resize`` and ``top`` read a container's
record, its json-file log or its processes; they change no record. ``ContainerService``
(``containers.py``) inherits them and owns the state they read.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, InvalidArgument
from dockyard.shim import protocol
from dockyard.shim.logs import LogEntry, LogTail, log_files, read_entries

from .attach import AttachSession
from .containerrecord import Container, ContainerView
from .events import EventLog
from .healthstate import status_of
from .shims import run_runtime

LIST_FILTERS = (
    "id", "name", "label", "status", "exited", "ancestor", "before", "since", "volume",
    "health", "is-task", "isolation",
)  # fmt: skip
STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
FOLLOW_POLL = 0.05


class ContainerQueries:
    """The read-side verbs; mixed into ``ContainerService``, which provides the state."""

    if TYPE_CHECKING:
        _containers: dict[str, Container]
        _attaches: dict[str, builtins.list[AttachSession]]
        events: EventLog

        def _runtime_for(self, c: Container) -> str: ...

        @property
        def _runtime_root(self) -> Path: ...

        def _get(self, ref: str) -> Container: ...

        def _data_dir(self, cid: str) -> Path: ...

        def _sock(self, cid: str) -> Path: ...

    async def list(
        self,
        all: bool = False,
        filters: dict[str, builtins.list[str]] | None = None,
        limit: int = -1,
        size: bool = False,
    ) -> builtins.list[ContainerView]:
        del size  # SizeRw/SizeRootFs are not computed yet
        filters = dict(filters or {})
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        _check_values(filters)
        found = sorted(self._containers.values(), key=lambda c: c.created_unix, reverse=True)
        if "status" in filters or "exited" in filters or limit > 0:
            all = True  # dockerd: a limit (ps -n, ps -l) counts stopped containers too
        bounds = {}
        for key in ("before", "since"):
            for ref in filters.get(key, []):
                bounds[key] = self._get(ref).created_unix
        out = []
        now = time.time()
        for c in found:
            if not all and not c.running and c.status != "restarting":
                continue
            if not _matches(c, filters, bounds):
                continue
            out.append(c.view(self._data_dir(c.id), now))
            if limit > 0 and len(out) >= limit:
                break
        return out

    async def inspect(self, ref: str, size: bool = False) -> ContainerView:
        del size
        c = self._get(ref)
        return c.view(self._data_dir(c.id))

    async def logs(
        self,
        ref: str,
        *,
        stdout: bool,
        stderr: bool,
        follow: bool,
        since: float = 0,
        until: float = 0,
        timestamps: bool = False,
        tail: int = -1,
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Await it for the stream (NotFound comes here, before any output)."""
        c = self._get(ref)
        path = self._data_dir(c.id) / f"{c.id}-json.log"
        streams = {n for n, on in ((1, stdout), (2, stderr)) if on}

        def keep(e: LogEntry) -> bool:
            return e.stream in streams and e.time >= since and (not until or e.time <= until)

        def shape(e: LogEntry) -> tuple[int, bytes]:
            return e.stream, (e.time_text.encode() + b" " + e.data if timestamps else e.data)

        def first() -> tuple[builtins.list[LogEntry], LogTail]:
            old: builtins.list[LogEntry] = []
            for p in log_files(path)[:-1]:
                old += read_entries_of(p)
            current = LogTail(path, offset=0)
            return old + current.poll(), current

        async def generate() -> AsyncIterator[tuple[int, bytes]]:
            entries, current = await asyncio.to_thread(first)
            try:
                selected = [e for e in entries if keep(e)]
                if tail >= 0:
                    selected = selected[-tail:] if tail else []
                for e in selected:
                    yield shape(e)
                if not follow:
                    return
                while True:
                    running = c.running and c.id in self._containers
                    if until and time.time() > until:
                        return
                    batch = await asyncio.to_thread(current.poll)
                    for e in batch:
                        if keep(e):
                            yield shape(e)
                    if not running and not batch:
                        return
                    if not batch:
                        await asyncio.sleep(FOLLOW_POLL)
            finally:
                current.close()

        return generate()

    async def attach(
        self, ref: str, *, stdin: bool, stdout: bool, stderr: bool, logs: bool = False
    ) -> AttachSession:
        c = self._get(ref)
        session = AttachSession(
            tty=bool(c.config.get("Tty")),
            stdin=stdin and bool(c.config.get("OpenStdin")),
            stdout=stdout,
            stderr=stderr,
        )
        if logs:
            path = self._data_dir(c.id) / f"{c.id}-json.log"
            wanted = {n for n, on in ((1, stdout), (2, stderr)) if on}
            for e in await asyncio.to_thread(read_entries, path):
                if e.stream in wanted:
                    session.replay(e.stream, e.data)
        if c.running:
            await session.connect(self._sock(c.id))
        else:
            self._attaches.setdefault(c.id, []).append(session)
        self.events.container(c, "attach")
        return session

    async def resize(self, ref: str, height: int, width: int) -> None:
        c = self._get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        await protocol.call(self._sock(c.id), "resize", height=height, width=width)
        self.events.container(c, "resize", {"height": str(height), "width": str(width)})

    async def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        c = self._get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        runtime = self._runtime_for(c)
        out = await run_runtime(runtime, self._runtime_root, "ps", "--format", "json", c.id)
        pids = {int(p) for p in json.loads(out or "[]")}
        proc = await asyncio.create_subprocess_exec(
            "ps",
            *(ps_args.split() or ["-ef"]),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        raw, err = await proc.communicate()
        if proc.returncode != 0:
            raise InvalidArgument(f"ps: {err.decode(errors='replace').strip()}")
        lines = raw.decode(errors="replace").splitlines()
        if not lines:
            return {"Titles": [], "Processes": []}
        titles = lines[0].split()
        if "PID" not in titles:
            raise InvalidArgument(f"couldn't find PID field in ps output: {ps_args!r}")
        col = titles.index("PID")
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
                processes.append(fields)
        return {"Titles": titles, "Processes": processes}


def read_entries_of(path: Path) -> builtins.list[LogEntry]:
    tail = LogTail(path, offset=0)
    try:
        return tail.poll()
    finally:
        tail.close()


def _matches(
    c: Container, filters: dict[str, builtins.list[str]], bounds: dict[str, float]
) -> bool:
    def any_of(key: str, test: Any) -> bool:
        values = filters.get(key)
        return not values or any(test(v) for v in values)

    labels = c.config.get("Labels") or {}
    name = "/" + c.name.lstrip("/")  # dockerd matches "/web" and "web"

    def label(v: str) -> bool:
        k, sep, val = v.partition("=")
        return k in labels and (not sep or labels[k] == val)

    if filters.get("label") and not all(label(v) for v in filters["label"]):
        return False
    if "before" in bounds and c.created_unix >= bounds["before"]:
        return False
    if "since" in bounds and c.created_unix <= bounds["since"]:
        return False
    return (
        any_of("id", lambda v: _search(v, c.id))
        and any_of("name", lambda v: _search(v, name) or _search(v, name.lstrip("/")))
        and any_of("status", lambda v: v == c.status)
        and any_of("exited", lambda v: c.status == "exited" and int(v) == c.exit_code)
        and any_of(
            "ancestor", lambda v: v in (c.image_name, c.image) or c.image.startswith("sha256:" + v)
        )
        and any_of("volume", lambda v: v in _volume_keys(c))
        and any_of("health", lambda v: v == status_of(c.health))  # none: no healthcheck
        and any_of("is-task", lambda v: v.lower() in ("false", "0"))
        and any_of("isolation", lambda v: v == "default")
    )


def _search(pattern: str, text: str) -> bool:
    """dockerd's ``filters.Match``: the value is a regular expression searched for in
    the text (``name=^web$`` is exactly web, ``name=web`` any name holding web); one
    that does not compile matches nothing."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _check_values(filters: dict[str, builtins.list[str]]) -> None:
    """Values dockerd refuses before listing anything."""
    for value in filters.get("status", []):
        if value not in STATES:
            raise InvalidArgument(f"invalid filter 'status={value}'")
    for value in filters.get("exited", []):
        if not value.lstrip("-").isdigit():
            raise InvalidArgument(f"invalid filter 'exited={value}'")
    for value in filters.get("health", []):
        if value not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidArgument(f"invalid filter 'health={value}'")
    for value in filters.get("is-task", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'is-task={value}'")


def _volume_keys(c: Container) -> set[str]:
    """What ``ps --filter volume=`` matches: a mount's volume name (or source), or its
    destination."""
    keys = set()
    for m in c.mounts or []:
        keys.add(str(m.get("name") or m.get("source") or ""))
        keys.add(str(m.get("destination") or ""))
    return keys - {""}
