"""The verbs on an existing container: start, kill, delete, pause, resume, state, ps."""

from __future__ import annotations

import os
import select
import time

from dockyard._internal import lazylog
from dockyard.errors import Conflict, InvalidArgument

from .hooks import run_hooks_warn
from .state import Container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cgroups import CgroupManager

log = lazylog.getLogger(__name__)

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
    "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
    "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
    "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}  # fmt: skip


def parse_signal(text: str) -> int:
    """'TERM', 'SIGTERM', '15' or 'RTMIN+3' as a signal number."""
    t = text.upper()
    if t.isdigit():
        n = int(t)
    else:
        t = t.removeprefix("SIG")
        if t.startswith(("RTMIN", "RTMAX")):
            base = 34 if t.startswith("RTMIN") else 64
            off = t[5:]
            n = base + (int(off) if off else 0) if not off.startswith("-") else base - int(off[1:])
        elif t in SIGNALS:
            n = SIGNALS[t]
        else:
            raise InvalidArgument(f"unknown signal {text!r}")
    if not 0 < n <= 64:
        raise InvalidArgument(f"invalid signal number {n}")
    return n


def cgroup_of(c: Container) -> CgroupManager:
    from dockyard.cgroups import manager_for

    return manager_for(c.data["cgroup"])


def hook_state(c: Container, status: str) -> dict[str, object]:
    st = c.oci_state()
    st["status"] = status
    return st


def start(c: Container) -> None:
    status = c.status()
    if status != "created":
        raise Conflict(f"cannot start container {c.id}: it is {status}, not created")
    fd = os.open(c.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                data = os.read(fd, 16)
                if data:
                    break
            if not c.alive():
                raise Conflict(f"cannot start container {c.id}: its init exited")
    finally:
        os.close(fd)
    try:
        os.unlink(c.fifo)
    except FileNotFoundError:
        pass
    _poststate_hooks(c, "poststart", "running")


def _poststate_hooks(c: Container, kind: str, status: str) -> None:
    hooks = c.data.get("hooks") or {}
    if hooks.get(kind):  # the state document reads the kernel: only when there are hooks
        run_hooks_warn(hooks, kind, hook_state(c, status))


def kill(c: Container, sig: int, all_processes: bool = False) -> None:
    status = c.status()
    if status == "stopped":
        raise Conflict(f"container {c.id} is not running")
    if all_processes:
        cgroup_of(c).kill_all(sig)
        return
    try:
        os.kill(c.pid, sig)
    except ProcessLookupError:
        raise Conflict(f"container {c.id} is not running") from None


def _wait_gone(c: Container, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while c.alive() and time.monotonic() < deadline:
        time.sleep(0.002)


def delete(c: Container, force: bool = False, cg: CgroupManager | None = None) -> None:
    """Remove the container; ``cg``: its cgroup manager if the caller has it already."""
    status = c.status()
    if status in ("running", "paused") and not force:
        raise Conflict(
            f"cannot delete container {c.id} that is {status}: stop it first or use --force"
        )
    if cg is None:
        cg = cgroup_of(c)
    if status != "stopped":
        if status == "paused":
            cg.thaw()
        try:
            os.kill(c.pid, 9)
        except ProcessLookupError:
            pass
        _wait_gone(c)
    # without a pid namespace the init's death does not take the other processes along;
    # with one (or when they have all gone) the cgroup is empty and one rmdir per
    # hierarchy removes it, with nothing to kill
    if cg.exists() and not cg.remove_if_empty():
        cg.kill_all(9)
        cg.destroy()
    _poststate_hooks(c, "poststop", "stopped")
    c.remove()


def pause(c: Container) -> None:
    status = c.status()
    if status != "running":
        raise Conflict(f"cannot pause container {c.id}: it is {status}")
    cgroup_of(c).freeze()


def resume(c: Container) -> None:
    status = c.status()
    if status != "paused":
        raise Conflict(f"cannot resume container {c.id}: it is {status}, not paused")
    cgroup_of(c).thaw()


def pids(c: Container) -> list[int]:
    if c.status() == "stopped":
        return []
    return sorted(cgroup_of(c).pids())
