"""Start-up reconciliation: the records against what survived the last daemon.

Containers keep running when the daemon stops or dies (their shims outlive it), so at
start ``ContainerRecovery._reconcile`` compares every record with the host:

- running or paused, shim answers: live restore, the service watches it again;
- running or paused, shim gone: the exit it recorded (``exit.json``) if it wrote one,
  else exit 255 with an error; whatever the run left is cleaned (``_clean_stale``: the
  runtime's state with ``<runtime> delete --force``, which also kills a surviving init,
  the cgroup ``<cgroup_parent>/<id>`` on every hierarchy, the rootfs mount) and the
  restart policy applies as to any exit;
- ``restarting`` (the daemon went down during a back-off): started now;
- exited with a restart policy that says so (dockerd's rules: ``always``,
  ``unless-stopped`` unless stopped by the user, ``on-failure`` after a non-zero exit
  within its retry count): started now, as an API start would (count and manual stop
  reset);
- ``removing``: the removal is finished.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal as signals
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.cgroups import manager_for
from dockyard.errors import Conflict, DockyardError, NotFound, SystemFault
from dockyard.images.rootfs import unmount_container
from dockyard.shim import protocol

from . import nsmodes
from .containerrecord import ZERO_TIME, Container
from .restarts import RestartPolicy, should_restart
from .shims import read_exit, run_runtime

if TYPE_CHECKING:
    from .health import HealthMonitors

log = logging.getLogger(__name__)

SHIM_GONE = "the container's shim died"


class ContainerRecovery:
    """Start-up reconciliation and stale-run cleanup; mixed into ``ContainerService``."""

    if TYPE_CHECKING:
        _containers: dict[str, Container]
        health: HealthMonitors

        def _runtime_for(self, c: Container) -> str: ...

        @property
        def _runtime_root(self) -> Path: ...

        def _data_dir(self, cid: str) -> Path: ...

        def _bundle(self, cid: str) -> Path: ...

        def _sock(self, cid: str) -> Path: ...

        def _cgroups_path(self, cid: str) -> str: ...

        def _lock_of(self, c: Container) -> asyncio.Lock: ...

        def _spawn(self, coro: Any) -> None: ...

        def _monitor(self, c: Container) -> None: ...

        async def _save(self, c: Container) -> None: ...

        async def _start(self, c: Container) -> None: ...

        async def _remove_now(self, c: Container) -> None: ...

        async def _exited(
            self, c: Container, exit_doc: dict[str, Any] | None, error: str
        ) -> None: ...

        def _started_by_user(self, c: Container) -> None: ...

    async def _reconcile(self) -> None:
        """Bring every loaded record in line with the host (see the module doc)."""
        starts: list[tuple[Container, bool]] = []
        for c in list(self._containers.values()):
            try:
                if c.status == "removing":
                    self._spawn(self._remove_now(c))
                elif c.running:
                    await self._recover(c)
                elif c.status == "restarting":
                    starts.append((c, False))
                else:
                    if self._left_behind(c):
                        await self._clean_stale(c)
                    if restart_at_boot(c):
                        starts.append((c, True))
            except Exception:  # one broken container must not stop the daemon
                log.exception("reconciling container %s", c.id[:12])
        for c, reset in starts:
            await self._boot_start(c, reset)

    async def _recover(self, c: Container) -> None:
        """A container the record says runs: watch it again, or record how it ended."""
        try:
            await protocol.call(self._sock(c.id), "state")
        except (NotFound, OSError, Conflict, SystemFault) as e:
            exit_doc = await asyncio.to_thread(read_exit, self._data_dir(c.id))
            if exit_doc is None:
                log.warning("container %s: its shim is gone (%s)", c.id[:12], e)
            else:
                log.info("container %s exited while the daemon was down", c.id[:12])
            # the shim may have died before it deleted the runtime's state
            await self._clean_stale(c)
            await self._exited(c, exit_doc, "" if exit_doc is not None else SHIM_GONE)
            return
        # alive: running, or exited and finishing (its "wait" answers once exit.json is
        # written), so the monitor records the exit either way
        log.info("container %s: live restore, watching its shim again", c.id[:12])
        self._monitor(c)
        if c.status == "running":  # as dockerd's restore: State.Health starts over
            self.health.started(c)

    def _left_behind(self, c: Container) -> bool:
        """Whether a stopped container has a mount or runtime state of an earlier run."""
        rootfs = self._bundle(c.id) / "rootfs"
        return os.path.ismount(rootfs) or (self._runtime_root / c.id).exists()

    async def _clean_stale(self, c: Container) -> None:
        """Remove what a dead shim left of a run: runtime state (a surviving init is
        killed with it), the container's cgroup, the rootfs mount."""
        if (self._runtime_root / c.id).exists():
            try:
                runtime = self._runtime_for(c)
                await run_runtime(runtime, self._runtime_root, "delete", "--force", c.id)
            except SystemFault as e:
                log.warning("container %s: %s", c.id[:12], e)
        await asyncio.to_thread(self._clean_stale_host, c)

    def _clean_stale_host(self, c: Container) -> None:
        path = self._cgroups_path(c.id)
        try:
            cgroup = manager_for(path)
            if cgroup.exists():
                log.info("container %s: removing its stale cgroup %s", c.id[:12], path)
                cgroup.kill_all(signals.SIGKILL)
                cgroup.destroy()
        except (DockyardError, OSError) as e:
            log.warning("container %s: cgroup %s: %s", c.id[:12], path, e)
        rootfs = self._bundle(c.id) / "rootfs"
        try:
            if os.path.ismount(rootfs):
                log.info("container %s: unmounting its stale rootfs", c.id[:12])
                unmount_container(rootfs)
            nsmodes.unmount_shm(self._data_dir(c.id))  # a shareable /dev/shm (nsmodes.py)
        except (DockyardError, OSError) as e:
            log.warning("unmounting %s: %s", rootfs, e)

    async def _boot_start(self, c: Container, reset: bool) -> None:
        """Start a container its restart policy wants running after a daemon start."""
        async with self._lock_of(c):
            if self._containers.get(c.id) is not c or c.running:
                return
            if reset:  # as dockerd, which starts them as an API start would
                self._started_by_user(c)
            log.info("container %s: started by its restart policy at daemon start", c.id[:12])
            try:
                await self._start(c)
            except Exception as e:
                log.warning("container %s: start at daemon start failed: %s", c.id[:12], e)
                if c.status == "restarting":
                    c.status = "exited"
                    await self._save(c)


def restart_at_boot(c: Container) -> bool:
    """dockerd's rule for a stopped container at daemon start (``ShouldRestart``)."""
    if c.status not in ("exited", "created") or c.started_at == ZERO_TIME:
        return False  # never started: a policy starts nothing the user did not
    return should_restart(
        RestartPolicy.of(c.host_config),
        exit_code=c.exit_code,
        manually_stopped=c.manually_stopped,
        restart_count=c.restart_count,
    )
