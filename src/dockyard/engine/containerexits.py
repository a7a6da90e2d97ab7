"""``ContainerExits``: what happens when a container's process ends.

A monitor task per running container waits on the shim (``wait``); the exit is then
recorded: the rootfs mount, volumes and published ports released (before the record
says exited, so that a start right after does not lose its fresh mounts), the exit code,
the restart policy's decision, ``die`` (and ``oom``) events, ``--rm``. A new run of the
same container first waits for the last run's shim to be gone.
``ContainerService`` (``containers.py``) inherits this and owns the state it changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.images.rootfs import unmount_container
from dockyard.shim import protocol
from dockyard.shim.logs import rfc3339_nano

from . import nsmodes
from .containerrecord import Container
from .shims import read_exit

if TYPE_CHECKING:
    from .containerports import ContainerNetworking
    from .events import EventLog
    from .health import HealthMonitors
    from .mounts import ContainerMounts

log = logging.getLogger("dockyard.engine.containers")


class ContainerExits:
    """The monitor of running containers and the record of their exits."""

    if TYPE_CHECKING:
        _containers: dict[str, Container]
        _monitors: dict[str, asyncio.Task[None]]
        events: EventLog
        health: HealthMonitors
        mounts: ContainerMounts
        networking: ContainerNetworking | None

        def _sock(self, cid: str) -> Path: ...
        def _bundle(self, cid: str) -> Path: ...
        def _data_dir(self, cid: str) -> Path: ...
        def _lock_of(self, c: Container) -> asyncio.Lock: ...
        def _spawn(self, coro: Any) -> None: ...
        async def _save(self, c: Container) -> None: ...
        async def _clean_stale(self, c: Container) -> None: ...
        def _restart_decision(self, c: Container) -> float | None: ...
        def _schedule_restart(self, c: Container, delay: float) -> None: ...
        async def _remove_now(self, c: Container, volumes: bool = False) -> None: ...

    async def _last_shim_gone(self, c: Container, timeout: float = 10.0) -> None:
        """The shim of the last run answers "wait" before it has the runtime delete the
        container's state and cgroup; a new run of the same id, and a removal, wait until
        that is done (the shim removes its socket last). A socket nobody listens on is
        a dead shim's: nothing to wait for."""
        sock = self._sock(c.id)
        deadline = time.monotonic() + timeout
        while sock.exists() and time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_unix_connection(str(sock))
            except (ConnectionRefusedError, FileNotFoundError):
                return
            writer.close()
            await asyncio.sleep(0.005)

    def _monitor(self, c: Container) -> None:
        old = self._monitors.get(c.id)
        if old is not None and not old.done():
            return
        self._monitors[c.id] = asyncio.get_running_loop().create_task(self._watch(c))

    async def _watch(self, c: Container) -> None:
        exit_doc: dict[str, Any] | None = None
        error = ""
        try:
            answer = await protocol.call(self._sock(c.id), "wait")
            exit_doc = answer.get("exit")
        except asyncio.CancelledError:
            raise
        except Exception as e:
            exit_doc = await asyncio.to_thread(read_exit, self._data_dir(c.id))
            if exit_doc is None:
                error = f"the container's shim died: {e}"
        self._monitors.pop(c.id, None)
        await self._exited(c, exit_doc, error)

    async def _exited(self, c: Container, exit_doc: dict[str, Any] | None, error: str) -> None:
        doc = exit_doc or {}
        rootfs = self._bundle(c.id) / "rootfs"
        self.health.exited(c)  # no probe of a run that ended (State.Health: unhealthy)

        def cleanup() -> None:
            if os.path.ismount(rootfs):
                unmount_container(rootfs)
            nsmodes.unmount_shm(self._data_dir(c.id))  # a shareable /dev/shm (nsmodes.py)

        # what the run held goes first, while the record still says running: a start
        # right after the exit (docker start, a restart) must not see its fresh rootfs
        # mount, volumes or ports undone by this cleanup
        try:
            await asyncio.to_thread(cleanup)
        except Exception as e:
            log.warning("unmounting %s: %s", rootfs, e)
        await self.mounts.deactivate(c)  # its volumes; an option volume's last user unmounts
        if self.networking is not None:
            await self.networking.release(c)  # published ports, endpoint links
        if error:  # the shim died: its runtime state, cgroup and mount are stale
            await self._clean_stale(c)
        c.status = "exited"
        c.pid = 0
        c.exit_code = int(doc.get("exit_code", 255 if error else 0))
        c.oom_killed = bool(doc.get("oom_killed", False))
        c.finished_at = str(doc.get("finished_at") or rfc3339_nano(time.time_ns()))
        c.finished_unix = time.time()
        c.error = error
        c.exits += 1
        restart_in = self._restart_decision(c)  # its restart policy (restarts.py)
        await self._save(c)
        log.info("container %s exited with %d", c.id[:12], c.exit_code)
        self.events.container_exit(c)  # oom (if it was), die
        if restart_in is not None:
            self._schedule_restart(c, restart_in)
        elif c.host_config.get("AutoRemove"):
            self._spawn(self._auto_remove(c))

    async def _auto_remove(self, c: Container) -> None:
        async with self._lock_of(c):
            if c.id in self._containers and not c.running:
                await self._remove_now(c, volumes=True)  # --rm removes anonymous volumes
