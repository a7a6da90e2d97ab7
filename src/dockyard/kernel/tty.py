"""Pseudo-terminals: open a pty pair on a devpts instance, make it the controlling tty."""

from __future__ import annotations

import fcntl
import os
import struct

from dockyard._internal import lazylog

log = lazylog.getLogger(__name__)

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, int, str]:
    """Open a new pty on the devpts behind ``ptmx``: (master fd, slave fd, slave path)."""
    master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        (n,) = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))
        path = os.path.join(os.path.dirname(os.path.realpath(ptmx)), str(n))
        if not os.path.exists(path):
            path = f"/dev/pts/{n}"
        slave = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        os.close(master)
        raise OSError(e.errno, f"open pty: {e.strerror}", ptmx) from None
    log.debug("open_pty -> %s", path)
    return master, slave, path


def set_controlling(fd: int) -> None:
    """Start a new session and make ``fd`` its controlling terminal."""
    os.setsid()
    fcntl.ioctl(fd, TIOCSCTTY, 0)


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_winsize(fd: int) -> tuple[int, int] | None:
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return rows, cols
