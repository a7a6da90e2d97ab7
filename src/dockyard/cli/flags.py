"""A small cobra-like flag parser: docker's flag syntax and error messages, fast to import.

``argparse`` would cost its import and print argparse-shaped errors; docker users expect
``unknown flag: --foo`` / ``"dockyard tag" requires exactly 2 arguments.`` and exit 125.
Supported: ``-q``, ``-qa``, ``-f v``, ``-fv``, ``--flag v``, ``--flag=v``, ``--bool=false``,
repeated list flags, flags after positionals, and ``--`` to end the flags.
"""

from __future__ import annotations

from dockyard.cli.errors import HelpRequested, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BOOL = "bool"
STRING = "string"
LIST = "list"


class Flag:
    """One option: names, destination, kind (bool, string or repeated list) and help."""

    __slots__ = ("default", "dest", "help", "kind", "long", "short")

    def __init__(
        self,
        long: str,
        short: str = "",
        kind: str = BOOL,
        help: str = "",
        default: Any = None,
        dest: str = "",
    ) -> None:
        self.long = long
        self.short = short
        self.kind = kind
        self.help = help
        self.dest = dest or long.replace("-", "_")
        if default is None:
            default = False if kind == BOOL else [] if kind == LIST else None
        self.default = default


class Command:
    """A command's usage line, description, flags and accepted number of arguments."""

    __slots__ = (
        "aliases",
        "description",
        "flags",
        "interspersed",
        "max_args",
        "min_args",
        "name",
        "usage",
    )

    def __init__(
        self,
        name: str,
        usage: str,
        description: str,
        flags: list[Flag],
        min_args: int = 0,
        max_args: int | None = None,
        aliases: tuple[str, ...] = (),
        interspersed: bool = True,
    ) -> None:
        """``interspersed=False``: flags end at the first positional (``run IMAGE CMD
        ARGS...``, where the command's own flags belong to the command)."""
        self.name = name
        self.interspersed = interspersed
        self.usage = usage
        self.description = description
        self.flags = flags
        self.min_args = min_args
        self.max_args = max_args
        self.aliases = aliases

    def help_text(self) -> str:
        lines = [f"Usage:  dockyard {self.name} {self.usage}".rstrip(), "", self.description]
        if self.aliases:
            lines += ["", "Aliases:", "  " + ", ".join(self.aliases)]
        if self.flags:
            lines += ["", "Options:"]
            specs = []
            for f in self.flags:
                name = f"-{f.short}, --{f.long}" if f.short else f"    --{f.long}"
                if f.kind != BOOL:
                    name += " string" if f.kind == STRING else " list"
                specs.append((name, f.help))
            width = max(len(n) for n, _ in specs) + 3
            lines += [f"  {n.ljust(width)}{h}".rstrip() for n, h in specs]
        return "\n".join(lines)

    def parse(self, argv: list[str]) -> tuple[dict[str, Any], list[str]]:
        """The flag values by ``dest`` and the positional arguments."""
        values: dict[str, Any] = {
            f.dest: list(f.default) if f.kind == LIST else f.default for f in self.flags
        }
        by_long = {f.long: f for f in self.flags}
        by_short = {f.short: f for f in self.flags if f.short}
        args: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                args.extend(argv[i:])
                break
            if arg.startswith("--"):
                name, eq, inline = arg[2:].partition("=")
                if name == "help":
                    raise HelpRequested(self.help_text())
                flag = by_long.get(name)
                if flag is None:
                    raise UsageError(f"unknown flag: --{name}", self.name)
                if flag.kind == BOOL:
                    values[flag.dest] = _parse_bool(inline, f"--{name}", self.name) if eq else True
                    continue
                if not eq:
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: --{name}", self.name)
                    inline = argv[i]
                    i += 1
                _store(values, flag, inline)
            elif arg.startswith("-") and arg != "-":
                j = 1
                while j < len(arg):
                    ch = arg[j]
                    j += 1
                    if ch == "h" and "h" not in by_short:
                        raise HelpRequested(self.help_text())
                    flag = by_short.get(ch)
                    if flag is None:
                        raise UsageError(f"unknown shorthand flag: '{ch}' in {arg}", self.name)
                    if flag.kind == BOOL:
                        if arg[j:].startswith("="):  # -H=false, as pflag allows
                            values[flag.dest] = _parse_bool(arg[j + 1 :], f"-{ch}", self.name)
                            break
                        values[flag.dest] = True
                        continue
                    rest = arg[j:].removeprefix("=")
                    if not rest:
                        if i >= len(argv):
                            raise UsageError(f"flag needs an argument: '{ch}' in -{ch}", self.name)
                        rest = argv[i]
                        i += 1
                    _store(values, flag, rest)
                    break
            else:
                args.append(arg)
                if not self.interspersed:
                    args.extend(argv[i:])
                    break
        self._check_count(args)
        return values, args

    def _check_count(self, args: list[str]) -> None:
        n, lo, hi = len(args), self.min_args, self.max_args
        msg = ""
        if hi == 0 and n:
            msg = "accepts no arguments."
        elif lo == hi and n != lo:
            msg = f"requires exactly {lo} argument{'s' if lo != 1 else ''}."
        elif n < lo:
            msg = f"requires at least {lo} argument{'s' if lo != 1 else ''}."
        elif hi is not None and n > hi:
            msg = f"accepts at most {hi} argument{'s' if hi != 1 else ''}."
        if msg:
            raise UsageError(
                f"\"dockyard {self.name}\" {msg}\nSee 'dockyard {self.name} --help'.\n\n"
                f"Usage:  dockyard {self.name} {self.usage}\n\n{self.description}",
                None,
            )


def parse_int(text: str, flag: str) -> int:
    """A STRING flag's value as an int, with docker's message for one that is not."""
    try:
        return int(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag', "run") from None


def _parse_bool(text: str, name: str, command: str) -> bool:
    low = text.lower()
    if low in ("1", "t", "true"):
        return True
    if low in ("0", "f", "false"):
        return False
    raise UsageError(f'invalid argument "{text}" for "{name}" flag: invalid syntax', command)


def _store(values: dict[str, Any], flag: Flag, value: str) -> None:
    if flag.kind == LIST:
        values[flag.dest].append(value)
    else:
        values[flag.dest] = value
