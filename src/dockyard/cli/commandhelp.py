"""Help and usage texts that span commands: a management command's (``dockyard image``)
list of sub-commands with their descriptions, and the Command object behind any entry of
``main``'s tables (used by ``--help``, by usage errors and by the tests that check every
command). Imported only when such a text is printed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from dockyard.cli.flags import Command


def command_of(target: tuple[str, str]) -> Command:
    """The Command of a ``(module, function)`` target: by convention the module's
    constant named after the function (``ps`` -> ``PS``, ``exec_`` -> ``EXEC``)."""
    import importlib

    from dockyard.cli.flags import Command

    module = importlib.import_module(f"dockyard.cli.{target[0]}")
    command = getattr(module, target[1].upper().rstrip("_"), None)
    if not isinstance(command, Command):
        raise LookupError(f"dockyard.cli.{target[0]} has no Command for {target[1]}")
    return command


def every_command() -> Iterator[tuple[str, tuple[str, str]]]:
    """Every command line name ("ps", "image ls") with its target, from ``main``."""
    from dockyard.cli.main import COMMANDS, GROUPS

    yield from COMMANDS.items()
    for group, subs in GROUPS.items():
        for sub, target in subs.items():
            yield f"{group} {sub}", target


def group_usage(group: str) -> str:
    """docker's help of a management command: its sub-commands (not their aliases)
    with their descriptions."""
    from dockyard.cli.main import GROUP_HELP, GROUPS

    by_target: dict[tuple[str, str], list[str]] = {}
    for sub, target in GROUPS[group].items():
        by_target.setdefault(target, []).append(sub)
    rows = sorted((_primary(names), target) for target, names in by_target.items())
    pad = max(11, *(len(name) for name, _ in rows))  # cobra's NamePadding
    lines = [
        f"  {name.ljust(pad)} {_short(command_of(target).description)}" for name, target in rows
    ]
    return (
        f"Usage:  dockyard {group} COMMAND\n\n{GROUP_HELP[group]}\n\nCommands:\n"
        + "\n".join(lines)
        + f"\n\nRun 'dockyard {group} COMMAND --help' for more information on a command."
    )


_ALIASES = ("list", "remove", "ps")  # docker's aliases of ls/rm in every group


def _primary(names: list[str]) -> str:
    """The name docker lists for a sub-command that has aliases (ls, not list or ps)."""
    plain = [n for n in names if n not in _ALIASES]
    return sorted(plain or names, key=len)[0]


def _short(description: str) -> str:
    """cobra's Short: a command's description up to its first sentence's end."""
    return description.split(". ", 1)[0]
