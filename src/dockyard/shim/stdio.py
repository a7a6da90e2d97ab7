"""The container's end of stdio: pipes, or a pty received over a console socket.

``ContainerStdio`` holds the shim's ends: ``outputs`` (fd -> stream id) to read the
container's output from, ``stdin`` to write its input to (None without OpenStdin), and
``master`` (the pty master, for resize) with a TTY. ``child_fds`` are the fds the
runtime is started with (its init inherits them); the shim closes them once the
runtime has created the container.

It is imported before the runtime is started, so it stays light: no ``dataclasses``,
and ``socket``/``threading`` only for a TTY (see ``main.py``).
"""

from __future__ import annotations

import os

from dockyard.errors import SystemFault

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    import threading
    from typing import Any


class ContainerStdio:
    __slots__ = ("child_fds", "error_fd", "master", "outputs", "stdin", "tty")

    def __init__(
        self,
        tty: bool,
        outputs: dict[int, int] | None = None,  # our read fd -> 1|2
        stdin: int | None = None,
        master: int | None = None,
        child_fds: tuple[int, int, int] = (-1, -1, -1),
        error_fd: int = -1,  # where the runtime's own errors can be read back
    ) -> None:
        self.tty = tty
        self.outputs: dict[int, int] = {} if outputs is None else outputs
        self.stdin = stdin
        self.master = master
        self.child_fds = child_fds
        self.error_fd = error_fd

    def close_child_fds(self) -> None:
        for fd in set(self.child_fds):
            if fd >= 0:
                os.close(fd)
        self.child_fds = (-1, -1, -1)


def pipes(open_stdin: bool) -> ContainerStdio:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    if open_stdin:
        in_r, in_w = os.pipe()
    else:
        in_r, in_w = devnull, -1
    stdio = ContainerStdio(
        tty=False,
        outputs={out_r: 1, err_r: 2},
        stdin=None if in_w < 0 else in_w,
        child_fds=(in_r, out_w, err_w),
        error_fd=err_r,
    )
    if in_r != devnull:
        os.close(devnull)
    return stdio


def terminal_placeholder() -> ContainerStdio:
    """For a TTY: the runtime gets /dev/null and a pipe for its errors; the master
    comes later through the console socket (``receive_master``)."""
    err_r, err_w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDWR)
    return ContainerStdio(tty=True, child_fds=(devnull, devnull, err_w), error_fd=err_r)


class ConsoleReceiver:
    """Accepts the runtime's connection on the console socket in a thread and keeps the
    pty master it sends."""

    def __init__(self, path: str) -> None:
        import socket
        import threading

        self.path = path
        self.listener: socket.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.master: int | None = None
        self.error = ""
        self._thread: threading.Thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import socket

        try:
            conn, _ = self.listener.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
            if fds:
                self.master = fds[0]
            else:
                self.error = "the container sent no terminal"
        except OSError as e:
            self.error = f"console socket: {e}"

    def result(self, timeout: float) -> int:
        self._thread.join(timeout)
        self.close()
        if self.master is None:
            raise SystemFault(self.error or "no terminal received from the container")
        return self.master

    def close(self) -> None:
        import socket

        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def resize(master: int, height: int, width: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def read_output(fd: int, open_fds: set[int], loop: Any, drained: Any) -> bytes:
    """What the output ``fd`` (watched by ``loop``) has now, b"" if nothing. At its end
    (EOF, or EIO once a pty's last slave closed) the fd is unwatched, closed and dropped
    from ``open_fds``; ``drained`` (an event) is set when it was the last one."""
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return b""
    except OSError:
        data = b""
    if not data:
        loop.remove_reader(fd)
        os.close(fd)
        open_fds.discard(fd)
        if not open_fds:
            drained.set()
    return data


def read_available(fd: int, limit: int = 65536) -> bytes:
    """What can be read from ``fd`` now, without blocking."""
    os.set_blocking(fd, False)
    out = b""
    try:
        while len(out) < limit:
            chunk = os.read(fd, limit)
            if not chunk:
                break
            out += chunk
    except (BlockingIOError, OSError):
        pass
    return out
