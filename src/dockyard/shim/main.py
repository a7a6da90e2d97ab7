"""The shim's start: parse, detach, start ``<runtime> create``, then serve (``server.py``).

Started as ``python -m dockyard.shim --id ID --bundle DIR --state-dir DIR --exec-root DIR
--runtime PATH ...`` (the daemon runs ``python -I -S -c`` with the same arguments) with
``--ready-fd N``: it forks once more (so that it is nobody's child but init's and
survives the daemon), becomes a child subreaper (the container's init is re-parented to
it) and starts ``<runtime> create``. Only then does it import the server (``asyncio``,
``json``, ``logging``: most of its start-up), while the runtime works. The server writes
``ok <pid>`` or ``error <message>`` to the ready fd once the runtime is done.

This module is on the container start path: it imports nothing heavy (no ``argparse``,
``pathlib``, ``logging``, ``asyncio``), as the runtime's launcher (see the architecture
doc, "Start-up budget").

``--spare SOCKET --parent PID``: a shim started ahead of need. It detaches, imports the
server, listens on ``SOCKET`` and waits for one connection that sends the argument list
of a real shim (NUL-separated, ending in a newline); the connection is then its ready
channel, and it goes on as above. Importing ``asyncio`` costs ~35 ms here, so a spare
takes that off a container's start. An idle spare exits when ``PID`` (the daemon) is
gone, on ``SIGTERM``, or when a connection sends ``quit``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .stdio import ConsoleReceiver, ContainerStdio

USAGE = (
    "usage: dockyard-shim [-h] --id ID --bundle BUNDLE --state-dir STATE_DIR --exec-root "
    "EXEC_ROOT --runtime RUNTIME [--cgroups-path CGROUPS_PATH] --log-file LOG_FILE "
    "[--log-max-size LOG_MAX_SIZE] [--log-max-file LOG_MAX_FILE] [--tty] [--stdin] "
    "[--stdin-once] [--ready-fd READY_FD] [--foreground]"
)


class Args:
    """The shim's command line (``--foreground``: do not fork, for debugging)."""

    __slots__ = (
        "bundle", "cgroups_path", "exec_root", "foreground", "id", "log_file", "log_max_file",
        "log_max_size", "ready_fd", "runtime", "state_dir", "stdin", "stdin_once", "tty",
    )  # fmt: skip

    def __init__(self) -> None:
        self.id = ""
        self.bundle = ""
        self.state_dir = ""
        self.exec_root = ""
        self.runtime = ""
        self.cgroups_path = ""
        self.log_file = ""
        self.log_max_size = 0
        self.log_max_file = 1
        self.tty = False
        self.stdin = False
        self.stdin_once = False
        self.ready_fd = -1
        self.foreground = False


_VALUES = {"--id": "id", "--bundle": "bundle", "--state-dir": "state_dir",
           "--exec-root": "exec_root", "--runtime": "runtime",
           "--cgroups-path": "cgroups_path", "--log-file": "log_file"}  # fmt: skip
_INTS = {"--log-max-size": "log_max_size", "--log-max-file": "log_max_file",
         "--ready-fd": "ready_fd"}  # fmt: skip
_FLAGS = {"--tty": "tty", "--stdin": "stdin", "--stdin-once": "stdin_once",
          "--foreground": "foreground"}  # fmt: skip
_REQUIRED = ("--id", "--bundle", "--state-dir", "--exec-root", "--runtime", "--log-file")


class UsageError(Exception):
    pass


def parse(argv: list[str]) -> Args:
    args = Args()
    seen: set[str] = set()
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        name, eq, value = word.partition("=")
        if name in _FLAGS and not eq:
            setattr(args, _FLAGS[name], True)
            continue
        if name not in _VALUES and name not in _INTS:
            raise UsageError(f"unrecognized arguments: {word}")
        if not eq:
            if i >= len(argv):
                raise UsageError(f"argument {name}: expected one argument")
            value = argv[i]
            i += 1
        if name in _INTS:
            try:
                setattr(args, _INTS[name], int(value))
            except ValueError:
                raise UsageError(f"argument {name}: invalid int value: {value!r}") from None
        else:
            setattr(args, _VALUES[name], value)
        seen.add(name)
    missing = [n for n in _REQUIRED if n not in seen]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join(missing)}")
    return args


class Creating:
    """``<runtime> create``, started and not yet waited for (``finish`` waits)."""

    def __init__(self, args: Args) -> None:
        from . import paths, stdio

        self.root = f"{args.exec_root}/runtime"
        self.pid_file = f"{args.bundle}/init.pid"
        cmd = [args.runtime, "--root", self.root, "create", "--bundle", args.bundle]
        cmd += ["--pid-file", self.pid_file]
        self.console: ConsoleReceiver | None = None
        if args.tty:
            self.io: ContainerStdio = stdio.terminal_placeholder()
            console_path = paths.console_file(args.exec_root, args.id)
            try:
                os.unlink(console_path)
            except FileNotFoundError:
                pass
            self.console = stdio.ConsoleReceiver(console_path)
            cmd += ["--console-socket", console_path]
        else:
            self.io = stdio.pipes(args.stdin)
        cmd.append(args.id)
        self.cmd = cmd
        self.stdin = args.stdin
        try:
            self.pid = os.posix_spawnp(
                cmd[0],
                cmd,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(self.io.child_fds)
                ],
                setsid=False,
            )
        except BaseException:
            if self.console is not None:
                self.console.close()
            raise

    def finish(self) -> tuple[int, ContainerStdio]:
        """Wait for the runtime; answer the container's init pid and its stdio."""
        from . import stdio

        io, console = self.io, self.console
        try:
            _, status = os.waitpid(self.pid, 0)
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
            if self.stdin:
                io.stdin = os.dup(io.master)
        if io.error_fd not in io.outputs:
            os.close(io.error_fd)
        with open(self.pid_file) as f:
            return int(f.read().strip()), io


def _detach(fork: bool = True) -> None:
    """Fork once more (the daemon reaps the first process; the shim goes on re-parented to
    init), drop stdio, become the subreaper of what the runtime starts."""
    if fork and os.fork() != 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    from dockyard.kernel.process import set_child_subreaper, set_name

    set_child_subreaper(True)  # before the runtime forks the container's init
    set_name("dockyard-shim")


def _wait_for_work(path: str, parent: int) -> tuple[Args, int] | None:
    """A spare's wait: the arguments and ready fd of the shim it becomes (None: quit)."""
    import signal
    import socket

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    listener.settimeout(1.0)
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                try:
                    os.kill(parent, 0)
                except ProcessLookupError:
                    return None  # the daemon is gone: nobody will ask
                continue
            conn.settimeout(5.0)
            data = b""
            while not data.endswith(b"\n") and (chunk := conn.recv(65536)):
                data += chunk
            if data == b"quit\n":
                conn.close()
                return None
            try:
                args = parse(data.rstrip(b"\n").decode().split("\0"))
            except (UsageError, UnicodeDecodeError) as e:
                conn.sendall(f"error {e}\n".encode())
                conn.close()
                continue
            conn.settimeout(None)
            return args, conn.detach()
    finally:
        listener.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _without_ssl() -> None:
    """asyncio imports ``ssl`` when it can and does without it when it cannot; a shim
    speaks only over unix sockets, and ssl costs each shim ~4 MiB and ~5 ms."""
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    _without_ssl()
    if words[:1] == ["--spare"] and len(words) == 4 and words[2] == "--parent":
        _detach()
        from . import server  # noqa: F401  (the heavy imports, ahead of need)

        work = _wait_for_work(words[1], int(words[3]))
        if work is None:
            return 0
        args: Args = work[0]
        args.ready_fd = work[1]
    else:
        try:
            args = parse(words)
        except UsageError as e:
            sys.stderr.write(f"{USAGE}\ndockyard-shim: error: {e}\n")
            return 2
        if args.ready_fd >= 0:
            os.set_inheritable(args.ready_fd, False)  # the container must not hold it open
        _detach(fork=not args.foreground)
    os.makedirs(f"{args.exec_root}/shims", exist_ok=True)
    created: Creating | BaseException
    try:
        created = Creating(args)
    except Exception as e:
        created = e
    from .server import serve  # the heavy imports, while the runtime creates

    return serve(args, created)
