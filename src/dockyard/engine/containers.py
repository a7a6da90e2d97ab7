"""``ContainerService``: the container verbs of the Engine API.

Each container is a record (``containerrecord.Container``) persisted as
``<data_root>/containers/<id>/config.v2.json``; its writable rootfs is a snapshot of the
image store, mounted at ``<exec_root>/containers/<id>/rootfs`` while it runs. A run is
one shim (``dockyard.shim``) that holds the stdio, the json-file log and the exit
status; a monitor task per running container waits on the shim and records the exit.
The image and mount work is synchronous and runs in threads.

The service owns the records, their names and locks, start, remove and rename; it
inherits create from ``ContainerCreation`` (``containercreate.py``), the read-side verbs
from ``ContainerQueries`` (``containerqueries.py``), the verbs that signal or wait on a
running container from ``ContainerSignals`` (``containersignals.py``), and more of the
same kind (stats, update, restarts, recovery, files, exits).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import shutil
import signal as signals
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, InvalidArgument, NotFound, NotModified, SystemFault
from dockyard.images.imagestore import ImageStore
from dockyard.images.rootfs import (
    mount_container,
    remove_container,
    unmount_container,
)
from dockyard.shim import protocol
from dockyard.shim.logs import parse_size, rfc3339_nano

from . import links, names, nsmodes, specgen
from .attach import AttachSession
from .containercreate import ContainerCreation
from .containerexits import ContainerExits
from .containerfiles import ContainerFiles
from .containerqueries import ContainerQueries
from .containerrecord import Container, ContainerState, ContainerView, MountPoint
from .containersignals import ContainerSignals
from .containerstats import ContainerStats
from .containerupdate import ContainerUpdates
from .events import EventLog
from .health import HealthMonitors
from .mounts import ContainerMounts, copy_up, points_of
from .reconcile import ContainerRecovery
from .restarts import ContainerRestarts, RestartTimers
from .runtimes import RuntimeRegistry
from .shims import ShimOptions, ShimPool
from .volumes import VolumeService

if TYPE_CHECKING:
    from .containerports import ContainerNetworking

__all__ = [
    "AttachSession",
    "ContainerService",
    "ContainerSettings",
    "ContainerState",
    "ContainerView",
    "MountPoint",
]

log = logging.getLogger(__name__)

DEFAULT_RUNTIME = "dockyard-runtime"


@dataclass(frozen=True)
class ContainerSettings:
    data_root: Path
    exec_root: Path
    runtime: str = DEFAULT_RUNTIME
    default_network: str = "none"
    cgroup_parent: str = "/dockyard"  # each container's cgroup is <parent>/<id>
    spare_shim: bool = True  # keep a shim ready (engine/shims.py ShimPool)
    init_path: str = ""  # --init's binary; "" finds docker-init or tini on PATH
    # the daemon's runtimes by name; None: ``runtime`` alone (engines without a daemon)
    runtimes: RuntimeRegistry | None = None


class ContainerService(
    ContainerCreation,
    ContainerQueries,
    ContainerSignals,
    ContainerStats,
    ContainerUpdates,
    ContainerRestarts,
    ContainerRecovery,
    ContainerFiles,
    ContainerExits,
):
    """The Engine API's container backend (see the module doc)."""

    def __init__(
        self,
        store: ImageStore,
        settings: ContainerSettings,
        events: EventLog | None = None,
        volumes: VolumeService | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.events = events or EventLog()
        self.volumes = volumes or VolumeService(settings.data_root, self.events)
        self.mounts = ContainerMounts(self.volumes, self.events, self._get)  # volumes, binds
        self.networking: ContainerNetworking | None = None  # set by the daemon's wiring
        self.runtimes = settings.runtimes or RuntimeRegistry.single(settings.runtime)
        self._containers: dict[str, Container] = {}
        self._names: dict[str, str] = {}
        self._creating: set[str] = set()  # ids whose create is in progress
        self._lock = asyncio.Lock()  # names, create, remove
        self._locks: dict[str, asyncio.Lock] = {}  # one per container: start/stop/remove
        self._changed = asyncio.Condition()
        self._monitors: dict[str, asyncio.Task[None]] = {}
        self._attaches: dict[str, builtins.list[AttachSession]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._shims = ShimPool(settings.exec_root, spare=settings.spare_shim)
        self._restarts = RestartTimers()  # restart policies' back-off and timers
        self.health = HealthMonitors(self)  # healthcheck probes of running containers

    # -- paths -------------------------------------------------------------------------

    def _data_dir(self, cid: str) -> Path:
        return self.settings.data_root / "containers" / cid

    def _bundle(self, cid: str) -> Path:
        return self.settings.exec_root / "containers" / cid

    def _sock(self, cid: str) -> Path:
        return protocol.socket_path(self.settings.exec_root, cid)

    @property
    def _runtime_root(self) -> Path:
        return self.settings.exec_root / "runtime"

    def _cgroups_path(self, cid: str) -> str:
        return f"{self.settings.cgroup_parent.rstrip('/')}/{cid}"

    def _runtime_for(self, c: Container) -> str:
        """The binary of ``c``'s own runtime (``HostConfig.Runtime``, runtimes.py)."""
        return self.runtimes.path_of(c.host_config)

    # -- life of the service -----------------------------------------------------------

    async def start_service(self) -> None:
        """Load every container; reconnect to live shims, record the exits of the others."""
        root = self.settings.data_root / "containers"
        root.mkdir(parents=True, exist_ok=True)
        (self.settings.exec_root / "shims").mkdir(parents=True, exist_ok=True)
        await self.volumes.start()
        for entry in sorted(root.iterdir()):
            try:
                c = Container.load(entry)
            except (OSError, ValueError, TypeError) as e:
                log.warning("skipping container dir %s: %s", entry, e)
                continue
            self._containers[c.id] = c
            self._names[c.name] = c.id
            c.host_config.setdefault("Runtime", self.runtimes.default)  # older records
            self.mounts.restore(c)  # volume references (and mounts of running ones)
        await self._reconcile()  # live restore, stale runs, restart policies (reconcile.py)
        if self.networking is not None:  # rules and published ports of live containers
            for c in [c for c in self._containers.values() if c.running]:
                await self.networking.restore(c)
        await self.volumes.settle()  # option volumes no running container uses
        self._shims.refill()

    async def close(self) -> None:
        """Stop watching the shims (containers keep running) and end pending attaches."""
        await self._restarts.close()  # pending restarts: the next daemon does them
        await self.health.close()
        await self._shims.close()
        for task in [*self._monitors.values(), *self._tasks]:
            task.cancel()
        for task in [*self._monitors.values(), *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._monitors.clear()
        for sessions in self._attaches.values():
            for s in sessions:
                s.close()
        self._attaches.clear()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- lookup ------------------------------------------------------------------------

    def _get(self, ref: str) -> Container:
        if ref in self._containers:
            return self._containers[ref]
        name = ref if ref.startswith("/") else "/" + ref
        if name in self._names:
            return self._containers[self._names[name]]
        if ref:
            found = [c for cid, c in self._containers.items() if cid.startswith(ref)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def known(self, cid: str) -> bool:
        """A container with this full id exists or is being created (the network service
        must not take the endpoint of a create in progress for a removed container's)."""
        return cid in self._containers or cid in self._creating

    def running_ids(self) -> set[str]:
        """The ids of the running containers (the image service refuses to delete their
        images)."""
        return {cid for cid, c in self._containers.items() if c.running or c.status == "restarting"}

    def _lock_of(self, c: Container) -> asyncio.Lock:
        return self._locks.setdefault(c.id, asyncio.Lock())

    async def _save(self, c: Container) -> None:
        await asyncio.to_thread(c.save, self._data_dir(c.id))
        async with self._changed:
            self._changed.notify_all()

    # -- start -------------------------------------------------------------------------

    async def start(self, ref: str) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if c.running or c.status == "restarting":
                raise NotModified(f"container {c.id[:12]} is already running")
            if c.status in ("removing", "dead"):
                raise Conflict(f"container {c.id[:12]} is {c.status}: it cannot be started")
            self._started_by_user(c)  # restart count, manual stop and back-off start over
            await self._start(c)

    async def _start(self, c: Container) -> None:
        runtime = self.runtimes.path_for_start(c.host_config)  # before anything is set up
        bundle = self._bundle(c.id)
        data_dir = self._data_dir(c.id)
        rootfs = bundle / "rootfs"
        mode = str(c.host_config.get("NetworkMode") or self.settings.default_network)
        files, netns_path = data_dir, ""

        def prepare() -> None:
            nonlocal files, netns_path
            linked = links.resolve(c, self._get)  # every --link target runs
            # --ipc/--pid container:<id> targets; a shareable /dev/shm is mounted
            joined = nsmodes.resolve(c.host_config, data_dir, self._get, self._data_dir)
            if mode.startswith("container:"):  # its namespace, hostname, files (dockerd's)
                from .containerports import joined_netns

                other = self._get(mode.partition(":")[2])
                netns_path, files = joined_netns(other), self._data_dir(other.id)
                c.config["Hostname"] = other.config.get("Hostname") or other.id[:12]
                c.config["Domainname"] = other.config.get("Domainname") or ""
            rootfs.mkdir(parents=True, exist_ok=True)
            if not os.path.ismount(rootfs):
                mount_container(self.store, c.id, rootfs)
            try:
                copy_up(rootfs, points)  # an empty volume gets the image's files
                hostname = specgen.hostname_of(c.id, c.config, mode)
                if netns_path:
                    pass  # the other container's files
                elif self.networking is not None:  # --dns, --add-host, embedded DNS
                    self.networking.write_etc_files(c, data_dir, hostname, mode, linked)
                else:
                    specgen.write_etc_files(data_dir, hostname, mode)
                workdir = str(c.config.get("WorkingDir") or "")
                if workdir:
                    from dockyard.runtime.rootfs import resolve_in_root

                    os.makedirs(resolve_in_root(str(rootfs), workdir), 0o755, exist_ok=True)
                spec = specgen.container_spec(
                    c.id,
                    c.config,
                    c.host_config,
                    rootfs=rootfs,
                    files=files,
                    cgroups_path=self._cgroups_path(c.id),
                    network_mode=mode,
                    init_path=self.settings.init_path,
                    mount_points=points,
                    netns_path=netns_path,
                    joined=joined,
                )
                if linked and self.networking is not None:  # dockerd's link variables
                    process = spec["process"]
                    process["env"] = links.merge_env(
                        process["env"], self.networking.link_env(c, linked)
                    )
                (bundle / "config.json").write_text(json.dumps(spec, indent=1))
                (data_dir / "exit.json").unlink(missing_ok=True)
            except BaseException:
                unmount_container(rootfs)
                raise

        points = await self.mounts.activate(c)
        try:
            await asyncio.to_thread(prepare)
        except BaseException as e:
            await asyncio.to_thread(nsmodes.unmount_shm, data_dir)  # a shareable /dev/shm
            await self.mounts.deactivate(c)
            # no spec (a --device or --group-add that does not resolve): end the waiting
            # attaches and honour --rm, as when the runtime fails
            c.error, c.exit_code = str(e), 128
            for session in self._attaches.pop(c.id, []):
                session.end()
            if c.host_config.get("AutoRemove"):
                self._spawn(self._auto_remove(c))
            await self._save(c)
            raise
        log_config = (c.host_config.get("LogConfig") or {}).get("Config") or {}
        opts = ShimOptions(
            container_id=c.id,
            bundle=bundle,
            state_dir=data_dir,
            exec_root=self.settings.exec_root,
            runtime=runtime,
            cgroups_path=self._cgroups_path(c.id),
            log_file=data_dir / f"{c.id}-json.log",
            log_max_size=parse_size(str(log_config.get("max-size", ""))),
            log_max_file=int(log_config.get("max-file", 1)),
            tty=bool(c.config.get("Tty")),
            stdin=bool(c.config.get("OpenStdin")),
            stdin_once=bool(c.config.get("StdinOnce")),
        )
        try:
            await self._last_shim_gone(c)
            pid = await self._shims.spawn(opts)
        except BaseException as e:
            await asyncio.to_thread(unmount_container, rootfs)
            await asyncio.to_thread(nsmodes.unmount_shm, data_dir)
            await self.mounts.deactivate(c)
            c.error = str(e)
            for session in self._attaches.pop(c.id, []):
                session.end()
            if c.host_config.get("AutoRemove"):  # as dockerd: --rm also when start fails
                self._spawn(self._auto_remove(c))
            low = c.error.lower()
            if "executable file not found" in low or "no such file" in low:
                c.exit_code = 127  # as dockerd: a command that cannot run is the caller's
            elif "permission denied" in low:
                c.exit_code = 126
            else:
                c.exit_code = 128
                await self._save(c)
                raise
            await self._save(c)
            raise InvalidArgument(c.error) from e
        for session in self._attaches.pop(c.id, []):
            try:
                await session.connect(self._sock(c.id))
            except Exception as e:  # the session ends; the container still starts
                log.warning("attach to %s failed: %s", c.id[:12], e)
                session.end()
        try:
            if self.networking is not None:  # its netns exists now: veth, ports, hosts
                hostname = specgen.hostname_of(c.id, c.config, mode)
                await self.networking.attach(c, pid, data_dir / "hosts", hostname)
            state = await protocol.call(self._sock(c.id), "start")
        except Exception as e:
            with contextlib.suppress(Exception):
                await protocol.call(self._sock(c.id), "kill", signal=9)
            self._monitor(c)
            raise SystemFault(f"failed to start container {c.id[:12]}: {e}") from e
        c.status = "running"
        c.pid = pid
        c.error = ""
        c.exit_code = 0
        c.oom_killed = False
        c.started_at = str(state.get("started_at") or rfc3339_nano(time.time_ns()))
        c.started_unix = time.time()
        c.finished_at = "0001-01-01T00:00:00Z"
        self.health.started(c)  # State.Health starts over; probed if it has a healthcheck
        await self._save(c)
        self._monitor(c)
        log.info("started container %s, pid %d", c.id[:12], pid)
        self.events.container(c, "start")

    # -- remove ------------------------------------------------------------------------

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if c.id not in self._containers:
                raise NotFound(f"No such container: {ref}")
            if c.status == "restarting" and not force:
                raise Conflict(
                    f"cannot remove container {c.name}: container is restarting: stop the "
                    "container before removing or force remove"
                )
            await self._cancel_restart(c)
            if c.running:
                if not force:
                    raise Conflict(
                        f"cannot remove container {c.name}: container is {c.status}: stop the "
                        "container before removing or force remove"
                    )
                exits = c.exits
                await self._stopped_by_user(c)
                await self._signal(c, signals.SIGKILL)
                if not await self._wait_exit(c, exits, 30):
                    raise SystemFault(f"container {c.id[:12]} did not exit after SIGKILL")
            if c.status == "removing":
                raise Conflict(f"removal of container {c.id[:12]} is already in progress")
            await self._remove_now(c, volumes)

    async def remove_link(self, link_name: str) -> None:
        """``rm --link /web/alias``: container web forgets that link (links.py)."""
        parent_name, _, alias = ("/" + link_name.strip("/")).rpartition("/")
        if not parent_name:
            raise Conflict("Conflict, cannot remove the default link name of the container")
        parent = self._get(parent_name)
        async with self._lock_of(parent):
            name = f"{parent.name}/{alias}"
            parent.host_config["Links"] = links.without(parent.host_config, name) or None
            await self._save(parent)

    async def _remove_now(self, c: Container, volumes: bool = False) -> None:
        c.status = "removing"
        await asyncio.to_thread(c.save, self._data_dir(c.id))
        # the last run's shim deletes the runtime state and the cgroup after it answered
        # "wait": a removed container leaves nothing behind once rm returns
        await self._last_shim_gone(c)
        bundle = self._bundle(c.id)

        def drop() -> None:
            rootfs = bundle / "rootfs"
            if os.path.ismount(rootfs):
                unmount_container(rootfs)
            nsmodes.unmount_shm(self._data_dir(c.id))  # before its dir goes
            try:
                remove_container(self.store, c.id)
            except NotFound:
                pass
            shutil.rmtree(bundle, ignore_errors=True)
            shutil.rmtree(self._data_dir(c.id), ignore_errors=True)

        await asyncio.to_thread(drop)
        await self.mounts.remove(c.id, points_of(c), volumes)  # -v: its anonymous volumes
        self._containers.pop(c.id, None)
        if self._names.get(c.name) == c.id:
            del self._names[c.name]
        self._locks.pop(c.id, None)
        self._restarts.forget(c.id)
        for session in self._attaches.pop(c.id, []):
            session.end()
        async with self._changed:
            self._changed.notify_all()
        log.info("removed container %s", c.id[:12])
        self.events.container(c, "destroy")

    # -- rename ------------------------------------------------------------------------

    async def rename(self, ref: str, new_name: str) -> None:
        c = self._get(ref)
        wanted = names.check_name(new_name)
        async with self._lock:
            if wanted == c.name:
                raise Conflict("Renaming a container with the same name as its current name")
            if wanted in self._names:
                raise Conflict(
                    f'Conflict. The container name "{wanted}" is already in use by container '
                    f'"{self._names[wanted]}". You have to remove (or rename) that container '
                    "to be able to reuse that name."
                )
            del self._names[c.name]
            old, c.name = c.name, wanted
            self._names[wanted] = c.id
            await self._save(c)
        self.events.container(c, "rename", {"oldName": old})
