"""An attached session on the local terminal: stdin copied to a hijacked connection
(watching for the detach keys with a TTY), its output to stdout/stderr, the terminal in
raw mode and its size passed on while it lasts.

Shared by ``run``/``start -a``/``attach`` (``run.py``) and ``exec`` (``execs.py``).
"""

from __future__ import annotations

from dockyard.cli import output

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.client.transport import Hijacked


def copy_session(
    conn: Hijacked,
    *,
    stdin: bool,
    tty: bool,
    detach_keys: bytes,
    resize: Callable[[int, int], None],
) -> bool:
    """Copy both ways until the output ends (the connection is closed then); answer
    whether the user detached."""
    import contextlib
    import socket
    import threading

    from dockyard._internal.detachkeys import EscapeScanner
    from dockyard.cli import terminal

    detached = threading.Event()

    def pump_stdin() -> None:
        scanner = EscapeScanner(detach_keys) if tty else None
        try:
            for data in terminal.read_stdin():
                hit = False
                if scanner is not None:
                    data, hit = scanner.feed(data)
                if data:
                    conn.sendall(data)
                if hit:
                    detached.set()
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    return
        except OSError:
            return
        conn.close_write()

    raw_terminal = tty and stdin and output.stdin_is_terminal()
    try:
        with contextlib.ExitStack() as stack:
            if raw_terminal:
                stack.enter_context(terminal.RawMode(0))
            if tty and (raw_terminal or output.stdout_is_terminal()):
                stack.enter_context(terminal.OnResize(resize))
            if stdin:
                threading.Thread(target=pump_stdin, daemon=True).start()
            try:
                for stream, data in conn.frames():
                    output.write_bytes(data, stream)
            except OSError:
                pass
    finally:
        conn.close()
    return detached.is_set()
