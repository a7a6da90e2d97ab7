"""Starting shims and running the OCI runtime for the verbs the shim does not own.

``spawn_shim`` starts the shim (``dockyard.shim.main``, as ``python -m dockyard.shim``
would, but isolated and without ``site``: ``-I -S`` and our own package's dir on
``sys.path``, as the runtime's launcher) in its own session and waits for its
``ok <pid>``/``error <message>`` line; the shim forks once more, so it is not our child
and outlives the daemon. ``run_runtime`` runs ``<runtime> --root <root> ARGS`` (pause,
resume, ps, delete) and raises with the runtime's own message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dockyard
from dockyard.errors import SystemFault

log = logging.getLogger(__name__)

EXIT_FILE = "exit.json"
READY_TIMEOUT = 30.0

# the dir that holds the ``dockyard`` package: the shim needs nothing from site-packages
_SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))
SHIM_BOOT = (
    f"import sys; sys.path.insert(0, {_SOURCE_DIR!r}); "
    "from dockyard.shim.main import main; sys.exit(main())"
)


@dataclass(frozen=True)
class ShimOptions:
    container_id: str
    bundle: Path
    state_dir: Path
    exec_root: Path
    runtime: str
    cgroups_path: str
    log_file: Path
    log_max_size: int
    log_max_file: int
    tty: bool
    stdin: bool
    stdin_once: bool


def shim_args(opts: ShimOptions) -> list[str]:
    """The shim's command line for ``opts`` (without the ready fd)."""
    argv = [
        "--id", opts.container_id,
        "--bundle", str(opts.bundle),
        "--state-dir", str(opts.state_dir),
        "--exec-root", str(opts.exec_root),
        "--runtime", opts.runtime,
        "--cgroups-path", opts.cgroups_path,
        "--log-file", str(opts.log_file),
        "--log-max-size", str(opts.log_max_size),
        "--log-max-file", str(opts.log_max_file),
    ]  # fmt: skip
    return argv + [f for f, on in (("--tty", opts.tty), ("--stdin", opts.stdin),
                                   ("--stdin-once", opts.stdin_once)) if on]  # fmt: skip


async def spawn_shim(opts: ShimOptions) -> int:
    """Start the shim; answer the container's init pid once the runtime created it."""
    r, w = os.pipe()
    argv = [sys.executable, "-I", "-S", "-c", SHIM_BOOT, *shim_args(opts), "--ready-fd", str(w)]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            pass_fds=(w,),
            start_new_session=True,
            cwd="/",
        )
    finally:
        os.close(w)
    try:
        await proc.wait()  # the first process leaves at once; the shim goes on
        line = await asyncio.wait_for(asyncio.to_thread(_read_all, r), READY_TIMEOUT)
    finally:
        os.close(r)
    return _ready_pid(line)


def _ready_pid(line: str) -> int:
    word, _, rest = line.strip().partition(" ")
    if word != "ok":
        raise SystemFault(
            f"failed to create the container: {rest or 'the shim died (see its shim.log)'}"
        )
    return int(rest)


def _read_all(fd: int) -> str:
    out = b""
    while not out.endswith(b"\n") and (chunk := os.read(fd, 4096)):
        out += chunk
    return out.decode(errors="replace")


class ShimPool:
    """Starts container shims; keeps one spare shim (``shim/main.py --spare``) that has its
    imports done, so that a container start does not wait for them (~40 ms here). A start
    hands the spare its arguments and a new spare is started in the background; without a
    spare, ``spawn_shim`` starts one from scratch."""

    def __init__(self, exec_root: Path, spare: bool = True) -> None:
        self.exec_root = exec_root
        self._spare: Path | None = None  # the socket of a spare that is listening
        self._starting: asyncio.Task[None] | None = None
        self._closed = not spare

    def refill(self) -> None:
        if self._closed or self._spare is not None or self._starting is not None:
            return
        self._starting = asyncio.get_running_loop().create_task(self._start_spare())
        self._starting.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[None]) -> None:
        self._starting = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("no spare shim: %s", task.exception())

    async def _start_spare(self) -> None:
        shims = self.exec_root / "shims"
        shims.mkdir(parents=True, exist_ok=True)
        path = shims / f"spare-{secrets.token_hex(6)}.sock"
        argv = [sys.executable, "-I", "-S", "-c", SHIM_BOOT, "--spare", str(path), "--parent",
                str(os.getpid())]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )
        await proc.wait()  # the first process leaves at once; the spare goes on
        deadline = time.monotonic() + READY_TIMEOUT
        while not path.exists():
            if time.monotonic() > deadline:
                raise SystemFault(f"the spare shim did not listen on {path}")
            await asyncio.sleep(0.01)
        if self._closed:
            await _tell(path, b"quit\n")
            return
        self._spare = path

    async def spawn(self, opts: ShimOptions) -> int:
        """Start the shim of a container; answer its init pid (as ``spawn_shim``)."""
        path, self._spare = self._spare, None
        self.refill()
        if path is not None:
            try:
                line = await _tell(path, ("\0".join(shim_args(opts)) + "\n").encode())
            except OSError as e:
                log.warning("spare shim %s unusable (%s): starting a fresh one", path, e)
            else:
                return _ready_pid(line)
        return await spawn_shim(opts)

    async def close(self) -> None:
        """Let the spare go (running containers' shims are not touched)."""
        self._closed = True
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(BaseException):
                await self._starting
        path, self._spare = self._spare, None
        if path is not None:
            with contextlib.suppress(OSError):
                await _tell(path, b"quit\n")


async def _tell(path: Path, message: bytes) -> str:
    """Send ``message`` to a spare shim's socket; answer its reply line."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(message)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), READY_TIMEOUT)
    finally:
        writer.close()
    return line.decode(errors="replace")


async def run_runtime(runtime: str, root: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        runtime,
        "--root",
        str(root),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip().removeprefix("dockyard-runtime: ")
        raise SystemFault(f"runtime {args[0]}: {message or f'exit {proc.returncode}'}")
    return out.decode(errors="replace")


def read_exit(state_dir: Path) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = json.loads((state_dir / EXIT_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc
