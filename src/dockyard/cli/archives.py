"""``load``, ``save`` and ``import``: image tars in and out, streamed both ways."""

from __future__ import annotations

import sys

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, BinaryIO

    from dockyard.cli.context import Context

LOAD = Command(
    "load",
    "[OPTIONS]",
    "Load an image from a tar archive or STDIN",
    [
        Flag("input", "i", STRING, "Read from tar archive file, instead of STDIN"),
        Flag("quiet", "q", help="Suppress the load output"),
        Flag("platform", kind=LIST, help="Load only the given platform(s)"),
    ],
    max_args=0,
    aliases=("dockyard image load", "dockyard load"),
)


def open_input(path: str) -> BinaryIO:
    """A tar to send; a missing or unreadable file is a plain message, as docker's."""
    try:
        return open(path, "rb")
    except OSError as e:
        raise CommandFailed(f"open {path}: {e.strerror.lower() if e.strerror else e}") from e


def show_messages(messages: Iterable[dict[str, Any]]) -> None:
    """Docker's JSON message stream as plain text (no progress bars); an ``error``
    message fails the command with its text."""
    for msg in messages:
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            raise CommandFailed(str(msg.get("error") or detail.get("message") or detail))
        if "stream" in msg:
            output.write(str(msg["stream"]))
        elif "status" in msg:
            if msg.get("progressDetail") or msg.get("progress"):
                continue
            prefix = f"{msg['id']}: " if msg.get("id") else ""
            output.out(f"{prefix}{msg['status']}")
        elif "aux" in msg:
            continue


def load(ctx: Context, argv: list[str]) -> int:
    opts, _ = LOAD.parse(argv)
    path = opts["input"]
    if not path:
        if output.stdin_is_terminal():
            raise CommandFailed("requested load from stdin, but stdin is empty")
        show_messages(ctx.client().load(sys.stdin.buffer, quiet=opts["quiet"]))
        return 0
    with open_input(path) as f:
        if opts["quiet"] or not output.stdout_is_terminal():
            show_messages(ctx.client().load(f, quiet=opts["quiet"]))
            return 0
        _load_with_a_bar(ctx, f, path)
    return 0


def _load_with_a_bar(ctx: Context, f: BinaryIO, path: str) -> None:
    """On a terminal: a bar while the tar is read and sent, then the daemon's messages
    (docker's daemon draws "Loading layer" bars; ours answers once the tar is in)."""
    import os

    from dockyard.cli.progress import MessageDisplay, reading

    try:
        size = os.fstat(f.fileno()).st_size
        width = os.get_terminal_size(1).columns
    except (OSError, ValueError):
        size, width = 0, 80
    display = MessageDisplay(terminal=True, width=width)
    ident = os.path.basename(path)[:20]
    for message in ctx.client().load(reading(f, size, display, ident), quiet=False):
        display.show(message)


SAVE = Command(
    "save",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)",
    [
        Flag("output", "o", STRING, "Write to a file, instead of STDOUT"),
        Flag("platform", kind=LIST, help="Save only the given platform(s)"),
    ],
    min_args=1,
    aliases=("dockyard image save", "dockyard save"),
)


def save(ctx: Context, argv: list[str]) -> int:
    opts, names = SAVE.parse(argv)
    path = opts["output"]
    if path is None and output.stdout_is_terminal():
        raise CommandFailed("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    chunks = ctx.client().save(names)
    try:
        output.write_stream(chunks, path)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            raise
        raise CommandFailed(f"failed to save image: {e}") from e
    return 0


IMPORT = Command(
    "import",
    "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image",
    [
        Flag("change", "c", LIST, "Apply Dockerfile instruction to the created image"),
        Flag("message", "m", STRING, "Set commit message for imported image"),
        Flag("platform", kind=STRING, help="Set platform if server is multi-platform capable"),
    ],
    min_args=1,
    max_args=2,
    aliases=("dockyard image import", "dockyard import"),
)


def import_(ctx: Context, argv: list[str]) -> int:
    opts, args = IMPORT.parse(argv)
    source = args[0]
    ref = args[1] if len(args) > 1 else None
    if "://" in source:
        raise CommandFailed(
            f"importing from a URL ({source}) is not supported yet: "
            "download the tarball and import the file"
        )
    if ref is not None and "@" in ref:
        raise CommandFailed(f"invalid reference {ref!r}: import takes REPOSITORY[:TAG]")
    client = ctx.client()
    changes = list(opts["change"])
    if source == "-":
        msgs = client.import_image(sys.stdin.buffer, ref, None, changes, opts["message"])
        show_messages(msgs)
        return 0
    with open_input(source) as f:
        show_messages(client.import_image(f, ref, None, changes, opts["message"]))
    return 0
