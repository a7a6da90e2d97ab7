"""Docker's JSON message display (``jsonmessage.DisplayJSONMessagesStream``): on a
terminal, one line per ``id`` redrawn in place with a progress bar
("a1b2c3: Loading [=====>      ]  1.05MB/2.14MB 2s"); elsewhere one line per status and
no bars. Also a reader that reports the progress of an upload (``load``'s bar while
the tar is read).
"""

from __future__ import annotations

import time

from dockyard._internal.humanize import human_duration
from dockyard.cli import output
from dockyard.cli.errors import CommandFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Any

READ_SIZE = 256 * 1024
REDRAW_EVERY = 0.1  # seconds between two redraws of a bar


def progress_string(detail: dict[str, Any], width: int, now: float | None = None) -> str:
    """``JSONProgress.String()``: the bar (wide terminals), the sizes, the time left."""
    current = int(detail.get("current") or 0)
    total = int(detail.get("total") or 0)
    units = str(detail.get("units") or "")
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{output.human_size(current, 4):>8}" if not units else f"{current} {units}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = ""
    if width > 110:
        bar = f"[{'=' * percentage}>{' ' * max(50 - percentage, 0)}] "
    if detail.get("hidecounts"):
        numbers = ""
    elif not units:
        numbers = f"{output.human_size(current, 4):>8}/{output.human_size(total, 4)}"
        if current > total:
            numbers = f"{output.human_size(current, 4):>8}"
    else:
        numbers = f"{current}/{total} {units}" if current <= total else f"{current} {units}"
    left = ""
    start = int(detail.get("start") or 0)
    if start > 0 and percentage < 50:
        elapsed = (time.time() if now is None else now) - start
        remaining = (total - current) * elapsed / current
        left = human_duration(remaining)
        if width > 50:
            left = " " + left
    return bar + numbers + left


class MessageDisplay:
    """Shows a stream of Docker JSON messages as the docker CLI does."""

    def __init__(self, terminal: bool, width: int = 80) -> None:
        self.terminal = terminal
        self.width = width
        self.ids: dict[str, int] = {}

    def show(self, msg: dict[str, Any]) -> None:
        """One message; an ``error`` one fails the command with its text."""
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            raise CommandFailed(str(msg.get("error") or detail.get("message") or detail))
        if "aux" in msg and not msg.get("status") and not msg.get("stream"):
            return
        ident = str(msg.get("id") or "")
        progress = msg.get("progressDetail") or None
        diff = 0
        if ident and (progress or msg.get("progress")):
            line = self.ids.get(ident)
            if line is None:
                line = self.ids[ident] = len(self.ids)
                if self.terminal:
                    output.write("\n")
            diff = len(self.ids) - line
            if self.terminal:
                output.write(f"\x1b[{diff}A")
        else:
            self.ids = {}  # anything else ends the redrawn block, as docker's
        self._display(msg, ident, progress)
        if ident and self.terminal and diff:
            output.write(f"\x1b[{diff}B")
        output.flush()

    def _display(self, msg: dict[str, Any], ident: str, progress: Any) -> None:
        end = ""
        bar = progress_string(progress, self.width) if isinstance(progress, dict) else ""
        if self.terminal and not msg.get("stream") and progress is not None:
            output.write("\x1b[2K\r")
            end = "\r"
        elif progress is not None and bar:
            return  # no bars off a terminal
        if ident:
            output.write(f"{ident}: ")
        status = str(msg.get("status") or "")
        if progress is not None and self.terminal:
            output.write(f"{status} {bar}{end}")
        elif msg.get("stream"):
            output.write(f"{msg['stream']}{end}")
        else:
            output.write(f"{status}{end}\n")


def reading(
    stream: IO[bytes], total: int, display: MessageDisplay, ident: str, status: str = "Loading"
) -> Iterator[bytes]:
    """The chunks of ``stream``, drawing ``status`` with a bar of the bytes read so far
    (``total`` 0: unknown, the count alone)."""
    start = int(time.time())
    done = 0
    drawn = 0.0
    while chunk := stream.read(READ_SIZE):
        done += len(chunk)
        now = time.monotonic()
        if now - drawn >= REDRAW_EVERY:
            drawn = now
            detail = {"current": done, "total": total, "start": start}
            display.show({"status": status, "id": ident, "progressDetail": detail})
        yield chunk
    detail = {"current": done, "total": total or done}
    display.show({"status": status, "id": ident, "progressDetail": detail})


def display_messages(messages: Iterator[dict[str, Any]]) -> None:
    """Show a pull's or push's messages: redrawn bars on a terminal, as the docker CLI
    does, else one plain line per status."""
    import os

    if not output.stdout_is_terminal():
        from dockyard.cli.archives import show_messages

        show_messages(messages)
        return
    try:
        width = os.get_terminal_size(1).columns
    except OSError:
        width = 80
    display = MessageDisplay(terminal=True, width=width)
    for message in messages:
        display.show(message)
