"""The foreground terminal of ``run``/``exec`` without --console-socket: receive the pty
master from the container and copy between it and our own stdio until the process ends.
"""

from __future__ import annotations

import os
import select
import socket

from dockyard.errors import SystemFault


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """(ours, the end handed to the container's init as its console socket)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise SystemFault(f"console socket {path}: {e.strerror}") from None
    return s


def receive_master(sock: socket.socket) -> int:
    _, fds, _, _ = socket.recv_fds(sock, 1024, 1)
    sock.close()
    if not fds:
        raise SystemFault("the container sent no terminal")
    return fds[0]


def proxy(master: int, finished: object) -> None:
    """Copy stdin -> master and master -> stdout until ``finished()`` is true and the
    terminal has drained. Puts our own terminal in raw mode meanwhile."""
    import termios
    import tty

    done = finished  # a callable; typed loosely to keep this module light
    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
        from dockyard.kernel.tty import get_winsize, set_winsize

        size = get_winsize(0)
        if size:
            set_winsize(master, *size)
    inputs = [0, master]
    try:
        while True:
            ready, _, _ = select.select(inputs, [], [], 0.05)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd is closed
                    data = b""
                if not data:
                    break
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    os.write(master, data)
                else:
                    inputs.remove(0)
            if not ready and done():  # type: ignore[operator]
                break
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
