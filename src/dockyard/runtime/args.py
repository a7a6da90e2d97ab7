"""Command-line parsing in runc's style (urfave/cli): global flags, a command, its
flags, then positional arguments; ``-f v``, ``--flag v``, ``--flag=v``, single-dash
long names. Hand-rolled because argparse costs 7 ms of a 15 ms start-up budget.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

# flag spec: name -> kind, kind one of "bool", "str", "int", "list"; aliases map to names
Flags = dict[str, str]

GLOBAL: Flags = {
    "root": "str", "log": "str", "log-format": "str", "debug": "bool",
    "systemd-cgroup": "bool", "criu": "str", "rootless": "str", "help": "bool", "h": "bool",
    "version": "bool", "v": "bool",
}  # fmt: skip
ALIASES = {
    "b": "bundle", "d": "detach", "f": "force", "a": "all", "e": "env", "t": "tty",
    "u": "user", "g": "additional-gids", "p": "process", "c": "cap", "q": "quiet",
}  # fmt: skip
_CREATE: Flags = {
    "bundle": "str", "console-socket": "str", "pid-file": "str", "no-pivot": "bool",
    "no-new-keyring": "bool", "preserve-fds": "int",
}  # fmt: skip
COMMANDS: dict[str, tuple[Flags, int, int]] = {
    # command -> (flags, min positional, max positional; -1 = any)
    "create": (_CREATE, 1, 1),
    "run": ({**_CREATE, "detach": "bool", "keep": "bool"}, 1, 1),
    "start": ({}, 1, 1),
    "state": ({}, 1, 1),
    "kill": ({"all": "bool"}, 1, 2),
    "delete": ({"force": "bool"}, 1, 1),
    "exec": (
        {
            "console-socket": "str",
            "cwd": "str",
            "env": "list",
            "tty": "bool",
            "user": "str",
            "additional-gids": "list",
            "process": "str",
            "detach": "bool",
            "pid-file": "str",
            "process-label": "str",
            "apparmor": "str",
            "no-new-privs": "bool",
            "cap": "list",
            "preserve-fds": "int",
            "ignore-paused": "bool",
            "cgroup": "str",
        },
        1,
        -1,
    ),
    "ps": ({"format": "str"}, 1, -1),
    "list": ({"format": "str", "quiet": "bool"}, 0, 0),
    "pause": ({}, 1, 1),
    "resume": ({}, 1, 1),
    "spec": ({"bundle": "str", "rootless": "bool"}, 0, 0),
    "features": ({}, 0, 0),
}


def _parse_flags(argv: list[str], flags: Flags, where: str) -> tuple[dict[str, object], list[str]]:
    """Flags up to the first positional argument (or ``--``); the rest is positional."""
    out: dict[str, object] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out, argv[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            return out, argv[i:]
        name, eq, value = arg.lstrip("-").partition("=")
        name = ALIASES.get(name, name) if name not in flags else name
        kind = flags.get(name)
        if kind is None:
            raise InvalidArgument(f"{where}: flag provided but not defined: -{name}")
        if kind == "bool":
            if eq:
                out[name] = value.lower() in ("1", "true", "yes")
            else:
                out[name] = True
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv):
                raise InvalidArgument(f"{where}: flag needs an argument: -{name}")
            value = argv[i + 1]
            i += 1
        i += 1
        if kind == "int":
            try:
                out[name] = int(value)
            except ValueError:
                raise InvalidArgument(f"{where}: -{name} expects a number, got {value!r}") from None
        elif kind == "list":
            out.setdefault(name, [])
            out[name].append(value)  # type: ignore[attr-defined]
        else:
            out[name] = value
    return out, []


class Parsed:
    __slots__ = ("command", "flags", "globals", "positional")

    def __init__(
        self, globals_: dict[str, object], command: str, flags: dict[str, object], pos: list[str]
    ) -> None:
        self.globals = globals_
        self.command = command
        self.flags = flags
        self.positional = pos


def parse(argv: list[str]) -> Parsed:
    globals_, rest = _parse_flags(argv, GLOBAL, "dockyard-runtime")
    if not rest:
        return Parsed(globals_, "", {}, [])
    command, rest = rest[0], rest[1:]
    if command not in COMMANDS:
        raise InvalidArgument(f"unknown command {command!r}; try 'dockyard-runtime --help'")
    flags, lo, hi = COMMANDS[command]
    if command in ("exec", "ps"):
        # exec ID [COMMAND ARGS...], ps ID [PS ARGS]: flags only before the ID, so the command's own
        # flags pass through untouched
        opts, pos = _parse_flags(rest, flags, command)
    else:
        opts, pos = {}, []
        while rest:
            got, rest = _parse_flags(rest, flags, command)
            opts.update(got)
            if rest:
                pos.append(rest[0])
                rest = rest[1:]
    if len(pos) < lo or (hi >= 0 and len(pos) > hi):
        want = "no arguments" if hi == 0 else "a container id" if lo == hi == 1 else "arguments"
        raise InvalidArgument(f"{command}: expects {want}, got {pos or 'none'}")
    return Parsed(globals_, command, opts, pos)
