"""The local terminal of ``run -it`` / ``attach``: raw mode, its size, and SIGWINCH."""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any


def size() -> tuple[int, int] | None:
    """(rows, columns) of the terminal on stdout (or stdin); None without one."""
    for fd in (sys.stdout.fileno(), sys.stdin.fileno()):
        try:
            cols, rows = os.get_terminal_size(fd)
        except OSError:
            continue
        return rows, cols
    return None


class RawMode:
    """``with RawMode(fd):`` puts a terminal in raw mode and restores it afterwards."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None

    def __enter__(self) -> RawMode:
        import termios
        import tty

        try:
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd)
        except termios.error:
            self.saved = None
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        if self.saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            except termios.error:
                pass


class OnResize:
    """Calls ``callback(rows, cols)`` now and on each SIGWINCH, until closed."""

    def __init__(self, callback: Callable[[int, int], None]) -> None:
        self.callback = callback
        self.previous: Any = None

    def __enter__(self) -> OnResize:
        self._fire()
        self.previous = signal.signal(signal.SIGWINCH, lambda *_: self._fire())
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGWINCH, self.previous or signal.SIG_DFL)

    def _fire(self) -> None:
        found = size()
        if found is not None:
            try:
                self.callback(*found)
            except Exception:  # a resize that fails must not end the session
                pass


def read_stdin(chunk: int = 32 * 1024) -> Iterator[bytes]:
    """stdin's bytes as they come (not line-buffered), until EOF."""
    fd = sys.stdin.fileno()
    while True:
        try:
            data = os.read(fd, chunk)
        except OSError:
            return
        if not data:
            return
        yield data
