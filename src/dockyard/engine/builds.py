"""``BuildService``: ``POST /build`` (Dockerfile builds) and ``POST /build/prune``.

A build unpacks the request body (the context tar) into a private directory under the
data root's ``tmp/``, then runs ``build.builder.Builder`` in a thread of its own; RUN
steps run as containers (``buildrunner.ContainerRunner``). What the builder prints is
relayed to the caller through an asyncio queue as ``BuildMessage``s, followed by the
image id and Docker's ``Successfully built`` / ``Successfully tagged`` lines, or by the
error. A caller that stops reading (the client went away) cancels the build: the
builder stops before its next step, the running RUN container is killed, and the
caller's ``aclose()`` returns once the build thread ended and everything it made
(containers, mounts, the context directory) is gone.

The build cache prune forgets the cache rows and removes the images they named when
nothing else needs them (untagged, unused by containers, no child image).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import secrets
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from dockyard.build.builder import Builder, BuildFailed, BuildOptions
from dockyard.build.context import Context, remove_context, unpack_context
from dockyard.errors import DockyardError
from dockyard.images.imagestore import ImageStore
from dockyard.images.names import familiar_name, normalize_tag
from dockyard.images.remove import prune_images
from dockyard.store import ImageRecord

from .buildrunner import KILL_EVERY, ContainerRunner
from .containers import ContainerService
from .events import EventLog
from .pipes import BodyPipe, buffered_reader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildParams:
    """One build request: the Dockerfile's path in the context and the builder options."""

    dockerfile: str = ""
    options: BuildOptions = field(default_factory=BuildOptions)


@dataclass(frozen=True)
class BuildMessage:
    """One piece of the answer: output ``stream`` text, the built ``image_id``, or the
    ``error`` that ended the build (``code``: a failed RUN's exit status, else 0)."""

    stream: str = ""
    image_id: str = ""
    error: str = ""
    code: int = 0


@dataclass(frozen=True)
class CachePruned:
    caches_deleted: tuple[str, ...]
    bytes_freed: int


class _Run:
    """One build in flight: the builder, its thread's task and the message queue."""

    def __init__(self, service: BuildService, context: Context, params: BuildParams) -> None:
        self.loop = asyncio.get_running_loop()
        self.service = service
        self.context = context
        self.params = params
        self.queue: asyncio.Queue[BuildMessage | None] = asyncio.Queue()
        self.runner = ContainerRunner(service.containers, self.loop, threading.Event())
        self.builder = Builder(service.store, self.runner, self._say)
        self.runner.cancelled = self.builder.cancelled
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    def _say(self, text: str) -> None:
        """The builder's output (from build threads)."""
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody reads any more
            self.loop.call_soon_threadsafe(self.queue.put_nowait, BuildMessage(stream=text))

    def start(self) -> None:
        self.task = self.loop.create_task(self._drive())

    async def _drive(self) -> None:
        # a thread of its own: a build blocks for long and must not hold a slot of the
        # default executor, which the RUN steps' container work needs meanwhile
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="build")
        try:
            options = self.params.options
            image_id = await self.loop.run_in_executor(
                pool, self.builder.build, self.context, options
            )
            for tag in options.tags:
                name = familiar_name(normalize_tag(tag))
                self.service.events.image(image_id, "tag", name)
            self.queue.put_nowait(BuildMessage(image_id=image_id))
            short = image_id.removeprefix("sha256:")[:12]
            self.queue.put_nowait(BuildMessage(stream=f"Successfully built {short}\n"))
            for tag in options.tags:
                name = familiar_name(normalize_tag(tag))
                self.queue.put_nowait(BuildMessage(stream=f"Successfully tagged {name}\n"))
        except DockyardError as e:
            self.error = e
            code = e.code if isinstance(e, BuildFailed) else 0
            self.queue.put_nowait(BuildMessage(error=str(e), code=code))
        except Exception as e:  # a bug: the client still gets a message
            log.exception("build failed")
            self.error = e
            self.queue.put_nowait(BuildMessage(error=f"internal error: {e!r}"))
        finally:
            pool.shutdown(wait=False)
            await asyncio.to_thread(remove_context, self.context.root)
            self.queue.put_nowait(None)

    async def cancel(self) -> None:
        """Stop the build (the client went away) and wait until it has wound down."""
        task = self.task
        if task is None or task.done():
            return
        self.builder.cancelled.set()
        log.info("build cancelled: the client went away")
        while not task.done():
            await self.runner.kill_all()
            await asyncio.wait({task}, timeout=KILL_EVERY)

    async def messages(self, first: BuildMessage | None) -> AsyncIterator[BuildMessage]:
        try:
            item = first
            while item is not None:
                yield item
                item = await self.queue.get()
        finally:
            await asyncio.shield(self.cancel())


class BuildService:
    """The Engine API's build backend (see the module doc)."""

    def __init__(self, store: ImageStore, containers: ContainerService, events: EventLog) -> None:
        self.store = store
        self.containers = containers
        self.events = events

    async def build(
        self, body: AsyncIterator[bytes], params: BuildParams
    ) -> AsyncIterator[BuildMessage]:
        """Read the context from ``body`` and start the build; answer its messages.

        Errors before the build printed anything (a bad context, a Dockerfile that does
        not parse) are raised here, so that they can be an HTTP status; later ones are
        the last message."""
        context = await self._unpack(body, params.dockerfile)
        run = _Run(self, context, params)
        run.start()
        try:
            first = await run.queue.get()
        except BaseException:
            await asyncio.shield(run.cancel())
            raise
        if first is not None and first.error and run.error is not None:
            await asyncio.gather(*(t for t in (run.task,) if t is not None))
            raise run.error
        return run.messages(first)

    async def _unpack(self, body: AsyncIterator[bytes], dockerfile: str) -> Context:
        """The context tar unpacked; the whole body is read before this returns."""
        tmp = self.store.root / "tmp"
        root = tmp / f"build-{secrets.token_hex(8)}"

        def make() -> None:
            tmp.mkdir(exist_ok=True)
            root.mkdir(mode=0o700)

        await asyncio.to_thread(make)
        pipe = BodyPipe(asyncio.get_running_loop())
        feeder = asyncio.ensure_future(pipe.feed(body))

        def unpack() -> Context:
            try:
                with buffered_reader(pipe) as reader:
                    return unpack_context(reader, root, dockerfile)
            finally:
                pipe.abandon()

        try:
            context = await asyncio.to_thread(unpack)
            await feeder  # the rest of the body (tar padding) is read, and dropped
        except BaseException:
            pipe.fail(ConnectionError("the build was abandoned"))
            pipe.abandon()
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
            await asyncio.to_thread(remove_context, root)
            raise
        return context

    # -- the build cache -----------------------------------------------------------------

    async def prune(self, *, before: float | None = None) -> CachePruned:
        """Forget the build cache (rows older than ``before``); remove what it held."""

        def run() -> CachePruned:
            dropped = {str(d) for d in self.store.metadata.drop_build_cache(before)}
            freed = 0

            def select(image: ImageRecord) -> bool:
                return str(image.id) in dropped

            # one pass removes the leaves; their parents become leaves for the next
            while True:
                pruned = prune_images(self.store, select=select)
                if not pruned.deleted:
                    break
                freed += pruned.bytes_freed
                for removed in pruned.deleted:
                    if removed.deleted:
                        self.events.removed(removed.deleted[0], removed.untagged, removed.deleted)
            return CachePruned(tuple(sorted(dropped)), freed)

        return await asyncio.to_thread(run)


__all__ = ["BuildMessage", "BuildParams", "BuildService", "CachePruned"]
