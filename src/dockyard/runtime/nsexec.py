"""The container side of ``exec``, in a fresh interpreter started by ``exec.py``.

Reads its job from the runtime, becomes non-dumpable, joins the container's
namespaces (the user namespace first, the mount namespace last), and forks the
process that becomes the container's new process. The forked process is the only one
that enters the container's pid namespace; this one stays outside, waits for it and
exits with its status.
"""

from __future__ import annotations

import os

from dockyard._internal import fastjson
from dockyard.kernel import namespaces as kns
from dockyard.kernel import process as kproc

from . import credentials
from .init import describe
from .spec import Process
from .state import proc_start_time
from .sync import Channel

ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


def _open_namespaces(pid: int, kinds: list[str]) -> list[tuple[str, int]]:
    fds = []
    for kind in sorted(kinds, key=ORDER.index):
        nsfile = kns.NAMESPACES[kind][1]
        path = f"/proc/{pid}/ns/{nsfile}"
        # joining the namespace we are already in is an error for user namespaces
        if os.stat(path).st_ino == os.stat(f"/proc/self/ns/{nsfile}").st_ino:
            continue
        fds.append((kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
    return fds


def _child(chan: Channel, proc: Process, console: int, preserve_fds: int) -> None:
    try:
        if proc.terminal:
            import socket

            from dockyard.kernel import tty

            master, slave, _ = tty.open_pty("/dev/ptmx")
            sock = socket.socket(fileno=console)
            socket.send_fds(sock, [b"/dev/ptmx"], [master])
            sock.close()
            os.close(master)
            tty.set_controlling(slave)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(slave)
        elif console >= 0:
            os.close(console)
        credentials.set_rlimits(proc)
        credentials.enter_cwd(proc)
        exe = credentials.lookup_executable(proc)
        env = credentials.environment(proc)
        credentials.become(proc)
    except BaseException as e:
        chan.send("error", describe(e))
        os._exit(127)
    credentials.execute(exe, proc, env, preserve_fds)


def main(job_fd: int) -> None:
    kproc.set_dumpable(False)
    os.set_inheritable(job_fd, False)
    chan = Channel(job_fd, -1)
    try:
        job = fastjson.loads(chan.expect("job"))
        chan.wfd = job["to_parent"]
        os.set_inheritable(chan.wfd, False)
        console = job["console"]
        if console >= 0:
            os.set_inheritable(console, False)
        if proc_start_time(job["pid"]) != job["start_time"]:
            raise ProcessLookupError("the container's init has exited")
        proc = Process(job["process"])
        if proc.terminal:
            # after joining the mount namespace the host's files are out of reach
            import socket  # noqa: F401

            from dockyard.kernel import tty  # noqa: F401
        for kind, fd in _open_namespaces(job["pid"], job["namespaces"]):
            kns.setns(fd, kns.NAMESPACES[kind][0], kind)
            os.close(fd)
        pid = os.fork()
    except BaseException as e:
        if chan.wfd >= 0:
            chan.send("error", describe(e))
        os._exit(127)
    if pid == 0:
        _child(chan, proc, console, job["preserve_fds"])
    if console >= 0:
        os.close(console)
    chan.send("pid", str(pid))
    chan.close()
    if job["detach"]:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)
