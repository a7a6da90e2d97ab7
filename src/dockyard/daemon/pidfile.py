"""The daemon's pidfile: locked for the daemon's life, so a second daemon is refused."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from dockyard.errors import Conflict


class PidFile:
    """``acquire()`` writes our pid under an exclusive lock; ``release()`` removes it.

    The lock (flock) dies with the process, so a pidfile left by a crashed daemon is
    taken over; one held by a live daemon is a Conflict naming its pid.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Conflict(
                f"another dockyardd is running (pid {self._owner()}, pidfile {self.path}): "
                "stop it first, or give this daemon its own --pidfile, --data-root and -H"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _owner(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None
