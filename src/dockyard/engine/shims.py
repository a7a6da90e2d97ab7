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
import json
import logging
import os
import sys
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


async def spawn_shim(opts: ShimOptions) -> int:
    """Start the shim; answer the container's init pid once the runtime created it."""
    r, w = os.pipe()
    argv = [
        sys.executable, "-I", "-S", "-c", SHIM_BOOT,
        "--id", opts.container_id,
        "--bundle", str(opts.bundle),
        "--state-dir", str(opts.state_dir),
        "--exec-root", str(opts.exec_root),
        "--runtime", opts.runtime,
        "--cgroups-path", opts.cgroups_path,
        "--log-file", str(opts.log_file),
        "--log-max-size", str(opts.log_max_size),
        "--log-max-file", str(opts.log_max_file),
        "--ready-fd", str(w),
    ]  # fmt: skip
    argv += [f for f, on in (("--tty", opts.tty), ("--stdin", opts.stdin),
                             ("--stdin-once", opts.stdin_once)) if on]  # fmt: skip
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
