"""``ExecService``: ``docker exec``, the exec instances of running containers.

An exec is created (a record in memory: dockerd too forgets them at a restart), then
started once: the service builds its OCI process (``execspec.py``) from the container's
config.json and asks the container's shim to run it (``exec`` in ``shim/protocol.py``).
The connection to the shim stays open for the exec's life (``ExecSession``): it carries
the exec's stdin and its output to the attached client, if any, and at the end its exit
code, which is recorded *before* the client's stream ends (the docker CLI asks
``GET /exec/{id}/json`` for the exit code as soon as the stream closes).

A process that cannot be started is reported as dockerd does: ``OCI runtime exec
failed: ...``, exit code 127 for a command that is not found, 126 for any other failure.
Events: ``exec_create: CMD``, ``exec_start: CMD``, ``exec_die`` (``exitCode``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, SystemFault
from dockyard.shim import protocol

from .execspec import command_of, describe_command, exec_process

if TYPE_CHECKING:
    from .containerrecord import Container
    from .containers import ContainerService

log = logging.getLogger(__name__)

KEEP_FINISHED = 300.0  # seconds a finished exec stays inspectable (dockerd's exec GC)
LOST = 255  # the exit code of an exec whose shim went away without telling


@dataclass
class ExecRecord:
    """One exec instance (Docker's ExecConfig)."""

    id: str
    container_id: str
    config: dict[str, Any]  # the create body
    args: list[str]
    tty: bool
    open_stdin: bool
    open_stdout: bool
    open_stderr: bool
    privileged: bool
    user: str
    detach_keys: str
    console_size: tuple[int, int] | None
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    finished: float = 0.0
    session: ExecSession | None = field(default=None, repr=False)


class ExecSession:
    """The engine's connection to one running exec in its shim.

    ``read()``/``write()``/``close_stdin()`` serve the attached client (``AttachPump``);
    ``close()`` means the client left: the exec goes on, its output is dropped, and the
    session still records its exit.
    """

    def __init__(
        self, conn: protocol.ShimConnection, *, tty: bool, attached: bool, on_exit: Any
    ) -> None:
        self.tty = tty
        self._conn = conn
        self._attached = attached
        self._on_exit = on_exit
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._ended = False
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        code: int | None = None
        try:
            while (got := await protocol.read_frame(self._conn.reader)) is not None:
                stream, data = got
                if stream == protocol.EXIT:
                    code = int(json.loads(data).get("exit_code", LOST))
                    break
                if self._attached and data:
                    self._queue.put_nowait(got)
        except Exception as e:  # the exit must be recorded whatever happened
            log.warning("exec stream broke off: %s", e)
        finally:
            self._conn.close()
            self._on_exit(LOST if code is None else code)
            self._ended = True
            self._queue.put_nowait(None)
            self.done.set()

    async def read(self) -> tuple[int, bytes] | None:
        if self._ended and self._queue.empty():
            return None
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
        return item

    async def write(self, data: bytes) -> None:
        await self._send(protocol.frame(protocol.STDIN, data))

    async def close_stdin(self) -> None:
        await self._send(protocol.frame(protocol.CLOSE_STDIN, b""))

    async def _send(self, message: bytes) -> None:
        writer = self._conn.writer
        if self._ended or writer.is_closing():
            return
        writer.write(message)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def close(self) -> None:
        self._attached = False
        while not self._queue.empty():
            if self._queue.get_nowait() is None:
                self._queue.put_nowait(None)
                break


class ExecService:
    """The exec verbs of the Engine API (see the module doc)."""

    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self._execs: dict[str, ExecRecord] = {}

    # -- create --------------------------------------------------------------------------

    async def create(self, ref: str, body: dict[str, Any]) -> str:
        c = self._running_container(ref)
        args = command_of(body)
        size = body.get("ConsoleSize")
        console_size = None
        if size:
            if not isinstance(size, list) or len(size) != 2 or min(int(v) for v in size) < 0:
                raise InvalidArgument("ConsoleSize: expected [height, width]")
            console_size = (int(size[0]), int(size[1]))
        self._forget_old()
        exec_id = secrets.token_hex(32)
        self._execs[exec_id] = ExecRecord(
            id=exec_id,
            container_id=c.id,
            config=dict(body),
            args=args,
            tty=bool(body.get("Tty")),
            open_stdin=bool(body.get("AttachStdin")),
            open_stdout=bool(body.get("AttachStdout")),
            open_stderr=bool(body.get("AttachStderr")),
            privileged=bool(body.get("Privileged")),
            user=str(body.get("User") or ""),
            detach_keys=str(body.get("DetachKeys") or ""),
            console_size=console_size,
        )
        self._emit(c, "exec_create: " + describe_command(body), exec_id)
        return exec_id

    def _running_container(self, ref: str) -> Container:
        c = self.containers._get(ref)
        if c.status == "paused":
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.status == "restarting":
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if not c.running:
            raise Conflict(f"container {c.id} is not running")
        return c

    def _forget_old(self) -> None:
        now = time.monotonic()
        for exec_id, rec in list(self._execs.items()):
            gone = rec.container_id not in self.containers._containers
            if gone or (rec.finished and now - rec.finished > KEEP_FINISHED):
                del self._execs[exec_id]

    # -- lookup --------------------------------------------------------------------------

    def get(self, exec_id: str) -> ExecRecord:
        rec = self._execs.get(exec_id)
        if rec is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return rec

    def check_startable(self, exec_id: str) -> ExecRecord:
        """The checks of ``start`` that come before the hijack (a proper HTTP status)."""
        rec = self.get(exec_id)
        if rec.exit_code is not None:
            raise Conflict(f"Error: Exec command {rec.id} has already run")
        if rec.running or rec.started:
            raise Conflict(f"Error: Exec command {rec.id} is already running")
        self._running_container(rec.container_id)
        return rec

    # -- start ---------------------------------------------------------------------------

    async def start(
        self,
        exec_id: str,
        *,
        detach: bool,
        tty: bool | None = None,
        console_size: tuple[int, int] | None = None,
    ) -> ExecSession:
        """Run the exec; answer its session (attached unless ``detach``). A process that
        cannot start raises, with its exit code recorded (126, or 127: not found)."""
        rec = self.check_startable(exec_id)
        c = self._running_container(rec.container_id)
        rec.started = rec.running = True
        self._emit(c, "exec_start: " + " ".join(rec.args), rec.id)
        size = console_size or rec.console_size
        try:
            process = await asyncio.to_thread(self._process, c, rec)
            conn = await protocol.ShimConnection.open(self.containers._sock(c.id))
            try:
                answer = await conn.call(
                    "exec",
                    id=rec.id,
                    process=process,
                    stdin=rec.open_stdin,
                    stdout=rec.open_stdout,
                    stderr=rec.open_stderr,
                    height=size[0] if size else 0,
                    width=size[1] if size else 0,
                )
            except BaseException:
                conn.close()
                raise
        except DockyardError as e:
            code, error = start_failure(str(e), rec.args[0])
            self._finish(rec, code)
            raise error from e
        rec.pid = int(answer.get("pid") or 0)
        session = ExecSession(
            conn,
            tty=rec.tty if tty is None else tty,
            attached=not detach,
            on_exit=lambda code: self._finish(rec, code),
        )
        rec.session = session
        session.begin()
        log.info("exec %s in %s: pid %d, %s", rec.id[:12], c.id[:12], rec.pid, rec.args)
        return session

    def _process(self, c: Container, rec: ExecRecord) -> dict[str, Any]:
        bundle = self.containers._bundle(c.id)
        try:
            spec = json.loads((bundle / "config.json").read_text())
        except (OSError, ValueError) as e:
            raise SystemFault(f"container {c.id[:12]} has no readable config.json: {e}") from e
        return exec_process(spec.get("process") or {}, c.config, rec.config, bundle / "rootfs")

    def _finish(self, rec: ExecRecord, code: int) -> None:
        if rec.exit_code is not None:
            return
        rec.exit_code = code
        rec.running = False
        rec.finished = time.monotonic()
        rec.session = None
        c = self.containers._containers.get(rec.container_id)
        if c is not None:
            self._emit(c, "exec_die", rec.id, exitCode=str(code))

    # -- a running exec ------------------------------------------------------------------

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        rec = self.get(exec_id)
        if not rec.running:
            raise Conflict(f"Exec {exec_id} is not running, so it can not be resized.")
        sock = self.containers._sock(rec.container_id)
        await protocol.call(sock, "resize", exec=rec.id, height=height, width=width)

    def _emit(self, c: Container, action: str, exec_id: str, **extra: str) -> None:
        self.containers.events.container(c, action, {"execID": exec_id, **extra})


def start_failure(message: str, argv0: str) -> tuple[int, DockyardError]:
    """dockerd's exit code and error for an exec that could not start."""
    low = message.lower()
    if "is not running" in low or "is paused" in low:
        return 126, Conflict(message)
    if "unable to find user" in low or "unable to find group" in low:
        return 126, InvalidArgument(message)
    not_found = "no such file" in low and argv0 in message
    if "executable file not found" in low or (not_found and "/" not in argv0):
        detail = f'exec: "{argv0}": executable file not found in $PATH'
        return 127, InvalidArgument(_oci(detail))
    if not_found:
        detail = f'exec: "{argv0}": stat {argv0}: no such file or directory'
        return 127, InvalidArgument(_oci(detail))
    if "permission denied" in low:
        detail = f'exec: "{argv0}": permission denied'
        return 126, InvalidArgument(_oci(detail))
    return 126, SystemFault(_oci(message))


def _oci(detail: str) -> str:
    if not detail.startswith("exec failed"):
        detail = f"exec failed: unable to start container process: {detail}"
    return f"OCI runtime exec failed: {detail}: unknown"
