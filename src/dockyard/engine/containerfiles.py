"""``ContainerFiles``: a container's files through the Engine API: ``cp``, ``export``,
``diff`` and ``commit``; mixed into ``ContainerService``.

``stat_path``, ``archive_path`` and ``extract_to_dir`` (``docker cp``) and ``export``
work in a child process chrooted into the container's root (``images.containerfs``):
a running container's as its init process sees it (its binds and volumes included),
a stopped one's mounted in the child's private mount namespace for the operation only.
The container's lock is held while the child enters the root (for a stream: until the
child reported its first message), so the container cannot start, stop or go away
under it; a streaming child keeps what it entered even if the container stops later.
Archives stream through bounded pipes (``engine.pipes``) and OS pipes to and from the
child.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images import copyarchive
from dockyard.images.changes import FileChange, container_changes
from dockyard.images.commit import commit_container
from dockyard.images.containerfs import Bind, Child, ContainerRoot, run_in_root
from dockyard.images.instructions import Change
from dockyard.images.layertar.diff import diff_plain
from dockyard.images.rootfs import container_mounts

from .containerrecord import Container
from .mounts import points_of
from .pipes import CHUNK, BodyPipe, ChunkPipe, buffered_reader, buffered_writer

if TYPE_CHECKING:
    from dockyard.images.imagestore import ImageStore

    from .events import EventLog

PathStat = copyarchive.PathStat


class _Pipe:
    """An OS pipe whose ends this process closes once each (a second close could hit
    an fd number another thread has been handed meanwhile)."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self._open = {self.r, self.w}

    def close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)

    def close_all(self) -> None:
        for fd in list(self._open):
            self.close(fd)


class ContainerFiles:
    """cp, export, diff and commit; ``ContainerService`` provides the state."""

    if TYPE_CHECKING:
        store: ImageStore
        events: EventLog

        def _get(self, ref: str) -> Container: ...

        def _lock_of(self, c: Container) -> asyncio.Lock: ...

        def _bundle(self, cid: str) -> Path: ...

        async def pause(self, ref: str) -> None: ...

        async def unpause(self, ref: str) -> None: ...

    # -- docker cp ---------------------------------------------------------------------

    async def stat_path(self, ref: str, path: str) -> PathStat:
        """``HEAD /containers/{id}/archive``: the stat of ``path`` (last link not followed)."""
        c = self._get(ref)

        def work(_: Any) -> dict[str, Any]:
            return copyarchive.stat_path(path).docker()

        async with self._lock_of(c):
            doc = await self._in_root(c, work, lambda ch: ch.result(), _found_error(ref, path))
        return PathStat.from_docker(doc)

    async def archive_path(self, ref: str, path: str) -> tuple[PathStat, AsyncIterator[bytes]]:
        """``GET /containers/{id}/archive``: the stat and the tar stream of ``path``."""
        c = self._get(ref)
        data = _Pipe()

        def work(report: Callable[[dict[str, Any]], None]) -> int:
            os.close(data.r)
            report({"stat": copyarchive.stat_path(path).docker()})
            with os.fdopen(data.w, "wb", buffering=CHUNK) as out:
                return copyarchive.write_tar(path, out)

        def first(child: Child) -> dict[str, Any]:
            data.close(data.w)
            return dict(child.message()["stat"])

        stat, chunks = await self._stream_from_child(c, work, first, data, ref, path)
        self.events.container(c, "archive-path")
        return PathStat.from_docker(stat), chunks

    async def extract_to_dir(
        self,
        ref: str,
        path: str,
        body: AsyncIterator[bytes],
        *,
        no_overwrite_dir_non_dir: bool = False,
        copy_uid_gid: bool = False,
    ) -> None:
        """``PUT /containers/{id}/archive``: extract the tar in ``body`` into dir ``path``."""
        c = self._get(ref)
        binds = binds_of(c)
        user = str(c.config.get("User") or "") if copy_uid_gid else ""
        data = _Pipe()

        def work(_: Any) -> None:
            os.close(data.w)
            options = copyarchive.ExtractOptions(
                no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
                chown=copyarchive.lookup_user(user) if user else None,
                readonly_rootfs=bool(c.host_config.get("ReadonlyRootfs")),
                writable_mounts=tuple(b.destination for b in binds if not b.readonly),
            )
            with os.fdopen(data.r, "rb") as source:
                copyarchive.extract_tar(path, source, options)
                while source.read(CHUNK):
                    pass  # the tar's padding: let the feeder finish cleanly

        pipe = BodyPipe(asyncio.get_running_loop())
        feeder = asyncio.ensure_future(pipe.feed(body))

        def feed_child(child: Child) -> None:
            data.close(data.r)
            try:
                with buffered_reader(pipe) as reader:
                    while chunk := reader.read(CHUNK):
                        _write_all(data.w, chunk)
            except BrokenPipeError:
                pass  # the child stopped reading: its answer says why
            finally:
                data.close(data.w)
                pipe.abandon()
            child.result()

        try:
            async with self._lock_of(c):
                await self._in_root(
                    c, work, feed_child, _found_error(ref, path), keep=(data.r, data.w)
                )
        finally:
            data.close_all()
            pipe.abandon()
            await asyncio.gather(feeder, return_exceptions=True)
        self.events.container(c, "extract-to-dir")

    # -- export, diff, commit ----------------------------------------------------------

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        """``GET /containers/{id}/export``: the container's whole file system as a tar."""
        c = self._get(ref)
        data = _Pipe()

        def work(report: Callable[[dict[str, Any]], None]) -> int:
            os.close(data.r)
            report({"ready": True})
            with os.fdopen(data.w, "wb", buffering=CHUNK) as out:
                return diff_plain(None, "/", out).size

        def first(child: Child) -> dict[str, Any]:
            data.close(data.w)
            return child.message()

        _, chunks = await self._stream_from_child(c, work, first, data, ref, "/", export=True)
        self.events.container(c, "export")
        return chunks

    async def changes(self, ref: str) -> list[FileChange]:
        """``GET /containers/{id}/changes``: what the container changed in its image."""
        c = self._get(ref)
        found = await asyncio.to_thread(container_changes, self.store, c.id)
        return hide_mount_points(found)

    async def commit(
        self,
        ref: str,
        *,
        repo: str = "",
        tag: str = "",
        comment: str = "",
        author: str = "",
        pause: bool = True,
        changes: Sequence[str] = (),
        config: dict[str, Any] | None = None,
    ) -> str:
        """``POST /commit``: the container's changes as a new image; answer its id."""
        c = self._get(ref)
        if tag and not repo:
            raise InvalidArgument("a tag needs a repository: give repo as well")
        names = [f"{repo}:{tag}" if tag else repo] if repo else []
        merged = {**c.config, **{k: v for k, v in (config or {}).items() if v}}
        paused = pause and c.status == "running"
        if paused:
            await self.pause(c.id)
        try:
            image_id = await asyncio.to_thread(
                commit_container,
                self.store,
                c.id,
                names,
                [*config_changes(merged), *changes],
                author=author,
                message=comment,
                created_by=" ".join(merged.get("Cmd") or []),
            )
        finally:
            if paused:
                await self.unpause(c.id)
        extra = {"comment": comment, "imageID": image_id, "imageRef": names[0] if names else ""}
        self.events.container(c, "commit", extra)
        return image_id

    # -- plumbing ----------------------------------------------------------------------

    def _root(
        self, c: Container, *, export: bool = False
    ) -> tuple[ContainerRoot, Callable[[], None]]:
        """How to enter ``c``'s root now, and what to release afterwards (blocking)."""
        live = c.running and c.pid > 0  # not while a restart policy waits to start it
        if live and not export:
            pidfd = os.pidfd_open(c.pid)
            return ContainerRoot(pid=c.pid, pidfd=pidfd), lambda: os.close(pidfd)
        tmp = self.store.root / "tmp"
        tmp.mkdir(exist_ok=True)
        scratch = tmp / f"cp-{secrets.token_hex(6)}"
        scratch.mkdir()
        if live:
            root = ContainerRoot(
                bind_source=str(self._bundle(c.id) / "rootfs"), scratch=str(scratch)
            )
        else:
            mounts = container_mounts(self.store, c.id)
            binds = [] if export else binds_of(c)
            root = ContainerRoot(mounts=mounts, binds=binds, scratch=str(scratch))
        return root, lambda: shutil.rmtree(scratch, ignore_errors=True)

    async def _in_root(
        self,
        c: Container,
        work: Callable[..., Any],
        then: Callable[[Child], Any],
        errors: Callable[[Exception], Exception] | None = None,
        *,
        keep: Sequence[int] = (),
        export: bool = False,
    ) -> Any:
        """Run ``work`` in a child in ``c``'s root and ``then(child)`` here (a thread)."""

        def run() -> Any:
            root, release = self._root(c, export=export)
            try:
                child = run_in_root(root, work, keep)
                try:
                    return then(child)
                finally:
                    child.wait()
            except (NotFound, InvalidArgument) as e:
                raise (errors(e) if errors else e) from None
            finally:
                release()

        return await asyncio.to_thread(run)

    async def _stream_from_child(
        self,
        c: Container,
        work: Callable[..., Any],
        first: Callable[[Child], dict[str, Any]],
        data: _Pipe,
        ref: str,
        path: str,
        *,
        export: bool = False,
    ) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """Start ``work`` (which writes a tar to ``data.w``) and answer ``first(child)``
        with the stream of the tar; the lock is held until the child reported first."""
        lock = self._lock_of(c)
        await lock.acquire()
        loop = asyncio.get_running_loop()
        head: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        pipe = ChunkPipe(loop)

        def then(child: Child) -> None:
            try:
                doc = first(child)
            except BaseException:
                loop.call_soon_threadsafe(_settle, head, None)  # the task's error tells
                raise
            loop.call_soon_threadsafe(_settle, head, doc)
            try:
                with buffered_writer(pipe) as out:
                    while chunk := os.read(data.r, CHUNK):
                        out.write(chunk)
                data.close(data.r)
                child.result()
            except BaseException as e:
                pipe.finish(e)
                raise
            finally:
                data.close(data.r)  # a child still writing (the client left) fails and exits
            pipe.finish()

        task = asyncio.ensure_future(
            self._in_root(
                c, work, then, _found_error(ref, path), keep=(data.r, data.w), export=export
            )
        )
        try:
            done, _ = await asyncio.wait({head, task}, return_when=asyncio.FIRST_COMPLETED)
            doc = head.result() if head in done else None
            if doc is None:
                await task  # raises the error that stopped the child before its head
                raise NotFound(f"Could not find the file {path} in container {ref}")
        except BaseException:
            pipe.abort()
            await asyncio.gather(task, return_exceptions=True)
            data.close_all()
            raise
        finally:
            # the child is in the root now (a running container's through its init's
            # root, a stopped one's through its own mounts): start, stop and rm may go on
            lock.release()

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while (chunk := await pipe.next()) is not None:
                    yield chunk
            finally:
                pipe.abort()
                await asyncio.gather(task, return_exceptions=True)
                data.close_all()

        return doc, chunks()


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]


def _found_error(ref: str, path: str) -> Callable[[Exception], Exception]:
    """Docker's wording for a path that is not there."""

    def convert(e: Exception) -> Exception:
        if isinstance(e, NotFound) and str(e).startswith("could not find the file"):
            return NotFound(f"Could not find the file {path} in container {ref}")
        return e

    return convert


# what dockerd's init layer holds, below every container's own layer: the runtime's
# mount points for these land in our container layer, and Docker never lists them
INIT_PATHS = frozenset(
    {
        "/.dockerenv",
        "/dev/console",
        "/dev/pts",
        "/dev/shm",
        "/etc/hostname",
        "/etc/hosts",
        "/etc/mtab",
        "/etc/resolv.conf",
        "/proc",
        "/sys",
    }
)
INIT_PARENTS = ("/dev", "/etc")


def hide_mount_points(found: list[FileChange]) -> list[FileChange]:
    """``found`` without the init layer's paths, nor ``C /etc`` or ``C /dev`` when only
    those changed inside."""
    kept = [ch for ch in found if ch.path not in INIT_PATHS]
    return [
        ch
        for ch in kept
        if ch.path not in INIT_PARENTS
        or ch.kind.value != "C"
        or any(o.path.startswith(ch.path + "/") for o in kept)
    ]


def binds_of(c: Container) -> list[Bind]:
    """The container's binds and volumes (their host dirs), as the child mounts them."""
    return [
        Bind(p.source, p.destination, not p.rw)
        for p in points_of(c)
        if p.type in ("bind", "volume") and p.source
    ]


def config_changes(config: dict[str, Any]) -> list[Change]:
    """The container's runtime config as changes on its image's (dockerd commits the
    container's config, the create options included, not the image's)."""
    out: list[Change] = []
    if config.get("Cmd"):
        out.append(Change("CMD", list(config["Cmd"])))
    if config.get("Entrypoint"):
        out.append(Change("ENTRYPOINT", list(config["Entrypoint"])))
    env = dict(e.partition("=")[::2] for e in config.get("Env") or [])
    if env:
        out.append(Change("ENV", env))
    if config.get("Labels"):
        out.append(Change("LABEL", dict(config["Labels"])))
    for key, instruction in (("WorkingDir", "WORKDIR"), ("User", "USER"),
                             ("StopSignal", "STOPSIGNAL")):  # fmt: skip
        if config.get(key):
            out.append(Change(instruction, str(config[key])))
    if config.get("ExposedPorts"):
        out.append(Change("EXPOSE", list(config["ExposedPorts"])))
    if config.get("Volumes"):
        out.append(Change("VOLUME", list(config["Volumes"])))
    return out
