"""``ContainerRunner``: the builder's RUN steps as containers of the ``ContainerService``.

As dockerd's legacy builder does: a container of the step's image runs the command
(``Entrypoint`` cleared, so the image's entrypoint does not wrap it), its output goes
live to the build output, and on exit 0 its changes are committed as the step's image.
The container is removed in every case (success, failure, cancelled build), so none is
left in ``docker ps -a``; while it runs it carries the label ``com.dockyard.build=1``.

The builder calls ``run`` from its own threads; the container work runs on the daemon's
event loop (``asyncio.run_coroutine_threadsafe``) and the thread waits for it.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable

from dockyard.build.builder import BuildFailed
from dockyard.images.commit import commit_container

from .containers import ContainerService

log = logging.getLogger(__name__)

BUILD_LABEL = "com.dockyard.build"
KILL_EVERY = 0.5  # seconds between kill rounds while a cancelled build winds down
EXIT_RECORD_WAIT = 10.0  # seconds to wait for the service to record a RUN's exit


class ContainerRunner:
    """The ``build.builder.Runner`` of one build (see the module doc)."""

    def __init__(
        self,
        containers: ContainerService,
        loop: asyncio.AbstractEventLoop,
        cancelled: threading.Event,
    ) -> None:
        self.containers = containers
        self.loop = loop
        self.cancelled = cancelled  # the builder's: set when the client went away
        self.active: set[str] = set()  # ids of this build's containers that exist now

    # -- the builder's side (a build thread) ---------------------------------------------

    def run(
        self,
        image_id: str,
        argv: list[str],
        *,
        env: list[str],
        user: str,
        workdir: str,
        network: str,
        created_by: str,
        output: Callable[[str], None],
    ) -> str:
        if self.cancelled.is_set():
            raise BuildFailed("the build was cancelled")
        step = self._run(image_id, argv, env, user, workdir, network, created_by, output)
        future = asyncio.run_coroutine_threadsafe(step, self.loop)
        while True:
            try:
                return future.result(timeout=1.0)
            except concurrent.futures.TimeoutError:
                # a loop that stopped (the daemon exits) never answers: do not hang
                if not self.loop.is_running():
                    future.cancel()
                    raise BuildFailed("the daemon is stopping: the build was cancelled") from None

    # -- the event loop's side -----------------------------------------------------------

    async def kill_all(self) -> None:
        """Kill this build's running containers (the build was cancelled)."""
        for cid in list(self.active):
            try:
                await self.containers.kill(cid, "KILL")
            except Exception as e:  # not running (yet, or any more): the next round
                log.debug("killing build container %s: %s", cid[:12], e)

    async def _run(
        self,
        image_id: str,
        argv: list[str],
        env: list[str],
        user: str,
        workdir: str,
        network: str,
        created_by: str,
        output: Callable[[str], None],
    ) -> str:
        body = {
            "Image": image_id,
            "Cmd": argv,
            "Entrypoint": [],
            "Env": env,
            "User": user,
            "WorkingDir": workdir,
            "Labels": {BUILD_LABEL: "1"},
            "AttachStdout": True,
            "AttachStderr": True,
            "HostConfig": {"NetworkMode": network},
        }
        cid, _ = await self.containers.create(body, None)
        self.active.add(cid)
        try:
            output(f" ---> Running in {cid[:12]}\n")
            code = await self._start_and_wait(cid, output)
            if self.cancelled.is_set():
                raise BuildFailed("the build was cancelled")
            if code != 0:
                raise BuildFailed(
                    f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code
                )
            new = await asyncio.shield(
                asyncio.to_thread(
                    commit_container, self.containers.store, cid, created_by=created_by
                )
            )
            output(f"Removing intermediate container {cid[:12]}\n")
            return new
        finally:
            await asyncio.shield(self._remove(cid))

    async def _start_and_wait(self, cid: str, output: Callable[[str], None]) -> int:
        session = await self.containers.attach(cid, stdin=False, stdout=True, stderr=True)
        decoders = {n: codecs.getincrementaldecoder("utf-8")(errors="replace") for n in (1, 2)}
        since = time.time_ns()
        try:
            if self.cancelled.is_set():
                raise BuildFailed("the build was cancelled")
            await self.containers.start(cid)
            while True:
                item = await session.read()
                if item is None:
                    break
                stream, data = item
                text = decoders.get(stream, decoders[1]).decode(data)
                if text:
                    output(text)
        finally:
            session.close()
        for decoder in decoders.values():
            rest = decoder.decode(b"", final=True)
            if rest:
                output(rest)
        result = await self.containers.wait(cid, "not-running")
        await self._exit_recorded(cid, since)
        return int(result.get("StatusCode") or 0)

    async def _exit_recorded(self, cid: str, since: int) -> None:
        """Wait until the service has finished recording the exit (its ``die`` event):
        ``wait`` returns as soon as the state says exited, while the exit handler is
        still saving the record, and a removal in between races that save."""
        deadline = time.monotonic() + EXIT_RECORD_WAIT
        while time.monotonic() < deadline:
            events = self.containers.events.history(since_nano=since)
            if any(e.actor_id == cid and e.action == "die" for e in events):
                return
            await asyncio.sleep(0.02)

    async def _remove(self, cid: str) -> None:
        try:
            await self.containers.remove(cid, force=True, volumes=True)
        except Exception as e:  # logged: the step's own error is what the client needs
            log.warning("removing build container %s: %s", cid[:12], e)
        finally:
            self.active.discard(cid)


__all__ = ["BUILD_LABEL", "KILL_EVERY", "ContainerRunner"]
