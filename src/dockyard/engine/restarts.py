"""Restart policies: what dockerd's restart manager decides, and the timers that do it.

A container's ``HostConfig.RestartPolicy`` (``no``, ``always``, ``unless-stopped``,
``on-failure`` with ``MaximumRetryCount``) is checked at create (``check_policy``) and
applied when its process ends on its own (``ContainerRestarts``, mixed into
``ContainerService``): the container waits in ``restarting`` for a back-off delay (100 ms,
doubled at each restart up to a minute, back to 100 ms after a run of 10 s or more), then
starts again and ``RestartCount`` grows. The pure decisions (``should_restart``,
``next_delay``) follow moby's ``restartmanager``; ``RestartTimers`` keeps the per-container
back-off, the "exit on next" marks of explicit stops and the pending timers.

An explicit ``stop``/``kill`` through the API marks the container as stopped by the user
(``manually_stopped``, persisted like dockerd's ``HasBeenManuallyStopped``) and makes its
next exit final whatever the policy; the next API ``start`` clears both. A daemon
shutdown stops no container, so it triggers no restart; pending timers are dropped and the
containers still ``restarting`` are started by the next daemon (``reconcile.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal as signals
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidArgument

from .containerrecord import Container
from .containersignals import parse_signal

if TYPE_CHECKING:
    from .events import EventLog

log = logging.getLogger(__name__)

POLICIES = ("no", "always", "unless-stopped", "on-failure")
FIRST_DELAY = 0.1  # seconds, as moby's restartmanager
MAX_DELAY = 60.0
RESET_AFTER = 10.0  # a run at least this long starts the back-off over


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"  # one of POLICIES
    maximum_retry_count: int = 0  # on-failure only; 0: no limit

    @classmethod
    def of(cls, host_config: Mapping[str, Any]) -> RestartPolicy:
        """The policy of a (checked) HostConfig; no policy reads as ``no``."""
        raw = host_config.get("RestartPolicy") or {}
        name = str(raw.get("Name") or "no")
        return cls(name, int(raw.get("MaximumRetryCount") or 0))


def check_policy(host_config: dict[str, Any]) -> None:
    """Refuse what dockerd refuses at create; write the policy back in its full form."""
    raw = host_config.get("RestartPolicy")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid restart policy: RestartPolicy must be an object")
    name = raw.get("Name") or ""
    count = raw.get("MaximumRetryCount") or 0
    if not isinstance(name, str) or not isinstance(count, int) or isinstance(count, bool):
        raise InvalidArgument(
            "invalid restart policy: Name must be a string and MaximumRetryCount an integer"
        )
    if name not in ("", *POLICIES):
        raise InvalidArgument(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'"
        )
    if name in ("always", "unless-stopped", "no") and count != 0:
        message = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        raise InvalidArgument(message + (" and cannot be negative" if count < 0 else ""))
    if count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    name = name or "no"  # dockerd before 25.0 wrote "" for no policy
    if host_config.get("AutoRemove") and name != "no":
        # the docker CLI's words; dockerd says "can't create 'AutoRemove' container with
        # restart policy"
        raise InvalidArgument(
            "Conflicting options: --restart and --rm: a container that is removed when it "
            "exits cannot be restarted; drop one of them"
        )
    host_config["RestartPolicy"] = {"Name": name, "MaximumRetryCount": count}


def should_restart(
    policy: RestartPolicy, *, exit_code: int, manually_stopped: bool, restart_count: int
) -> bool:
    """moby's ``ShouldRestart``: the same rule after an exit and at daemon start."""
    if policy.name == "always":
        return True
    if policy.name == "unless-stopped":
        return not manually_stopped
    if policy.name == "on-failure":
        limit = policy.maximum_retry_count
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return False


def next_delay(previous: float, ran_for: float) -> float:
    """The back-off before the next restart, given the last one and how long it ran."""
    if ran_for >= RESET_AFTER:
        previous = 0.0
    delay = FIRST_DELAY if previous <= 0 else previous * 2
    return min(delay, MAX_DELAY)


class RestartTimers:
    """Per container: the last back-off delay, the "exit on next" mark, the pending timer."""

    def __init__(self) -> None:
        self._delays: dict[str, float] = {}
        self._final: set[str] = set()
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def exit_on_next(self, cid: str) -> None:
        """An explicit stop or kill: the next exit is final, whatever the policy."""
        self._final.add(cid)

    def reset(self, cid: str) -> None:
        """A start through the API: a fresh back-off and no mark."""
        self._delays.pop(cid, None)
        self._final.discard(cid)

    def decide(
        self, cid: str, policy: RestartPolicy, *, exit_code: int, manually_stopped: bool,
        restart_count: int, ran_for: float,
    ) -> float | None:  # fmt: skip
        """The delay before restarting after this exit, or None to stay exited."""
        if cid in self._final or not should_restart(
            policy,
            exit_code=exit_code,
            manually_stopped=manually_stopped,
            restart_count=restart_count,
        ):
            self._final.discard(cid)
            self._delays.pop(cid, None)
            return None
        delay = next_delay(self._delays.get(cid, 0.0), ran_for)
        self._delays[cid] = delay
        return delay

    def schedule(self, cid: str, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        self.cancel(cid)
        task = asyncio.get_running_loop().create_task(self._later(cid, delay, action))
        self._pending[cid] = task

    async def _later(self, cid: str, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(delay)
        task = asyncio.current_task()
        if task is None or self._pending.get(cid) is not task:
            return  # cancelled, or replaced by a newer timer
        del self._pending[cid]
        # past this point the restart runs to its end: close() waits for it, so a daemon
        # shutdown never leaves a half-started container
        self._running.add(task)
        try:
            await asyncio.shield(action())
        except Exception:
            log.exception("restarting container %s", cid[:12])
        finally:
            self._running.discard(task)

    def cancel(self, cid: str) -> bool:
        """Drop the pending restart of ``cid``; whether there was one."""
        task = self._pending.pop(cid, None)
        if task is None:
            return False
        task.cancel()
        return True

    def pending(self, cid: str) -> bool:
        return cid in self._pending

    def forget(self, cid: str) -> None:
        self.cancel(cid)
        self.reset(cid)

    async def close(self) -> None:
        """Drop the pending timers; wait for the restarts already under way."""
        for cid in list(self._pending):
            self.cancel(cid)
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class ContainerRestarts:
    """The service side of restart policies; mixed into ``ContainerService``."""

    if TYPE_CHECKING:
        _containers: dict[str, Container]
        _restarts: RestartTimers
        events: EventLog

        def _lock_of(self, c: Container) -> asyncio.Lock: ...

        async def _save(self, c: Container) -> None: ...

        async def _start(self, c: Container) -> None: ...

        def _data_dir(self, cid: str) -> Path: ...

    def _restart_decision(self, c: Container) -> float | None:
        """Called at an exit (the record already says exited): the delay before the
        restart, with the record turned to ``restarting``, or None."""
        ran_for = time.time() - c.started_unix if c.started_unix else 0.0
        delay = self._restarts.decide(
            c.id,
            RestartPolicy.of(c.host_config),
            exit_code=c.exit_code,
            manually_stopped=c.manually_stopped,
            restart_count=c.restart_count,
            ran_for=ran_for,
        )
        if delay is not None:
            c.status = "restarting"
            c.restart_count += 1
            log.info("container %s restarts in %.1fs", c.id[:12], delay)
        return delay

    def _schedule_restart(self, c: Container, delay: float) -> None:
        self._restarts.schedule(c.id, delay, lambda: self._restart_now(c))

    async def _restart_now(self, c: Container) -> None:
        async with self._lock_of(c):
            if c.status != "restarting" or self._containers.get(c.id) is not c:
                return  # stopped, killed or removed meanwhile
            try:
                await self._start(c)
            except Exception as e:  # as dockerd: a failed restart leaves it exited
                log.warning("restarting container %s failed: %s", c.id[:12], e)
                c.status = "exited"
                c.error = c.error or str(e)
                await self._save(c)
                return
        attributes = {"name": c.name.lstrip("/"), "image": str(c.config.get("Image") or "")}
        self.events.emit("container", "restart", c.id, attributes)

    async def _cancel_restart(self, c: Container) -> bool:
        """``stop``/``kill``/``rm -f`` of a restarting container: it stays exited."""
        if c.status != "restarting":
            return False
        self._restarts.cancel(c.id)
        c.status = "exited"
        c.manually_stopped = True
        self._restarts.reset(c.id)
        await self._save(c)
        return True

    async def _stopped_by_user(self, c: Container, sig: int | None = None) -> None:
        """An explicit stop or kill through the API (dockerd's ``killWithSignal``): the
        container counts as manually stopped and, unless ``sig`` is neither SIGKILL nor
        its stop signal, its next exit is final."""
        stop_signal = c.config.get("StopSignal")
        final = sig is None or sig == signals.SIGKILL or not stop_signal
        if final or parse_signal(str(stop_signal)) == sig:
            self._restarts.exit_on_next(c.id)
        if not c.manually_stopped:
            c.manually_stopped = True
            await self._save(c)

    def _started_by_user(self, c: Container) -> None:
        """A start through the API: no restarts counted, no manual stop, no back-off."""
        self._restarts.reset(c.id)
        c.restart_count = 0
        c.manually_stopped = False
