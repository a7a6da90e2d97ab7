"""``HealthMonitors``: the healthcheck probes of running containers, as dockerd runs them.

A container whose ``Config.Healthcheck`` has a test (``healthstate.Settings``) gets one
asyncio task while it runs; a container without one costs nothing. The task sleeps the
interval (dockerd's ``getInterval``: the start interval while starting inside the start
period), runs the test as an exec in the container through its shim (the OCI process is
built once per run from config.json, as ``docker exec`` builds it: the container's user,
working directory and environment, no TTY), and records the result on the container
(``healthstate.record``). Output beyond 4096 bytes is cut; a probe still running at its
timeout is killed and counts as a failure ("Health check exceeded timeout (30s)"); a
probe that cannot start records exit code -1 and the runtime's error.

Events are dockerd's: ``exec_create: CMD``, ``exec_start: CMD`` and ``exec_die`` for each
probe, and ``health_status: healthy|unhealthy`` when the status changes. The record is
saved on each status change (dockerd too keeps every probe in memory only and persists
it with the next checkpoint), so inspect after a daemon restart shows the last status and
log until the live restore resets the status to starting.

``started`` (a start, a restart, a live restore) resets the state and watches;
``paused``/``exited`` stop the task (the status reads unhealthy, as dockerd's);
``resumed`` watches again without a reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import DockyardError
from dockyard.shim import protocol
from dockyard.shim.logs import rfc3339_nano

from . import healthstate
from .execs import start_failure
from .execspec import exec_process
from .healthstate import OutputBuffer, Settings

if TYPE_CHECKING:
    from .containerrecord import Container
    from .containers import ContainerService

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0  # dockerd's bound on starting the probe's exec (not its timeout)
KILL_WAIT = 5.0  # a killed probe's exit is awaited this long, so probes do not pile up


class HealthMonitors:
    """One probe task per running container with a healthcheck (see the module doc)."""

    def __init__(self, service: ContainerService) -> None:
        self._service = service
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def watching(self) -> int:
        """How many containers are probed now."""
        return len(self._tasks)

    # -- the life of a container ---------------------------------------------------------

    def started(self, c: Container) -> None:
        """A run began or was restored: starting again (the log is kept), and probed."""
        self._cancel(c.id)
        settings = Settings.of(c.config)
        if settings is None:
            return
        c.health = healthstate.starting(c.health)
        self._watch(c, settings)

    def resumed(self, c: Container) -> None:
        """Unpaused: probed again, without a reset (dockerd's ``updateHealthMonitor``)."""
        settings = Settings.of(c.config)
        if settings is not None and c.health is not None:
            self._watch(c, settings)

    def paused(self, c: Container) -> None:
        self._cancel(c.id)
        healthstate.stopped(c.health)

    def exited(self, c: Container) -> None:
        self._cancel(c.id)
        healthstate.stopped(c.health)

    async def close(self) -> None:
        """The daemon stops: no more probes (the containers run on; a restore resumes)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _watch(self, c: Container, settings: Settings) -> None:
        if c.id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._run(c, settings))
        self._tasks[c.id] = task
        task.add_done_callback(lambda t: self._forget(c.id, t))

    def _forget(self, cid: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(cid) is task:
            del self._tasks[cid]
        if not task.cancelled() and task.exception() is not None:
            log.error("health monitor of %s failed", cid[:12], exc_info=task.exception())

    def _cancel(self, cid: str) -> None:
        task = self._tasks.pop(cid, None)
        if task is not None:
            task.cancel()

    # -- probing -------------------------------------------------------------------------

    async def _run(self, c: Container, settings: Settings) -> None:
        process: dict[str, Any] | None = None
        while True:
            since = time.time() - c.started_unix
            wait = settings.next_wait(since, healthstate.status_of(c.health))
            await asyncio.sleep(max(0.0, wait))
            if c.status != "running" or c.health is None:
                return
            start = time.time_ns()
            try:
                if process is None:
                    process = await asyncio.to_thread(self._process, c, settings)
                code, output = await self._probe(c, settings, process)
            except (DockyardError, OSError, ValueError) as e:
                log.warning("health check of %s: %s", c.id[:12], e)
                code, output = -1, str(e)
            result = {
                "start": rfc3339_nano(start),
                "end": rfc3339_nano(time.time_ns()),
                "exit_code": code,
                "output": output,
            }
            since = start / 1e9 - c.started_unix
            changed = healthstate.record(c.health, result, settings, since)
            if changed is not None:
                log.info("container %s is %s", c.id[:12], changed)
                self._service.events.container(c, f"health_status: {changed}")
                await self._service._save(c)

    def _process(self, c: Container, settings: Settings) -> dict[str, Any]:
        """The probe's OCI process: config.json's, as ``docker exec`` would run it."""
        bundle = self._service._bundle(c.id)
        spec = json.loads((bundle / "config.json").read_text())
        body = {
            "Cmd": list(settings.command),
            "User": str(c.config.get("User") or ""),
            "WorkingDir": str(c.config.get("WorkingDir") or ""),
            "Tty": False,
        }
        return exec_process(spec.get("process") or {}, c.config, body, bundle / "rootfs")

    async def _probe(
        self, c: Container, settings: Settings, process: dict[str, Any]
    ) -> tuple[int, str]:
        """Run the test once: its exit code (-1: it timed out or could not run) and
        output."""
        exec_id = secrets.token_hex(32)
        words = " ".join(settings.command)
        sock = self._service._sock(c.id)
        self._emit(c, f"exec_create: {words}", exec_id)
        conn = await protocol.ShimConnection.open(sock)
        output = OutputBuffer()
        try:
            try:
                call = conn.call(
                    "exec", id=exec_id, process=process, stdin=False, stdout=True, stderr=True
                )
                await asyncio.wait_for(call, START_TIMEOUT)
            except TimeoutError:
                return -1, f"timed out starting health check for container {c.id}"
            except DockyardError as e:  # the runtime could not start it
                died, error = start_failure(str(e), settings.command[0])
                self._emit(c, "exec_die", exec_id, exitCode=str(died))
                return -1, str(error)
            self._emit(c, f"exec_start: {words}", exec_id)
            drain = asyncio.get_running_loop().create_task(_drain(conn, output))
            try:
                done, _ = await asyncio.wait({drain}, timeout=settings.timeout)
                timed_out = not done
                if timed_out:
                    await _kill(sock, exec_id)
                    await asyncio.wait({drain}, timeout=KILL_WAIT)
            except asyncio.CancelledError:  # the monitor stops (exit, pause): so does the probe
                await _kill(sock, exec_id)
                raise
            finally:
                if not drain.done():
                    drain.cancel()
            code = drain.result() if drain.done() and not drain.cancelled() else None
        finally:
            conn.close()
        if code is not None:
            self._emit(c, "exec_die", exec_id, exitCode=str(code))
        if timed_out:
            return -1, healthstate.timeout_message(settings.timeout_ns, output.text())
        if code is None:
            return -1, f"healthcheck for container {c.id} has no exit code"
        return code, output.text()

    def _emit(self, c: Container, action: str, exec_id: str, **extra: str) -> None:
        self._service.events.container(c, action, {"execID": exec_id, **extra})


async def _drain(conn: protocol.ShimConnection, output: OutputBuffer) -> int | None:
    """The exec's stdout and stderr into ``output`` until its exit frame: its code, or
    None when the shim closed the connection without one."""
    while (got := await protocol.read_frame(conn.reader)) is not None:
        stream, data = got
        if stream == protocol.EXIT:
            return int(json.loads(data).get("exit_code", -1))
        if stream in (protocol.STDOUT, protocol.STDERR):
            output.write(data)
    return None


async def _kill(sock: Path, exec_id: str) -> None:
    """SIGKILL a probe's process (its exit comes on its own connection)."""
    with contextlib.suppress(DockyardError, OSError, TimeoutError):
        await asyncio.wait_for(protocol.call(sock, "kill", exec=exec_id, signal=9), KILL_WAIT)
