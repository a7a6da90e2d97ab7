"""The shim's server: record the create, serve the socket, record the exit.

``main.py`` has detached and started ``<runtime> create``; ``serve`` waits for it, writes
``ok <pid>`` or ``error <message>`` to the ready fd and serves ``protocol.py`` until the
container has exited, then writes ``exit.json`` to the state dir, runs ``<runtime>
delete`` and exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

from dockyard._internal.atomicfile import write_atomic

from . import protocol, stdio
from .execs import ExecProcesses
from .logs import JsonFileWriter, rfc3339_nano
from .main import Args, Creating

log = logging.getLogger("dockyard.shim")

EXIT_FILE = "exit.json"
DRAIN_TIMEOUT = 2.0


def serve(args: Args, created: Creating | BaseException) -> int:
    logging.basicConfig(
        filename=f"{args.bundle}/shim.log",
        level=logging.DEBUG if os.environ.get("DOCKYARD_SHIM_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s shim: %(message)s",
    )
    try:
        return asyncio.run(Shim(args, created).run())
    except Exception:
        log.exception("shim failed")
        return 1


class Shim:
    def __init__(self, args: Args, created: Creating | BaseException) -> None:
        self.args = args
        self.created = created
        self.id: str = args.id
        self.state_dir = Path(args.state_dir)
        self.root = f"{args.exec_root}/runtime"
        self.sock_path = protocol.socket_path(Path(args.exec_root), self.id)
        self.pid = 0
        self.started_at = ""
        self.exit: dict[str, Any] | None = None
        self.exited = asyncio.Event()
        self.drained = asyncio.Event()
        self.recorded = asyncio.Event()  # exit.json written: "wait" answers
        self.finished = asyncio.Event()  # and the runtime's state deleted
        self.children: dict[int, asyncio.Future[int]] = {}
        self.clients: set[tuple[asyncio.StreamWriter, frozenset[int]]] = set()
        self.stdio: stdio.ContainerStdio | None = None
        self.stdin_transport: asyncio.WriteTransport | None = None
        self.open_outputs: set[int] = set()
        self.logs = JsonFileWriter(Path(args.log_file), args.log_max_size, args.log_max_file)
        self.execs = ExecProcesses(self)  # ``exec`` requests (shim/execs.py)

    # -- set-up ------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        try:
            self.pid, self.stdio = self._create()
        except Exception as e:
            log.error("create failed: %s", e)
            self._ready(f"error {e}")
            return 1
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, lambda: None)  # only the container ends us
        self.sock_path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(
            self._serve, str(self.sock_path), limit=protocol.LINE_LIMIT
        )
        os.chmod(self.sock_path, 0o600)
        self._start_io(loop)
        self._ready(f"ok {self.pid}")
        self._reap()  # the init may be gone already
        await self.exited.wait()
        try:
            await asyncio.wait_for(self.drained.wait(), DRAIN_TIMEOUT)
        except TimeoutError:
            log.warning("output still open %.0fs after the exit", DRAIN_TIMEOUT)
        await self.execs.shutdown()
        self.logs.close()
        assert self.exit is not None
        write_atomic(
            str(self.state_dir / EXIT_FILE),
            json.dumps(self.exit).encode(),
            mode=0o644,
            durable=True,
        )
        # "wait" answers now: the runtime's delete below is not on the caller's path (the
        # daemon starts this container again only once this socket is gone)
        self.recorded.set()
        await self._runtime("delete", "--force", self.id)
        self.finished.set()
        self._finish_clients()
        server.close()
        self.sock_path.unlink(missing_ok=True)
        # let the answers to "wait" reach their clients
        await asyncio.sleep(0.05)
        log.info("container %s exited: %s", self.id, self.exit)
        return 0

    def _ready(self, message: str) -> None:
        fd = self.args.ready_fd
        if fd < 0:
            return
        try:
            os.write(fd, message.encode() + b"\n")
        except OSError:
            pass
        os.close(fd)
        self.args.ready_fd = -1

    def _create(self) -> tuple[int, stdio.ContainerStdio]:
        created = self.created
        if isinstance(created, BaseException):
            raise created
        log.info("running %s", created.cmd)
        return created.finish()

    def _start_io(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.stdio is not None
        for fd, stream in self.stdio.outputs.items():
            os.set_blocking(fd, False)
            self.open_outputs.add(fd)
            loop.add_reader(fd, self._output, fd, stream)
        if not self.open_outputs:
            self.drained.set()
        if self.stdio.stdin is not None:
            pipe = os.fdopen(self.stdio.stdin, "wb", buffering=0)
            loop.create_task(self._connect_stdin(loop, pipe))

    async def _connect_stdin(self, loop: asyncio.AbstractEventLoop, pipe: Any) -> None:
        transport, _ = await loop.connect_write_pipe(asyncio.Protocol, pipe)
        self.stdin_transport = transport

    # -- output, exit ------------------------------------------------------------------

    def _output(self, fd: int, stream: int) -> None:
        loop = asyncio.get_running_loop()
        data = stdio.read_output(fd, self.open_outputs, loop, self.drained)
        if not data:
            return
        self.logs.write(stream, data)
        message = protocol.frame(stream, data)
        for writer, streams in list(self.clients):
            if stream in streams and not writer.is_closing():
                writer.write(message)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            if pid == self.pid and self.exit is None:
                self._exited(128 - code if code < 0 else code)
            future = self.children.pop(pid, None)
            if future is not None and not future.done():
                future.set_result(code)
            elif future is None and pid != self.pid:
                self.execs.reaped(pid, code)  # an exec's process, re-parented to us

    def _exited(self, code: int) -> None:
        oom = False
        if self.args.cgroups_path:
            try:
                from dockyard.cgroups import manager_for

                oom = manager_for(self.args.cgroups_path).oom_killed()
            except Exception as e:  # the status matters more than the oom flag
                log.warning("oom state unknown: %s", e)
        self.exit = {
            "exit_code": code,
            "oom_killed": oom,
            "started_at": self.started_at,
            "finished_at": rfc3339_nano(time.time_ns()),
            "pid": self.pid,
        }
        self.exited.set()

    def _finish_clients(self) -> None:
        for writer, _ in list(self.clients):
            writer.close()
        self.clients.clear()
        if self.stdin_transport is not None:
            self.stdin_transport.close()

    async def _runtime(self, *args: str) -> tuple[int, str]:
        """Run the runtime; its children are reaped by ``_reap``, hence no subprocess."""
        r, w = os.pipe()
        cmd = [self.args.runtime, "--root", self.root, *args]
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        pid = os.posix_spawnp(
            cmd[0],
            cmd,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, w, 1),
                (os.POSIX_SPAWN_DUP2, w, 2),
            ],
        )
        self.children[pid] = future
        os.close(w)
        self._reap()
        try:
            code = await future
        finally:
            output = stdio.read_available(r).decode(errors="replace").strip()
            os.close(r)
        if code != 0:
            log.warning("%s: exit %d: %s", cmd, code, output)
        return code, output

    # -- the control socket ------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    request = json.loads(line)
                    answer = await self._handle(request, reader, writer)
                except Exception as e:  # answer every request
                    answer = {"ok": False, "error": str(e)}
                if answer is None:  # attached: the connection is now frames
                    return
                writer.write(protocol.encode(answer))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            if not any(w is writer for w, _ in self.clients):
                writer.close()

    async def _handle(
        self, req: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Any] | None:
        op = req.get("op")
        if op == "exec" or req.get("exec"):
            return await self.execs.handle(req, reader, writer)
        if op == "state":
            return {"ok": True, **self._state()}
        if op == "start":
            if self.started_at or self.exit is not None:
                return {"ok": False, "error": "container already started"}
            self.started_at = rfc3339_nano(time.time_ns())
            code, output = await self._runtime("start", self.id)
            if code != 0:
                self.started_at = ""
                return {"ok": False, "error": output.splitlines()[-1] if output else "failed"}
            return {"ok": True, **self._state()}
        if op == "kill":
            if self.exit is not None:
                return {"ok": False, "error": "container is not running"}
            os.kill(self.pid, int(req.get("signal", signal.SIGKILL)))
            return {"ok": True}
        if op == "resize":
            if self.stdio is not None and self.stdio.master is not None:
                stdio.resize(self.stdio.master, int(req["height"]), int(req["width"]))
            return {"ok": True}
        if op == "wait":
            await self.recorded.wait()
            return {"ok": True, **self._state()}
        if op == "attach":
            streams = frozenset(n for n, key in ((1, "stdout"), (2, "stderr")) if req.get(key))
            tty = self.stdio is not None and self.stdio.tty
            writer.write(protocol.encode({"ok": True, "tty": tty}))
            await writer.drain()
            entry = (writer, streams)
            if self.exit is not None and self.drained.is_set():
                writer.close()
                return None
            self.clients.add(entry)
            asyncio.get_running_loop().create_task(
                self._attached_input(reader, writer, entry, bool(req.get("stdin")))
            )
            return None
        return {"ok": False, "error": f"unknown request {op!r}"}

    async def _attached_input(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        entry: tuple[asyncio.StreamWriter, frozenset[int]],
        stdin: bool,
    ) -> None:
        while True:
            got = await protocol.read_frame(reader)
            if got is None:
                break
            stream, data = got
            if not stdin:
                continue
            if stream == protocol.STDIN and data and self.stdin_transport is not None:
                self.stdin_transport.write(data)
            elif stream == protocol.CLOSE_STDIN:
                self._close_stdin()
        self.clients.discard(entry)
        writer.close()

    def _close_stdin(self) -> None:
        assert self.stdio is not None
        if self.args.stdin_once and not self.stdio.tty and self.stdin_transport is not None:
            self.stdin_transport.close()  # flushes what is buffered first

    def _state(self) -> dict[str, Any]:
        if self.exit is not None:
            status = "exited"
        elif self.started_at:
            status = "running"
        else:
            status = "created"
        return {"pid": self.pid, "status": status, "started_at": self.started_at,
                "exit": self.exit}  # fmt: skip
