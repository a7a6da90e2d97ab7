"""``exec``: run another process in a running container (the runtime's side).

The process that joins the container is a fresh interpreter started from a read-only
bind mount of itself in a private mount namespace (see ``nsexec``): from inside the
container, /proc/<pid>/exe of that process can be opened but never written, so the
host's interpreter cannot be overwritten through it (the CVE-2019-5736 class).
It is also non-dumpable until it execs the container's program.
"""

from __future__ import annotations

import os
import sys

from dockyard._internal import fastjson
from dockyard.errors import Conflict, InvalidArgument, SystemFault
from dockyard.kernel import mount as km
from dockyard.kernel import namespaces as kns

from .spec import Process
from .state import Container
from .sync import Channel, ChannelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any

_BOOT = "import sys; sys.path[:0] = {paths!r}; from dockyard.runtime.nsexec import main; main({fd})"


def build_process(
    c: Container,
    process_file: str | None,
    args: list[str],
    env: list[str],
    cwd: str | None,
    user: str | None,
    additional_gids: list[int],
    tty: bool,
    caps: list[str],
    no_new_privs: bool,
) -> Process:
    """The exec'd process: --process as given, or the container's process with overrides."""
    if process_file:
        try:
            with open(process_file, "rb") as f:
                given = fastjson.loads(f.read())
        except (OSError, ValueError) as err:
            raise InvalidArgument(f"--process {process_file}: {err}") from None
        if not isinstance(given, dict):
            raise InvalidArgument(f"--process {process_file}: expected a JSON object")
        return Process(given, "process")
    if not args:
        raise InvalidArgument("exec: give the command to run, or --process")
    raw: dict[str, Any] = dict(c.data["process"])
    raw["args"] = list(args)
    raw["terminal"] = tty
    raw.pop("consoleSize", None)
    base_env = {e.split("=", 1)[0]: e for e in raw.get("env") or []}
    for e in env:
        base_env[e.split("=", 1)[0]] = e
    raw["env"] = list(base_env.values())
    if cwd:
        raw["cwd"] = cwd
    if user:
        u, _, g = user.partition(":")
        try:
            raw["user"] = {"uid": int(u), "gid": int(g or 0)}
        except ValueError:
            raise InvalidArgument(f"--user {user!r}: expected uid[:gid] as numbers") from None
    if additional_gids:
        raw.setdefault("user", {})["additionalGids"] = additional_gids
    if caps:
        capset = dict(raw.get("capabilities") or {})
        for kind in ("bounding", "effective", "permitted", "ambient"):
            capset[kind] = sorted(set(capset.get(kind) or []) | set(caps))
        raw["capabilities"] = capset
    if no_new_privs:
        raw["noNewPrivileges"] = True
    return Process(raw, "process")


def _launcher(job_fd: int, keep: list[int]) -> None:
    """In the forked child: re-exec the interpreter from a read-only bind of itself."""
    try:
        kns.unshare(kns.CLONE_NEWNS)
        km.mount(None, "/", None, km.MS_REC | km.MS_PRIVATE)
        exe = os.path.realpath(sys.executable)
        km.mount(exe, exe, None, km.MS_BIND)
        km.mount(None, exe, None, km.MS_BIND | km.MS_REMOUNT | km.MS_RDONLY)
        for fd in keep:
            os.set_inheritable(fd, True)
        pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        boot = _BOOT.format(paths=[pkg_root], fd=job_fd)
        os.execv(exe, [exe, "-I", "-S", "-c", boot])
    except BaseException as e:
        os.write(2, f"dockyard-runtime: exec launcher: {e}\n".encode())
    os._exit(127)


def execute(
    c: Container,
    proc: Process,
    console: socket.socket | None,
    detach: bool,
    pid_file: str | None,
    preserve_fds: int,
) -> int:
    status = c.status()
    if status != "running":
        raise Conflict(f"cannot exec in container {c.id}: it is {status}, not running")
    ours = None
    if proc.terminal and console is None:
        if detach:
            raise InvalidArgument("exec --tty --detach needs --console-socket")
        from .console import socket_pair

        ours, console = socket_pair()
    c2p_r, c2p_w = os.pipe()
    p2c_r, p2c_w = os.pipe()
    console_fd = console.fileno() if console is not None else -1
    keep = [c2p_w, p2c_r] + ([console_fd] if console_fd >= 0 else [])
    pid = os.fork()
    if pid == 0:
        os.close(c2p_r)
        os.close(p2c_w)
        _launcher(p2c_r, keep)
    os.close(c2p_w)
    os.close(p2c_r)
    if console is not None:
        console.close()
    chan = Channel(c2p_r, p2c_w)
    try:
        from dockyard.cgroups import manager_for

        manager_for(c.data["cgroup"]).apply(pid)
        job = {
            "pid": c.pid,
            "start_time": c.data["start_time"],
            "namespaces": [k for k, _ in c.data["namespaces"]],
            "process": proc.raw,
            "to_parent": c2p_w,
            "console": console_fd,
            "preserve_fds": preserve_fds,
            "detach": detach,
        }
        chan.send("job", fastjson.dumps(job))
        target = int(chan.expect("pid"))
        tag, payload = chan.recv()
        if tag != "eof":
            raise ChannelError(tag, payload)
    except ChannelError as e:
        os.waitpid(pid, 0)
        raise SystemFault(f"exec: {e}") from None
    finally:
        chan.close()
    if pid_file:
        from .create import _write_pid_file

        _write_pid_file(pid_file, target)
    from .run import exit_code, forward_signals, long_wait

    if detach:
        os.waitpid(pid, 0)
        return 0
    long_wait()
    forward_signals(target)
    if ours is not None:
        from .console import proxy, receive_master

        master = receive_master(ours)
        status_box: list[int] = []

        def finished() -> bool:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status_box.append(exit_code(st))
            return bool(done)

        proxy(master, finished)
        if status_box:
            return status_box[0]
    _, st = os.waitpid(pid, 0)
    return exit_code(st)
