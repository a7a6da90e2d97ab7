"""``ContainerService``: the container verbs of the Engine API.

Each container is a record (``containerrecord.Container``) persisted as
``<data_root>/containers/<id>/config.v2.json``; its writable rootfs is a snapshot of the
image store, mounted at ``<exec_root>/containers/<id>/rootfs`` while it runs. A run is
one shim (``dockyard.shim``) that holds the stdio, the json-file log and the exit
status; a monitor task per running container waits on the shim and records the exit.
The image and mount work is synchronous and runs in threads.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal as signals
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound, NotModified, SystemFault
from dockyard.images.config import load_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.rootfs import (
    mount_container,
    prepare_container,
    remove_container,
    unmount_container,
)
from dockyard.shim import protocol
from dockyard.shim.logs import LogEntry, LogTail, log_files, parse_size, read_entries, rfc3339_nano

from . import names, specgen
from .attach import AttachSession
from .containerrecord import Container, ContainerState, ContainerView, MountPoint
from .shims import ShimOptions, read_exit, run_runtime, spawn_shim

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
DEFAULT_STOP_TIMEOUT = 10
NETWORK_MODES = ("none", "host", "bridge", "default")
LIST_FILTERS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since")
FOLLOW_POLL = 0.05


@dataclass(frozen=True)
class ContainerSettings:
    data_root: Path
    exec_root: Path
    runtime: str = DEFAULT_RUNTIME
    default_network: str = "none"
    cgroup_parent: str = "/dockyard"  # each container's cgroup is <parent>/<id>


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


class ContainerService:
    """The Engine API's container backend (see the module doc)."""

    def __init__(self, store: ImageStore, settings: ContainerSettings) -> None:
        self.store = store
        self.settings = settings
        self._runtime = resolve_runtime(settings.runtime)
        self._containers: dict[str, Container] = {}
        self._names: dict[str, str] = {}
        self._lock = asyncio.Lock()  # names, create, remove
        self._locks: dict[str, asyncio.Lock] = {}  # one per container: start/stop/remove
        self._changed = asyncio.Condition()
        self._monitors: dict[str, asyncio.Task[None]] = {}
        self._attaches: dict[str, builtins.list[AttachSession]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

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

    # -- life of the service -----------------------------------------------------------

    async def start_service(self) -> None:
        """Load every container; reconnect to live shims, record the exits of the others."""
        root = self.settings.data_root / "containers"
        root.mkdir(parents=True, exist_ok=True)
        (self.settings.exec_root / "shims").mkdir(parents=True, exist_ok=True)
        for entry in sorted(root.iterdir()):
            try:
                c = Container.load(entry)
            except (OSError, ValueError, TypeError) as e:
                log.warning("skipping container dir %s: %s", entry, e)
                continue
            self._containers[c.id] = c
            self._names[c.name] = c.id
        for c in list(self._containers.values()):
            if c.status == "removing":
                self._spawn(self._remove_now(c))
            elif c.running:
                await self._recover(c)

    async def _recover(self, c: Container) -> None:
        try:
            state = await protocol.call(self._sock(c.id), "state")
        except (NotFound, OSError, Conflict, SystemFault) as e:
            log.warning("container %s: its shim is gone (%s)", c.id[:12], e)
            await self._exited(c, read_exit(self._data_dir(c.id)), "the container's shim died")
            return
        if state.get("status") == "exited":
            await self._exited(c, state.get("exit"), "")
            return
        self._monitor(c)

    async def close(self) -> None:
        """Stop watching the shims (containers keep running) and end pending attaches."""
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

    def _lock_of(self, c: Container) -> asyncio.Lock:
        return self._locks.setdefault(c.id, asyncio.Lock())

    async def _save(self, c: Container) -> None:
        await asyncio.to_thread(c.save, self._data_dir(c.id))
        async with self._changed:
            self._changed.notify_all()

    # -- create ------------------------------------------------------------------------

    async def create(self, body: dict[str, Any], name: str | None) -> tuple[str, list[str]]:
        image_ref = body.get("Image")
        if not image_ref or not isinstance(image_ref, str):
            raise InvalidArgument("no image given: set Image")
        host_config = dict(body.get("HostConfig") or {})
        warnings = self._check_host_config(host_config)

        def find_image() -> tuple[str, dict[str, Any]]:
            try:
                record = self.store.image(image_ref)
            except NotFound:
                raise NotFound(f"No such image: {image_ref}") from None
            return str(record.id), load_config(self.store, record).get("config") or {}

        image_id, image_config = await asyncio.to_thread(find_image)
        config = specgen.merge_config(image_config, body)
        config["Image"] = image_ref
        args = specgen.command_of(config)
        async with self._lock:
            wanted = names.check_name(name) if name else None
            if wanted and wanted in self._names:
                other = self._names[wanted]
                raise Conflict(
                    f'Conflict. The container name "{wanted}" is already in use by container '
                    f'"{other}". You have to remove (or rename) that container to be able to '
                    "reuse that name."
                )
            retry = 0
            while wanted is None or wanted in self._names:
                wanted = names.generate(retry)
                retry += 1
            cid = new_id(self._containers)
            now = time.time_ns()
            c = Container(
                id=cid,
                name=wanted,
                created=rfc3339_nano(now),
                created_unix=now / 1e9,
                path=args[0],
                args=args[1:],
                config=config,
                host_config=host_config,
                image=image_id,
                image_name=image_ref,
                driver=self.store.driver,
            )
            data_dir = self._data_dir(cid)
            data_dir.mkdir(parents=True, mode=0o710)
            try:
                await asyncio.to_thread(prepare_container, self.store, cid, image_id)
                await asyncio.to_thread(c.save, data_dir)
            except BaseException:
                shutil.rmtree(data_dir, ignore_errors=True)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(remove_container, self.store, cid)
                raise
            self._containers[cid] = c
            self._names[c.name] = cid
        log.info("created container %s (%s) from %s", cid[:12], c.name, image_ref)
        return cid, warnings

    def _check_host_config(self, hc: dict[str, Any]) -> list[str]:
        warnings: list[str] = []
        mode = hc.get("NetworkMode") or self.settings.default_network
        if mode not in NETWORK_MODES:
            raise InvalidArgument(
                f"network mode {mode!r} is not supported: use none, host, bridge or default"
            )
        if mode in ("bridge", "default"):
            warnings.append(
                f"network mode {mode!r}: container networking is not implemented yet; "
                "the container gets its own network namespace with only a loopback interface"
            )
        hc["NetworkMode"] = mode
        memory = int(hc.get("Memory") or 0)
        if memory and memory < 6 * 1024 * 1024:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        swap = int(hc.get("MemorySwap") or 0)
        if memory and swap > 0 and swap < memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
        log_config = hc.get("LogConfig") or {}
        if log_config.get("Type") not in (None, "", "json-file"):
            raise InvalidArgument(
                f"logging driver {log_config.get('Type')!r} is not supported: use json-file"
            )
        if hc.get("Init"):
            warnings.append("Init is not supported yet: the command runs as the container's pid 1")
        specgen.capabilities(hc)  # unknown capabilities fail at create, as with Docker
        return warnings

    # -- start -------------------------------------------------------------------------

    async def start(self, ref: str) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if c.running:
                raise NotModified(f"container {c.id[:12]} is already running")
            if c.status in ("removing", "dead"):
                raise Conflict(f"container {c.id[:12]} is {c.status}: it cannot be started")
            await self._start(c)

    async def _start(self, c: Container) -> None:
        bundle = self._bundle(c.id)
        data_dir = self._data_dir(c.id)
        rootfs = bundle / "rootfs"
        mode = str(c.host_config.get("NetworkMode") or self.settings.default_network)

        def prepare() -> None:
            rootfs.mkdir(parents=True, exist_ok=True)
            if not os.path.ismount(rootfs):
                mount_container(self.store, c.id, rootfs)
            try:
                hostname = specgen.hostname_of(c.id, c.config, mode)
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
                    files=data_dir,
                    cgroups_path=self._cgroups_path(c.id),
                    network_mode=mode,
                )
                (bundle / "config.json").write_text(json.dumps(spec, indent=1))
                (data_dir / "exit.json").unlink(missing_ok=True)
            except BaseException:
                unmount_container(rootfs)
                raise

        await asyncio.to_thread(prepare)
        log_config = (c.host_config.get("LogConfig") or {}).get("Config") or {}
        opts = ShimOptions(
            container_id=c.id,
            bundle=bundle,
            state_dir=data_dir,
            exec_root=self.settings.exec_root,
            runtime=self._runtime,
            cgroups_path=self._cgroups_path(c.id),
            log_file=data_dir / f"{c.id}-json.log",
            log_max_size=parse_size(str(log_config.get("max-size", ""))),
            log_max_file=int(log_config.get("max-file", 1)),
            tty=bool(c.config.get("Tty")),
            stdin=bool(c.config.get("OpenStdin")),
            stdin_once=bool(c.config.get("StdinOnce")),
        )
        try:
            pid = await spawn_shim(opts)
        except BaseException as e:
            await asyncio.to_thread(unmount_container, rootfs)
            c.error = str(e)
            if "executable file not found" in c.error or "no such file" in c.error.lower():
                c.exit_code = 127  # as dockerd: a command that cannot run is the caller's
                await self._save(c)
                raise InvalidArgument(c.error) from e
            c.exit_code = 128
            await self._save(c)
            raise
        for session in self._attaches.pop(c.id, []):
            try:
                await session.connect(self._sock(c.id))
            except Exception as e:  # the session ends; the container still starts
                log.warning("attach to %s failed: %s", c.id[:12], e)
                session.end()
        try:
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
        await self._save(c)
        self._monitor(c)
        log.info("started container %s, pid %d", c.id[:12], pid)

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
        c.status = "exited"
        c.pid = 0
        c.exit_code = int(doc.get("exit_code", 255 if error else 0))
        c.oom_killed = bool(doc.get("oom_killed", False))
        c.finished_at = str(doc.get("finished_at") or rfc3339_nano(time.time_ns()))
        c.finished_unix = time.time()
        c.error = error
        c.exits += 1
        rootfs = self._bundle(c.id) / "rootfs"

        def cleanup() -> None:
            if os.path.ismount(rootfs):
                unmount_container(rootfs)

        try:
            await asyncio.to_thread(cleanup)
        except Exception as e:
            log.warning("unmounting %s: %s", rootfs, e)
        if error:
            with contextlib.suppress(Exception):
                await run_runtime(self._runtime, self._runtime_root, "delete", "--force",
                                  c.id)  # fmt: skip
        await self._save(c)
        log.info("container %s exited with %d", c.id[:12], c.exit_code)
        if c.host_config.get("AutoRemove"):
            self._spawn(self._auto_remove(c))

    async def _auto_remove(self, c: Container) -> None:
        async with self._lock_of(c):
            if c.id in self._containers and not c.running:
                await self._remove_now(c)

    # -- stop, kill, restart, wait -----------------------------------------------------

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if not c.running:
                raise NotModified(f"container {c.id[:12]} is not running")
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
            return
        if not await self._wait_exit(c, exits, timeout):
            log.info("container %s did not stop in %ds: killing it", c.id[:12], timeout)
            await self._signal(c, signals.SIGKILL)
            if not await self._wait_exit(c, exits, 30):
                raise SystemFault(f"container {c.id[:12]} did not exit after SIGKILL")

    async def _signal(self, c: Container, sig: int) -> None:
        try:
            await protocol.call(self._sock(c.id), "kill", signal=sig)
        except (NotFound, Conflict):
            return  # exiting already
        if c.status == "paused" and sig == signals.SIGKILL:
            with contextlib.suppress(SystemFault):
                await run_runtime(self._runtime, self._runtime_root, "resume", c.id)

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
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        await self._signal(c, sig)

    async def restart(self, ref: str, timeout: int | None = None) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if c.running:
                await self._stop(c, timeout, None)
            await self._start(c)

    async def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]:
        c = self._get(ref)
        condition = condition or "not-running"
        exits = c.exits
        if condition == "not-running":

            def done() -> bool:
                return not c.running and c.status != "removing"
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

    # -- remove ------------------------------------------------------------------------

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        del volumes  # no volumes yet
        c = self._get(ref)
        async with self._lock_of(c):
            if c.id not in self._containers:
                raise NotFound(f"No such container: {ref}")
            if c.running:
                if not force:
                    raise Conflict(
                        f"cannot remove container {c.name}: container is {c.status}: stop the "
                        "container before removing or force remove"
                    )
                exits = c.exits
                await self._signal(c, signals.SIGKILL)
                if not await self._wait_exit(c, exits, 30):
                    raise SystemFault(f"container {c.id[:12]} did not exit after SIGKILL")
            if c.status == "removing":
                raise Conflict(f"removal of container {c.id[:12]} is already in progress")
            await self._remove_now(c)

    async def _remove_now(self, c: Container) -> None:
        c.status = "removing"
        await asyncio.to_thread(c.save, self._data_dir(c.id))
        bundle = self._bundle(c.id)

        def drop() -> None:
            rootfs = bundle / "rootfs"
            if os.path.ismount(rootfs):
                unmount_container(rootfs)
            try:
                remove_container(self.store, c.id)
            except NotFound:
                pass
            shutil.rmtree(bundle, ignore_errors=True)
            shutil.rmtree(self._data_dir(c.id), ignore_errors=True)

        await asyncio.to_thread(drop)
        self._containers.pop(c.id, None)
        if self._names.get(c.name) == c.id:
            del self._names[c.name]
        self._locks.pop(c.id, None)
        for session in self._attaches.pop(c.id, []):
            session.end()
        async with self._changed:
            self._changed.notify_all()
        log.info("removed container %s", c.id[:12])

    # -- reads -------------------------------------------------------------------------

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
        found = sorted(self._containers.values(), key=lambda c: c.created_unix, reverse=True)
        if "status" in filters or "exited" in filters:
            all = True
        bounds = {}
        for key in ("before", "since"):
            for ref in filters.get(key, []):
                bounds[key] = self._get(ref).created_unix
        out = []
        now = time.time()
        for c in found:
            if not all and not c.running:
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
        return session

    async def resize(self, ref: str, height: int, width: int) -> None:
        c = self._get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        await protocol.call(self._sock(c.id), "resize", height=height, width=width)

    async def pause(self, ref: str) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if not c.running:
                raise Conflict(f"Container {c.id} is not running")
            if c.status == "paused":
                raise Conflict(f"Container {c.id} is already paused")
            await run_runtime(self._runtime, self._runtime_root, "pause", c.id)
            c.status = "paused"
            await self._save(c)

    async def unpause(self, ref: str) -> None:
        c = self._get(ref)
        async with self._lock_of(c):
            if c.status != "paused":
                raise Conflict(f"Container {c.id} is not paused")
            await run_runtime(self._runtime, self._runtime_root, "resume", c.id)
            c.status = "running"
            await self._save(c)

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
            c.name = wanted
            self._names[wanted] = c.id
            await self._save(c)

    async def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        c = self._get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        out = await run_runtime(self._runtime, self._runtime_root, "ps", "--format", "json", c.id)
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


def resolve_runtime(runtime: str) -> str:
    """The runtime's path: as given, on PATH, or next to our interpreter (the venv)."""
    if os.sep in runtime:
        return runtime
    found = shutil.which(runtime)
    if found:
        return found
    beside = Path(sys.executable).parent / runtime
    return str(beside) if beside.exists() else runtime


def read_entries_of(path: Path) -> builtins.list[LogEntry]:
    tail = LogTail(path, offset=0)
    try:
        return tail.poll()
    finally:
        tail.close()


def new_id(taken: dict[str, Container]) -> str:
    while True:
        cid = secrets.token_hex(32)
        # as dockerd: a short id that reads as a number would be taken for one
        if cid not in taken and not cid[:12].isdigit():
            return cid


def _matches(
    c: Container, filters: dict[str, builtins.list[str]], bounds: dict[str, float]
) -> bool:
    def any_of(key: str, test: Any) -> bool:
        values = filters.get(key)
        return not values or any(test(v) for v in values)

    labels = c.config.get("Labels") or {}

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
        any_of("id", c.id.startswith)
        and any_of("name", lambda v: v.lstrip("/") in c.name)
        and any_of("status", lambda v: v == c.status)
        and any_of("exited", lambda v: c.status == "exited" and int(v) == c.exit_code)
        and any_of(
            "ancestor", lambda v: v in (c.image_name, c.image) or c.image.startswith("sha256:" + v)
        )
    )
