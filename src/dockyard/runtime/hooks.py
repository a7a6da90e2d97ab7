"""OCI hooks: run each with the container state on stdin, honouring its timeout."""

from __future__ import annotations

import os
import time

from dockyard._internal import fastjson, lazylog
from dockyard.errors import SystemFault

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = lazylog.getLogger(__name__)


def run_hook(hook: dict[str, Any], state: dict[str, Any], kind: str) -> None:
    path = hook["path"]
    args = hook.get("args") or [path]
    env = dict(e.split("=", 1) for e in hook.get("env") or [] if "=" in e)
    timeout = hook.get("timeout")
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(path, args, env, file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
    except OSError as e:
        os.close(r)
        os.close(w)
        raise SystemFault(f"{kind} hook {path}: {e.strerror}") from None
    os.close(r)
    try:
        os.write(w, fastjson.dumps(state).encode())
    except BrokenPipeError:
        pass
    finally:
        os.close(w)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG if deadline else 0)
        if done:
            break
        if deadline is not None and time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise SystemFault(f"{kind} hook {path} timed out after {timeout}s")
        time.sleep(0.005)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemFault(f"{kind} hook {path} failed with exit status {code}")


def run_hooks(hooks: dict[str, list[dict[str, Any]]], kind: str, state: dict[str, Any]) -> None:
    """Run every hook of ``kind``; the first failure raises."""
    for hook in hooks.get(kind, []):
        log.debug("hook %s: %s", kind, hook["path"])
        run_hook(hook, state, kind)


def run_hooks_warn(
    hooks: dict[str, list[dict[str, Any]]], kind: str, state: dict[str, Any]
) -> None:
    """poststart and poststop: a failure is a warning and the rest still run (OCI)."""
    for hook in hooks.get(kind, []):
        try:
            run_hook(hook, state, kind)
        except SystemFault as e:
            log.warning("%s", e)
