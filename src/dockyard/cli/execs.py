"""``dockyard exec`` (and ``dockyard container exec``): run a command in a running
container.

As the docker CLI: inspect the container (a 404 is "No such container"), create the exec
(``POST /containers/{id}/exec``, with the terminal's size), then either start it detached
or start it on an upgraded connection and copy the streams (``session.py``: raw mode,
resizes through ``/exec/{id}/resize``, detach keys); the exit status is the exec's
``ExitCode`` from ``GET /exec/{id}/json`` (126/127 when the command could not run).
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

EXEC = Command(
    "exec",
    "[OPTIONS] CONTAINER COMMAND [ARG...]",
    "Execute a command in a running container",
    [
        Flag("detach", "d", help="Detached mode: run command in the background"),
        Flag(
            "detach-keys", kind=STRING, help="Override the key sequence for detaching a container"
        ),
        Flag("env", "e", LIST, "Set environment variables"),
        Flag("env-file", kind=LIST, help="Read in a file of environment variables"),
        Flag("interactive", "i", help="Keep STDIN open even if not attached"),
        Flag("privileged", help="Give extended privileges to the command"),
        Flag("tty", "t", help="Allocate a pseudo-TTY"),
        Flag("user", "u", STRING, 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
        Flag("workdir", "w", STRING, "Working directory inside the container"),
    ],
    min_args=2,
    aliases=("dockyard container exec", "dockyard exec"),
    interspersed=False,
)


def exec_config(opts: dict[str, Any], command: list[str]) -> dict[str, Any]:
    """The body of ``POST /containers/{id}/exec`` for these flags."""
    from dockyard.cli import terminal
    from dockyard.cli.containerconfig import _env  # the same -e/--env-file rules as run

    detach = bool(opts["detach"])
    tty = bool(opts["tty"])
    config: dict[str, Any] = {
        "User": opts["user"] or "",
        "Privileged": bool(opts["privileged"]),
        "Tty": tty,
        "AttachStdin": bool(opts["interactive"]) and not detach,
        "AttachStdout": not detach,
        "AttachStderr": not detach,
        "DetachKeys": opts["detach_keys"] or "",
        "Env": _env(opts["env"], opts["env_file"]),
        "WorkingDir": opts["workdir"] or "",
        "Cmd": command,
    }
    size = terminal.size() if tty else None
    if size is not None:
        config["ConsoleSize"] = [size[0], size[1]]
    return config


def exec_(ctx: Context, argv: list[str]) -> int:
    from dockyard._internal.detachkeys import DEFAULT_DETACH_KEYS, parse_detach_keys
    from dockyard.cli.session import copy_session

    opts, args = EXEC.parse(argv)
    ref, command = args[0], args[1:]
    config = exec_config(opts, command)
    try:
        keys = parse_detach_keys(opts["detach_keys"] or DEFAULT_DETACH_KEYS)
    except ValueError as e:
        raise CommandFailed(str(e), 125) from None
    client = ctx.client()
    client.inspect_container(ref)  # "No such container" before anything is created
    if config["Tty"] and config["AttachStdin"] and not output.stdin_is_terminal():
        raise CommandFailed("the input device is not a TTY", 1)
    exec_id = client.exec_create(ref, config)
    tty = bool(config["Tty"])
    if opts["detach"]:
        client.exec_start(exec_id, tty=tty, detach=True)
        return 0
    conn = client.exec_start(exec_id, tty=tty)
    assert conn is not None
    if copy_session(
        conn,
        stdin=bool(config["AttachStdin"]),
        tty=tty,
        detach_keys=keys,
        resize=lambda h, w: client.exec_resize(exec_id, h, w),
    ):
        return 0
    code = client.exec_inspect(exec_id).get("ExitCode")
    return int(code or 0)
