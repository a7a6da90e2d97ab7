"""``run``: create, start and (unless detached) wait, forwarding signals, then delete."""

from __future__ import annotations

import os

from . import lifecycle
from .create import create

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from .spec import Spec

FORWARDED = (1, 2, 3, 10, 12, 15, 28)  # HUP INT QUIT USR1 USR2 TERM WINCH


def long_wait() -> None:
    """About to wait for a container process, maybe for days: the garbage collector that
    cli.run_and_exit switched off for the start-up comes back on, for what is allocated
    from now on (freeze: the start-up's objects are not walked on the way out)."""
    import gc

    gc.freeze()
    gc.enable()


def forward_signals(pid: int) -> None:
    import _signal  # type: ignore[import-not-found]  # `signal` would pull in enum

    def handler(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        _signal.signal(sig, handler)


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def wait_exit(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return exit_code(status)
        except ChildProcessError:
            return 255


def run(
    root: str,
    cid: str,
    spec: Spec,
    console: socket.socket | None,
    pid_file: str | None,
    preserve_fds: int,
    no_pivot: bool,
    detach: bool,
) -> int:
    assert spec.process is not None
    ours = None
    if spec.process.terminal and console is None and not detach:
        from .console import socket_pair

        ours, console = socket_pair()
    # the init is our grandchild: as its reaper (reap=True) we can wait for it
    made = create(root, cid, spec, console, pid_file, preserve_fds, no_pivot, reap=not detach)
    master = None
    if ours is not None:
        from .console import receive_master

        master = receive_master(ours)
    try:
        lifecycle.start(made.container)
    except BaseException:
        lifecycle.delete(made.container, force=True, cg=made.cgroup)
        raise
    if detach:
        return 0
    long_wait()
    forward_signals(made.pid)
    if master is not None:
        from .console import proxy

        status: list[int] = []

        def finished() -> bool:
            done, st = os.waitpid(made.pid, os.WNOHANG)
            if done:
                status.append(exit_code(st))
            return bool(done)

        proxy(master, finished)
        code = status[0] if status else wait_exit(made.pid)
    else:
        code = wait_exit(made.pid)
    lifecycle.delete(made.container, force=True, cg=made.cgroup)
    return code
