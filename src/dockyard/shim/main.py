"""The shim process: detach, create the container with the runtime, serve, record exit.

Started as ``python -m dockyard.shim --id ID --bundle DIR --state-dir DIR --exec-root DIR
--runtime PATH ...`` with ``--ready-fd N``: it forks once more (so that it is nobody's
child but init's and survives the daemon), becomes a child subreaper (the container's
init is re-parented to it), runs ``<runtime> create`` and writes ``ok <pid>`` or
``error <message>`` to the ready fd. It serves ``protocol.py`` until the container has
exited, then writes ``exit.json`` to the state dir, runs ``<runtime> delete`` and exits.
"""

from __future__ import annotations

import argparse
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
from .logs import JsonFileWriter, rfc3339_nano

log = logging.getLogger("dockyard.shim")

EXIT_FILE = "exit.json"
DRAIN_TIMEOUT = 2.0


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dockyard-shim")
    p.add_argument("--id", required=True)
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--state-dir", required=True, type=Path)
    p.add_argument("--exec-root", required=True, type=Path)
    p.add_argument("--runtime", required=True)
    p.add_argument("--cgroups-path", default="")
    p.add_argument("--log-file", required=True, type=Path)
    p.add_argument("--log-max-size", type=int, default=0)
    p.add_argument("--log-max-file", type=int, default=1)
    p.add_argument("--tty", action="store_true")
    p.add_argument("--stdin", action="store_true")
    p.add_argument("--stdin-once", action="store_true")
    p.add_argument("--ready-fd", type=int, default=-1)
    p.add_argument("--foreground", action="store_true", help="do not fork (for debugging)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.ready_fd >= 0:
        os.set_inheritable(args.ready_fd, False)  # the container must not hold it open
    if not args.foreground and os.fork() != 0:
        os._exit(0)  # the daemon reaps this one; the shim goes on re-parented to init
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    logging.basicConfig(
        filename=str(args.bundle / "shim.log"),
        level=logging.DEBUG if os.environ.get("DOCKYARD_SHIM_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s shim: %(message)s",
    )
    from dockyard.kernel.process import set_child_subreaper, set_name

    set_child_subreaper(True)
    set_name("dockyard-shim")
    try:
        return asyncio.run(Shim(args).run())
    except Exception:
        log.exception("shim failed")
        return 1


class Shim:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.id: str = args.id
        self.root = str(args.exec_root / "runtime")
        self.sock_path = protocol.socket_path(args.exec_root, self.id)
        self.pid = 0
        self.started_at = ""
        self.exit: dict[str, Any] | None = None
        self.exited = asyncio.Event()
        self.drained = asyncio.Event()
        self.finished = asyncio.Event()  # exit.json written, the runtime's state deleted
        self.children: dict[int, asyncio.Future[int]] = {}
        self.clients: set[tuple[asyncio.StreamWriter, frozenset[int]]] = set()
        self.stdio: stdio.ContainerStdio | None = None
        self.stdin_transport: asyncio.WriteTransport | None = None
        self.open_outputs: set[int] = set()
        self.logs = JsonFileWriter(args.log_file, args.log_max_size, args.log_max_file)

    # -- set-up ------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.sock_path.parent.mkdir(parents=True, exist_ok=True)
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
        self.logs.close()
        assert self.exit is not None
        write_atomic(
            str(self.args.state_dir / EXIT_FILE),
            json.dumps(self.exit).encode(),
            mode=0o644,
            durable=True,
        )
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
        a = self.args
        pid_file = a.bundle / "init.pid"
        cmd = [a.runtime, "--root", self.root, "create", "--bundle", str(a.bundle)]
        cmd += ["--pid-file", str(pid_file)]
        console = None
        if a.tty:
            io = stdio.terminal_placeholder()
            console_path = str(protocol.console_path(a.exec_root, self.id))
            try:
                os.unlink(console_path)
            except FileNotFoundError:
                pass
            console = stdio.ConsoleReceiver(console_path)
            cmd += ["--console-socket", console_path]
        else:
            io = stdio.pipes(a.stdin)
        cmd.append(self.id)
        log.info("running %s", cmd)
        try:
            pid = os.posix_spawnp(
                cmd[0],
                cmd,
                dict(os.environ),
                file_actions=[(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(io.child_fds)],
                setsid=False,
            )
            _, status = os.waitpid(pid, 0)
        except BaseException:
            if console is not None:
                console.close()
            raise
        io.close_child_fds()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            if console is not None:
                console.close()
            message = stdio.read_available(io.error_fd).decode(errors="replace").strip()
            raise RuntimeError(message.splitlines()[-1] if message else f"runtime exit {code}")
        if console is not None:
            io.master = console.result(5.0)
            io.outputs = {io.master: 1}
            if a.stdin:
                io.stdin = os.dup(io.master)
        if io.error_fd not in io.outputs:
            os.close(io.error_fd)
        return int(pid_file.read_text().strip()), io

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
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's last slave closed
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)
            self.open_outputs.discard(fd)
            if not self.open_outputs:
                self.drained.set()
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
            await self.finished.wait()
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
