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
INT = "int"  # parsed when the command line is: a bad value is docker's usage error

#: every Command by name, filled as command modules are imported (for usage lines of
#: errors raised after parsing)
REGISTRY: dict[str, Command] = {}


def usage_of(name: str | None) -> str | None:
    """The usage (after the name) of the command called ``name``, if one is known."""
    command = REGISTRY.get(name or "")
    return command.usage if command is not None else None


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
        REGISTRY.setdefault(name, self)

    def usage_error(self, message: str) -> UsageError:
        return UsageError(message, self.name, self.usage)

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
                    # pflag names a flag's value by its type; docker's --filter is "filter"
                    name += " filter" if f.long == "filter" and f.kind == LIST else f" {f.kind}"
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
                    raise HelpRequested(self.help_text(), self.name)
                flag = by_long.get(name)
                if flag is None:
                    raise self.usage_error(f"unknown flag: --{name}")
                if flag.kind == BOOL:
                    values[flag.dest] = self._bool(inline, flag) if eq else True
                    continue
                if not eq:
                    if i >= len(argv):
                        raise self.usage_error(f"flag needs an argument: --{name}")
                    inline = argv[i]
                    i += 1
                self._store(values, flag, inline)
            elif arg.startswith("-") and arg != "-":
                j = 1
                while j < len(arg):
                    ch = arg[j]
                    j += 1
                    if ch == "h" and "h" not in by_short:
                        raise HelpRequested(self.help_text(), self.name)
                    flag = by_short.get(ch)
                    if flag is None:
                        raise self.usage_error(f"unknown shorthand flag: '{ch}' in {arg}")
                    if flag.kind == BOOL:
                        if arg[j:].startswith("="):  # -H=false, as pflag allows
                            values[flag.dest] = self._bool(arg[j + 1 :], flag)
                            break
                        values[flag.dest] = True
                        continue
                    rest = arg[j:].removeprefix("=")
                    if not rest:
                        if i >= len(argv):
                            raise self.usage_error(f"flag needs an argument: '{ch}' in -{ch}")
                        rest = argv[i]
                        i += 1
                    self._store(values, flag, rest)
                    break
            else:
                args.append(arg)
                if not self.interspersed:
                    args.extend(argv[i:])
                    break
        self._check_count(args)
        return values, args

    def _check_count(self, args: list[str]) -> None:
        """docker's cli.NoArgs/ExactArgs/RequiresMinArgs/RequiresMaxArgs/RangeArgs."""
        n, lo, hi = len(args), self.min_args, self.max_args
        msg = ""
        if hi == 0 and n:
            msg = "accepts no arguments"
        elif lo == hi and n != lo:
            msg = f"requires {lo} {_plural(lo)}"
        elif hi is not None and lo and not lo <= n <= hi:
            msg = f"requires at least {lo} and at most {hi} {_plural(hi)}"
        elif n < lo:
            msg = f"requires at least {lo} {_plural(lo)}"
        elif hi is not None and n > hi:
            msg = f"requires at most {hi} {_plural(hi)}"
        if msg:
            raise UsageError(msg, self.name, self.usage, args=True)

    def _bool(self, text: str, flag: Flag) -> bool:
        low = text.lower()
        if low in ("1", "t", "true"):
            return True
        if low in ("0", "f", "false"):
            return False
        raise self.usage_error(
            f'invalid argument "{text}" for "{flag_names(flag)}" flag: '
            f'strconv.ParseBool: parsing "{text}": invalid syntax'
        )

    def _store(self, values: dict[str, Any], flag: Flag, value: str) -> None:
        if flag.kind == LIST:
            values[flag.dest].append(value)
        elif flag.kind == INT:
            try:
                values[flag.dest] = int(value)
            except ValueError:
                raise self.usage_error(
                    f'invalid argument "{value}" for "{flag_names(flag)}" flag: '
                    f'strconv.ParseInt: parsing "{value}": invalid syntax'
                ) from None
        else:
            values[flag.dest] = value


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def flag_names(flag: Flag) -> str:
    """How pflag names a flag in messages: "-n, --last" or "--since"."""
    return f"-{flag.short}, --{flag.long}" if flag.short else f"--{flag.long}"


def parse_int(text: str, flag: str, command: str = "run") -> int:
    """A STRING flag's value as an int, with docker's message for one that is not."""
    try:
        return int(text)
    except ValueError:
        raise UsageError(
            f'invalid argument "{text}" for "{flag}" flag: '
            f'strconv.ParseInt: parsing "{text}": invalid syntax',
            command,
            usage_of(command),
        ) from None
