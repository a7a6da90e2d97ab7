"""Exec processes under the shim: ``<runtime> exec -d``, their stdio and exit codes.

The ``exec`` request (``protocol.py``) carries an exec id and a whole OCI process (the
engine builds it from the container's config.json). The shim writes it to a file, runs
``<runtime> --root <root> exec --process <file> [--console-socket <sock>] --pid-file
<file> --detach <container>`` with the exec's stdio (pipes, or a pty received over the
console socket, as for the container itself) and answers ``{"ok": true, "pid": N}``. The
connection then carries frames as after ``attach`` (stdin to the exec, its stdout and
stderr back) and ends with one ``EXIT`` frame (``{"exit_code": N}``) once the exec has
exited and its output is drained. Exec output is not logged (as with Docker).

With ``--detach`` the runtime leaves once the process runs, and the process is re-parented
to the shim (a child subreaper): the shim's ``_reap`` hands its status to ``reaped``. A
quick process (``true``) can be reaped before its pid file is read: the status is kept,
tagged with a reap count, and claimed by the exec whose runtime started before it.

Requests that name an exec (``{"op": "resize"|"kill", "exec": ID, ...}``) act on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
from typing import TYPE_CHECKING, Any

from . import paths, protocol, stdio

if TYPE_CHECKING:
    from .server import Shim

log = logging.getLogger("dockyard.shim")

DRAIN_TIMEOUT = 2.0  # output still open this long after the exit is cut off
CONSOLE_TIMEOUT = 5.0
UNCLAIMED_LIMIT = 256
_RUNC_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


class ExecProcess:
    """One exec: its pid, the shim's ends of its stdio, and its exit."""

    def __init__(
        self, exec_id: str, io: stdio.ContainerStdio, streams: frozenset[int], open_stdin: bool
    ) -> None:
        self.id = exec_id
        self.io = io
        self.streams = streams  # the output streams the client wants
        self.open_stdin = open_stdin
        self.pid = 0
        self.exit_code: int | None = None
        self.exited = asyncio.Event()
        self.drained = asyncio.Event()
        self.open_outputs: set[int] = set()
        self.stdin: asyncio.WriteTransport | None = None

    def set_exit(self, status: int) -> None:
        if self.exit_code is None:
            self.exit_code = 128 - status if status < 0 else status
            self.exited.set()


class ExecProcesses:
    """The execs of one container's shim (see the module doc)."""

    def __init__(self, shim: Shim) -> None:
        self.shim = shim
        self.reaps = 0  # children reaped that were not the shim's own
        self.running: dict[str, ExecProcess] = {}
        self._by_pid: dict[int, ExecProcess] = {}
        self._unclaimed: dict[int, tuple[int, int]] = {}  # pid -> (reap count, status)

    # -- called by the server ------------------------------------------------------------

    def reaped(self, pid: int, status: int) -> None:
        """A child that is neither the init nor a runtime run by the shim has exited."""
        self.reaps += 1
        ex = self._by_pid.pop(pid, None)
        if ex is not None:
            ex.set_exit(status)
            return
        self._unclaimed[pid] = (self.reaps, status)
        while len(self._unclaimed) > UNCLAIMED_LIMIT:
            del self._unclaimed[next(iter(self._unclaimed))]

    async def handle(
        self, req: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Any] | None:
        op = req.get("op")
        if op == "exec":
            return await self._exec(req, reader, writer)
        ex = self.running.get(str(req.get("exec")))
        if ex is None or ex.exit_code is not None:
            return {"ok": False, "error": f"exec {req.get('exec')} is not running"}
        if op == "kill":
            os.kill(ex.pid, int(req.get("signal", signal.SIGKILL)))
            return {"ok": True}
        if op == "resize":
            if ex.io.master is not None:
                stdio.resize(ex.io.master, int(req["height"]), int(req["width"]))
            return {"ok": True}
        return {"ok": False, "error": f"unknown exec request {op!r}"}

    async def shutdown(self) -> None:
        """The container has exited: end its execs (the kernel kills them with a pid
        namespace; without one they would outlive it) and let their clients finish."""
        for ex in list(self.running.values()):
            if ex.exit_code is None and ex.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(ex.pid, signal.SIGKILL)
        waits = [ex.drained.wait() for ex in self.running.values()]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), DRAIN_TIMEOUT * 2)

    # -- one exec ------------------------------------------------------------------------

    async def _exec(
        self, req: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Any] | None:
        shim = self.shim
        if shim.exit is not None or not shim.started_at:
            return {"ok": False, "error": "container is not running"}
        exec_id = str(req.get("id") or "")
        process = req.get("process")
        if not exec_id or not isinstance(process, dict) or exec_id in self.running:
            return {"ok": False, "error": "exec: give a new id and a process"}
        tty = bool(process.get("terminal"))
        streams = frozenset(n for n, key in ((1, "stdout"), (2, "stderr")) if req.get(key))
        open_stdin = bool(req.get("stdin"))
        ex = ExecProcess(exec_id, self._stdio(tty, open_stdin), streams, open_stdin)
        try:
            error = await self._run_runtime(ex, process)
        except BaseException:
            if ex.pid:  # it runs, but without its stdio it cannot be served
                with contextlib.suppress(ProcessLookupError):
                    os.kill(ex.pid, signal.SIGKILL)
            _close_all(ex.io)
            raise
        if error is not None:
            _close_all(ex.io)
            return {"ok": False, "error": error}
        if tty and ex.io.master is not None and req.get("height") and req.get("width"):
            with contextlib.suppress(OSError):
                stdio.resize(ex.io.master, int(req["height"]), int(req["width"]))
        self.running[exec_id] = ex
        log.info("exec %s started: pid %d, %s", exec_id[:12], ex.pid, process.get("args"))
        try:
            writer.write(protocol.encode({"ok": True, "pid": ex.pid, "tty": tty}))
            await self._relay(ex, reader, writer)
        finally:
            self.running.pop(exec_id, None)
            self._by_pid.pop(ex.pid, None)
            _close_all(ex.io)
        return None  # the connection is done; the server closes it

    def _stdio(self, tty: bool, open_stdin: bool) -> stdio.ContainerStdio:
        if tty:
            return stdio.terminal_placeholder()
        return stdio.pipes(open_stdin)

    async def _run_runtime(self, ex: ExecProcess, process: dict[str, Any]) -> str | None:
        """Start the exec through the runtime; None, or the runtime's error."""
        shim = self.shim
        args = shim.args
        base = f"{args.bundle}/exec-{ex.id[:12]}"
        process_file, pid_file = f"{base}.json", f"{base}.pid"
        fd = os.open(process_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(process, f)
        cmd = [args.runtime, "--root", shim.root, "exec", "--process", process_file]
        console: stdio.ConsoleReceiver | None = None
        if ex.io.tty:
            console_path = f"{paths.shims_dir(args.exec_root)}/{shim.id[:16]}-{ex.id[:8]}.tty"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(console_path)
            console = stdio.ConsoleReceiver(console_path)
            cmd += ["--console-socket", console_path]
        cmd += ["--pid-file", pid_file, "--detach", shim.id]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        reaps_before = self.reaps
        try:
            try:
                pid = os.posix_spawnp(
                    cmd[0],
                    cmd,
                    dict(os.environ),
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, child, n) for n, child in enumerate(ex.io.child_fds)
                    ],
                )
            finally:
                ex.io.close_child_fds()  # the runtime (and then the exec) holds them now
            shim.children[pid] = future
            shim._reap()
            code = await future
            if code != 0:
                raw = stdio.read_available(ex.io.error_fd).decode(errors="replace").strip()
                return runtime_error(raw) or f"runtime exec: exit status {code}"
            with open(pid_file) as f:
                ex.pid = int(f.read().strip())
            if console is not None:
                ex.io.master = await asyncio.to_thread(console.result, CONSOLE_TIMEOUT)
                console = None
                ex.io.outputs = {ex.io.master: 1}
                if ex.open_stdin:
                    ex.io.stdin = os.dup(ex.io.master)
        finally:
            if console is not None:
                console.close()
            for name in (process_file, pid_file):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
        if ex.io.error_fd not in ex.io.outputs:
            os.close(ex.io.error_fd)
        ex.io.error_fd = -1
        self.claim(ex, reaps_before)
        return None

    def claim(self, ex: ExecProcess, reaps_before: int) -> None:
        """Watch for ``ex.pid``'s exit, or take the status reaped since ``reaps_before``
        (a status reaped earlier belongs to an older process that had the same pid)."""
        seen = self._unclaimed.pop(ex.pid, None)
        if seen is not None and seen[0] > reaps_before:
            ex.set_exit(seen[1])
        else:
            self._by_pid[ex.pid] = ex

    async def _relay(
        self, ex: ExecProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        for fd, stream in ex.io.outputs.items():
            os.set_blocking(fd, False)
            ex.open_outputs.add(fd)
            loop.add_reader(fd, self._output, ex, fd, stream, writer)
        if not ex.open_outputs:
            ex.drained.set()
        if ex.io.stdin is not None:
            pipe = os.fdopen(ex.io.stdin, "wb", buffering=0)
            ex.io.stdin = None  # the transport owns (and closes) it now
            ex.stdin, _ = await loop.connect_write_pipe(asyncio.Protocol, pipe)
        inputs = loop.create_task(self._input(ex, reader))
        try:
            await ex.exited.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ex.drained.wait(), DRAIN_TIMEOUT)
        finally:
            inputs.cancel()
            with contextlib.suppress(BaseException):
                await inputs
            for fd in list(ex.open_outputs):
                loop.remove_reader(fd)
                os.close(fd)
            ex.open_outputs.clear()
            ex.io.outputs = {}
            ex.io.master = None  # closed with the outputs
            ex.drained.set()
            if ex.stdin is not None:
                ex.stdin.close()
        log.info("exec %s exited with %s", ex.id[:12], ex.exit_code)
        if not writer.is_closing():
            done = json.dumps({"exit_code": ex.exit_code}).encode()
            writer.write(protocol.frame(protocol.EXIT, done))
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    def _output(self, ex: ExecProcess, fd: int, stream: int, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        data = stdio.read_output(fd, ex.open_outputs, loop, ex.drained)
        if data and stream in ex.streams and not writer.is_closing():
            writer.write(protocol.frame(stream, data))

    async def _input(self, ex: ExecProcess, reader: asyncio.StreamReader) -> None:
        while (got := await protocol.read_frame(reader)) is not None:
            stream, data = got
            if stream == protocol.STDIN and data and ex.stdin is not None:
                ex.stdin.write(data)
            elif stream == protocol.CLOSE_STDIN and ex.stdin is not None and not ex.io.tty:
                ex.stdin.close()  # flushes what is buffered first
                ex.stdin = None


def _close_all(io: stdio.ContainerStdio) -> None:
    io.close_child_fds()
    fds = {*io.outputs, io.error_fd, io.stdin if io.stdin is not None else -1}
    if io.master is not None:
        fds.add(io.master)
    for fd in fds:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
    io.outputs = {}
    io.stdin = None
    io.master = None
    io.error_fd = -1


def runtime_error(output: str) -> str:
    """The runtime's one-line error: runc's and crun's log records carry it in msg="..."."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    found = _RUNC_MSG.search(last)
    if found:
        last = found.group(1).replace('\\"', '"')
    for prefix in ("dockyard-runtime: ", "runc: ", "crun: "):
        last = last.removeprefix(prefix)
    return last.strip()
