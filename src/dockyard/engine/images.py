"""``ImageService``: the image verbs of the Engine API over one ``ImageStore``.

The image code is synchronous; every call runs in a worker thread. Changes (tag, rmi,
prune, load, import, the base image) run one at a time behind an asyncio lock, and a
change that loses its caller (the client went away) keeps the lock until its thread is
done. Reads run side by side; removals (rmi, prune) also wait for the saves in flight,
so a save never sees a layer vanish under it. Archives stream through bounded pipes
(``engine.pipes``) in both directions.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.images import archive
from dockyard.images.base import ensure_base_image
from dockyard.images.config import host_architecture, load_config, parse_time
from dockyard.images.history import HistoryItem, image_history
from dockyard.images.imagestore import ImageStore
from dockyard.images.importing import import_rootfs, parse_change
from dockyard.images.inspect import inspect_image, repo_digests
from dockyard.images.listing import ImageSummary, ImagesUsage, disk_usage, list_images
from dockyard.images.names import familiar_name, normalize_name, normalize_tag
from dockyard.images.remove import prune_images, remove_image
from dockyard.store import ImageRecord

from .events import EventLog
from .pipes import BodyPipe, ChunkPipe, buffered_reader, buffered_writer

log = logging.getLogger(__name__)

T = TypeVar("T")

LIST_FILTERS = ("dangling", "label", "reference", "before", "since", "until")
PRUNE_FILTERS = ("dangling", "label", "label!", "until")


@dataclass(frozen=True)
class ImagesDiskUsage:
    """The images part of ``docker system df``: every image with its container count."""

    usage: ImagesUsage
    images: tuple[ImageSummary, ...]


@dataclass(frozen=True)
class LocalImage:
    """An image found locally under the name a pull asked for."""

    name: str  # normalized
    id: str
    digests: tuple[str, ...]


class ImageService:
    """The Engine API's image backend (see the module doc)."""

    def __init__(
        self,
        store: ImageStore,
        events: EventLog | None = None,
        running_containers: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.store = store
        self.events = events or EventLog()
        # the ids of the running containers: their images cannot be deleted
        self.running_containers = running_containers
        self._lock = asyncio.Lock()
        self._saves = 0
        self._idle = asyncio.Event()  # set while no save is running
        self._idle.set()

    async def start(self) -> str | None:
        """Make sure the built-in ``busybox:latest`` exists; answer its id (None if the
        host has no busybox: the daemon runs on without a base image)."""
        try:
            return await self._change(ensure_base_image, self.store)
        except DockyardError as e:
            log.warning("no built-in base image: %s", e)
            return None

    # -- reads -------------------------------------------------------------------------

    async def list(
        self,
        *,
        all_images: bool = False,
        filters: Mapping[str, Sequence[str]] | None = None,
        digests: bool = True,
    ) -> builtins.list[ImageSummary]:
        """``docker images``: newest first. ``digests`` is accepted as Docker does: the
        digests are always listed."""
        del digests
        filters = dict(filters or {})
        check_filters(filters, LIST_FILTERS)
        until = [parse_until(v) for v in filters.pop("until", ())]
        found = await asyncio.to_thread(
            list_images, self.store, all_images=all_images, filters=filters
        )
        return [s for s in found if all(s.created < u for u in until)]

    async def inspect(self, name: str) -> dict[str, Any]:
        return await asyncio.to_thread(inspect_image, self.store, name)

    async def history(self, name: str) -> builtins.list[HistoryItem]:
        return await asyncio.to_thread(image_history, self.store, name)

    async def local(self, name: str) -> LocalImage | None:
        """The image a pull of ``name`` would give, when it is here already."""
        full = normalize_name(name)

        def find() -> LocalImage | None:
            try:
                image = self.store.image(full)
            except NotFound:
                return None
            return LocalImage(full, str(image.id), tuple(repo_digests(image)))

        return await asyncio.to_thread(find)

    async def df(self) -> ImagesDiskUsage:
        def collect() -> ImagesDiskUsage:
            return ImagesDiskUsage(
                disk_usage(self.store), tuple(list_images(self.store, all_images=True))
            )

        return await asyncio.to_thread(collect)

    # -- changes -----------------------------------------------------------------------

    async def tag(self, name: str, repo: str, tag: str = "") -> str:
        """Point ``repo[:tag]`` at the image ``name``; answer the normalized new name."""
        if not repo:
            raise InvalidArgument("no repository to tag in: give repo (and tag)")
        target = normalize_tag(f"{repo}:{tag}" if tag else repo)

        def run() -> str:
            with self.store.lock:
                image_id = self.store.resolve(name)
                self.store.metadata.tag(target, image_id)
            self.events.image(str(image_id), "tag", familiar_name(target))
            return target

        return await self._change(run)

    async def remove(
        self, name: str, *, force: bool = False, noprune: bool = False
    ) -> builtins.list[dict[str, str]]:
        """``docker rmi``: Docker's ``[{"Untagged": ...}, {"Deleted": ...}]``."""
        image_id = await asyncio.to_thread(self._image_id, name)  # for the events
        running = frozenset(self.running_containers())
        removed = await self._change(
            lambda: remove_image(self.store, name, force=force, prune=not noprune, running=running),
            removes=True,
        )
        self.events.removed(image_id, removed.untagged, removed.deleted)
        return removed.docker()

    async def prune(self, filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
        """``docker image prune``: ``{"ImagesDeleted": [...], "SpaceReclaimed": n}``."""
        filters = dict(filters or {})
        check_filters(filters, PRUNE_FILTERS)
        dangling = [parse_bool("dangling", v) for v in filters.get("dangling", ())]
        all_images = bool(dangling) and not all(dangling)
        until = [parse_until(v) for v in filters.get("until", ())]
        wanted, unwanted = filters.get("label", ()), filters.get("label!", ())

        def select(image: ImageRecord) -> bool:
            if any(image.created >= u for u in until):
                return False
            if not wanted and not unwanted:
                return True
            labels = (load_config(self.store, image).get("config") or {}).get("Labels") or {}
            return all(label_matches(labels, w) for w in wanted) and not any(
                label_matches(labels, u) for u in unwanted
            )

        pruned = await self._change(
            lambda: prune_images(self.store, all_images=all_images, select=select), removes=True
        )
        deleted: builtins.list[dict[str, str]] = []
        for removed in pruned.deleted:
            deleted += removed.docker()
            if removed.deleted:
                self.events.removed(removed.deleted[0], removed.untagged, removed.deleted)
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": pruned.bytes_freed}

    async def load(self, body: AsyncIterator[bytes], *, quiet: bool = False) -> builtins.list[str]:
        """``docker load`` from a streamed request body; answer the names loaded
        (``name:tag``, or the image id for an image without names)."""
        del quiet  # there is no progress to leave out: layers register after the upload

        def run(pipe: BodyPipe) -> builtins.list[str]:
            with buffered_reader(pipe) as reader:
                loaded = archive.load(self.store, reader)
            for image_id in dict.fromkeys(str(self.store.resolve(n)) for n in loaded):
                self.events.image(image_id, "load")
            return loaded

        return await self._from_body(body, run)

    async def import_(
        self,
        body: AsyncIterator[bytes],
        *,
        repo: str = "",
        tag: str = "",
        changes: Sequence[str] = (),
        message: str = "",
        platform: str = "",
    ) -> str:
        """``docker import -`` of a rootfs tar in the body; answer the image id."""
        names = [f"{repo}:{tag}" if repo and tag else repo] if repo else []
        for name in names:
            normalize_tag(name)
        parsed = [parse_change(c) for c in changes]
        target = parse_platform(platform)

        def run(pipe: BodyPipe) -> str:
            with buffered_reader(pipe) as reader:
                image_id = import_rootfs(
                    self.store, reader, names, parsed, message=message, platform=target
                )
            self.events.image(str(image_id), "import")
            return image_id

        return await self._from_body(body, run)

    async def save(self, names: Sequence[str]) -> AsyncIterator[bytes]:
        """``docker save``: the archive's chunks. Unknown names fail here, before the
        first chunk; a client that stops reading stops the save."""
        if not names:
            raise InvalidArgument("nothing to save: name at least one image")
        ids = [str(await asyncio.to_thread(self.store.resolve, name)) for name in names]
        pipe = ChunkPipe(asyncio.get_running_loop())

        def run() -> None:
            try:
                with buffered_writer(pipe) as out:
                    archive.save(self.store, list(names), out)
            except BaseException as e:
                pipe.finish(e)
            else:
                pipe.finish()

        async with self._lock:  # no removal is running; none starts until the thread ends
            self._saves += 1
            self._idle.clear()
            thread = asyncio.ensure_future(asyncio.to_thread(run))
            thread.add_done_callback(self._save_ended)
        try:
            first = await pipe.next()
        except BaseException:
            pipe.abort()
            await asyncio.gather(thread, return_exceptions=True)
            raise
        for image_id in dict.fromkeys(ids):
            self.events.image(image_id, "save")
        return _chunks(pipe, first)

    def _image_id(self, name: str) -> str:
        """The id ``name`` resolves to, or "" (the verb itself says what is wrong)."""
        try:
            return str(self.store.resolve(name))
        except DockyardError:
            return ""

    def _save_ended(self, _: asyncio.Future[None]) -> None:
        self._saves -= 1
        if not self._saves:
            self._idle.set()

    # -- plumbing ----------------------------------------------------------------------

    async def _change(self, fn: Callable[..., T], *args: Any, removes: bool = False) -> T:
        """Run a change in a thread, one at a time; the lock is held until the thread
        ends even when the caller is cancelled. A change that ``removes`` also waits for
        the saves in flight (new ones wait for the lock)."""
        async with self._lock:
            if removes:
                await self._idle.wait()
            return await _finish(asyncio.ensure_future(asyncio.to_thread(fn, *args)))

    async def _from_body(self, body: AsyncIterator[bytes], fn: Callable[[BodyPipe], T]) -> T:
        """Run ``fn`` (a change) on a blocking reader of ``body``. The whole body is read
        before this returns or raises (what ``fn`` left is drained), so the HTTP answer
        follows the request; only a cancelled caller stops reading at once."""
        pipe = BodyPipe(asyncio.get_running_loop())
        feeder = asyncio.ensure_future(pipe.feed(body))

        def run() -> T:
            try:
                return fn(pipe)
            finally:
                pipe.abandon()

        change = asyncio.ensure_future(self._change(run))
        try:
            result = await asyncio.shield(change)
        except asyncio.CancelledError:
            pipe.fail(ConnectionError("the request was cancelled"))
            feeder.cancel()
            await asyncio.gather(change, feeder, return_exceptions=True)
            raise
        except BaseException:
            pipe.abandon()
            await asyncio.gather(feeder, return_exceptions=True)
            raise
        await asyncio.gather(feeder, return_exceptions=True)  # the load is done regardless
        return result


async def _chunks(pipe: ChunkPipe, first: bytes | None) -> AsyncIterator[bytes]:
    try:
        chunk = first
        while chunk is not None:
            yield chunk
            chunk = await pipe.next()
    finally:
        pipe.abort()


async def _finish(fut: Awaitable[T]) -> T:
    """Await ``fut``; if cancelled meanwhile, still wait for it, then re-raise."""
    task = asyncio.ensure_future(fut)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                continue
        raise


# -- filter values ---------------------------------------------------------------------


def check_filters(filters: Mapping[str, Sequence[str]], known: Sequence[str]) -> None:
    for key in filters:
        if key not in known:
            raise InvalidArgument(f"invalid filter {key!r}: use one of {', '.join(known)}")
    for value in filters.get("dangling", ()):
        parse_bool("dangling", value)


def parse_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise InvalidArgument(f"invalid filter '{name}={value}': use true or false")


def label_matches(labels: Mapping[str, str], wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_until(value: str, now: float | None = None) -> float:
    """Docker's ``until``: unix seconds, an RFC 3339 time or date, or a Go duration
    (``10m``, ``1h30m``) back from now."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    seconds = _go_duration(text)
    if seconds is not None:
        return (time.time() if now is None else now) - seconds
    try:
        return parse_time(text if "T" in text else text + "T00:00:00Z")
    except InvalidArgument:
        raise InvalidArgument(
            f"invalid until value {value!r}: use unix seconds, an RFC 3339 time or a "
            "duration such as 10m or 1h30m"
        ) from None


def _go_duration(text: str) -> float | None:
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def parse_platform(text: str) -> tuple[str, str] | None:
    """``os[/arch[/variant]]`` as (os, arch); None for the host's."""
    if not text:
        return None
    parts = text.split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: use os[/arch[/variant]]")
    if len(parts) == 1:
        return parts[0], host_architecture()
    return parts[0], parts[1]
