"""``ContainerSignals``: the verbs that act on a running container's processes.

``stop``, ``kill`` and ``restart`` signal the process through its shim, ``wait`` waits for
a state change, ``pause`` and ``unpause`` freeze and thaw it through the runtime.
``ContainerService`` (``containers.py``) inherits them and owns the state they change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal as signals
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, InvalidArgument, NotFound, NotModified, SystemFault
from dockyard.shim import protocol

from .containerrecord import Container
from .events import EventLog
from .shims import run_runtime

if TYPE_CHECKING:
    from .health import HealthMonitors

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10


def parse_signal(value: str | int) -> int:
    text = str(value).strip().upper()
    if text.isdigit():
        n = int(text)
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        try:
            n = int(signals.Signals[name])
        except KeyError:
            raise InvalidArgument(f"invalid signal: {value}") from None
    if not 0 < n <= 64:
        raise InvalidArgument(f"invalid signal: {value}")
    return n


class ContainerSignals:
    """Stop, kill, restart, wait, pause, unpause; mixed into ``ContainerService``."""

    if TYPE_CHECKING:
        _containers: dict[str, Container]
        _changed: asyncio.Condition
        events: EventLog
        health: HealthMonitors

        def _runtime_for(self, c: Container) -> str: ...

        @property
        def _runtime_root(self) -> Path: ...

        def _get(self, ref: str) -> Container: ...

        def _sock(self, cid: str) -> Path: ...

        def _lock_of(self, c: Container) -> asyncio.Lock: ...

        async def _save(self, c: Container) -> None: ...

        async def _start(self, c: Container) -> None: ...

        async def _stopped_by_user(self, c: Container, sig: int | None = None) -> None: ...

        async def _cancel_restart(self, c: Container) -> bool: ...

        def _started_by_user(self, c: Container) -> None: ...

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if await self._cancel_restart(c):  # restarting: it stays exited
                return
            if not c.running:
                raise NotModified(f"container {c.id[:12]} is not running")
            await self._stopped_by_user(c)  # no restart policy brings it back
            await self._stop(c, timeout, signal)

    async def _stop(self, c: Container, timeout: int | None, signal: str | None) -> None:
        if timeout is None:
            stop_timeout = c.config.get("StopTimeout")
            timeout = DEFAULT_STOP_TIMEOUT if stop_timeout is None else int(stop_timeout)
        sig = parse_signal(signal or c.config.get("StopSignal") or "SIGTERM")
        exits = c.exits
        if c.status == "paused":
            sig = signals.SIGKILL  # a frozen process cannot handle a signal
        await self._signal(c, sig)
        if timeout < 0:
            await self._wait_exit(c, exits, None)
        elif not await self._wait_exit(c, exits, timeout):
            log.info("container %s did not stop in %ds: killing it", c.id[:12], timeout)
            await self._signal(c, signals.SIGKILL)
            if not await self._wait_exit(c, exits, 30):
                raise SystemFault(f"container {c.id[:12]} did not exit after SIGKILL")
        self.events.container(c, "stop")

    async def _signal(self, c: Container, sig: int) -> None:
        try:
            await protocol.call(self._sock(c.id), "kill", signal=sig)
        except (NotFound, Conflict):
            return  # exiting already
        self.events.container(c, "kill", {"signal": str(sig)})
        if c.status == "paused" and sig == signals.SIGKILL:
            with contextlib.suppress(SystemFault):
                await run_runtime(self._runtime_for(c), self._runtime_root, "resume", c.id)

    async def _wait_exit(self, c: Container, exits: int, timeout: float | None) -> bool:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: c.exits > exits)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def kill(self, ref: str, signal: str = "KILL") -> None:
        c = self._get(ref)
        sig = parse_signal(signal or "KILL")
        if c.status == "restarting":
            async with self._lock_of(c):  # not while a restart is under way
                if await self._cancel_restart(c):
                    return
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        await self._stopped_by_user(c, sig)
        await self._signal(c, sig)

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            await self._cancel_restart(c)
            if c.running:
                await self._stopped_by_user(c)
                await self._stop(c, timeout, None)
            self._started_by_user(c)
            await self._start(c)
        self.events.container(c, "restart")

    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        c = self._get(ref)
        condition = condition or "not-running"
        exits = c.exits
        if condition == "not-running":

            def done() -> bool:
                # a restarting container (dockerd: Running) is waited for until it stops
                # or exits once more
                if c.status == "removing":
                    return False
                return not (c.running or c.status == "restarting") or c.exits > exits
        elif condition == "next-exit":

            def done() -> bool:
                return c.exits > exits
        elif condition == "removed":

            def done() -> bool:
                return c.id not in self._containers
        else:
            raise InvalidArgument(f"invalid condition: {condition!r}")
        async with self._changed:
            await self._changed.wait_for(done)
        return {"StatusCode": c.exit_code, "Error": {"Message": c.error} if c.error else None}

    async def pause(self, ref: str) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if not c.running:
                raise Conflict(f"Container {c.id} is not running")
            if c.status == "paused":
                raise Conflict(f"Container {c.id} is already paused")
            await run_runtime(self._runtime_for(c), self._runtime_root, "pause", c.id)
            c.status = "paused"
            self.health.paused(c)  # no probes while frozen, as dockerd
            await self._save(c)
        self.events.container(c, "pause")

    async def unpause(self, ref: str) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if c.status != "paused":
                raise Conflict(f"Container {c.id} is not paused")
            await run_runtime(self._runtime_for(c), self._runtime_root, "resume", c.id)
            c.status = "running"
            self.health.resumed(c)
            await self._save(c)
        self.events.container(c, "unpause")
