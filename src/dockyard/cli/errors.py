"""How a command fails: a usage mistake or a failed command, printed and exited as the
docker CLI 28 does.

A flag mistake (unknown flag, missing or bad value) exits 125 and reads::

    unknown flag: --bogus

    Usage:  dockyard ps [OPTIONS]

    Run 'dockyard ps --help' for more information

A wrong number of arguments or an unknown command exits 1 and starts with
``dockyard: `` (docker's ``cli.RequiresMinArgs``/``ExactArgs``/... wording).
"""

from __future__ import annotations

#: docker's exit status for a flag mistake; ``docker: 'x' requires ...`` exits 1
USAGE_STATUS = 125
ARGS_STATUS = 1


class UsageError(Exception):
    """The command line is wrong; ``main`` prints it and exits with ``status``.

    ``command`` names the command ("ps", "image ls") for the Usage and Run lines;
    ``None`` when the message is complete as it is. ``usage`` is the command's usage
    after its name ("[OPTIONS]"); ``args`` marks a wrong argument count, which docker
    words as ``dockyard: 'dockyard CMD' requires ...`` and answers with status 1.
    """

    def __init__(
        self,
        message: str,
        command: str | None = "",
        usage: str | None = None,
        args: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.command = command
        self.usage = usage
        self.arg_count = args
        self.status = status if status is not None else ARGS_STATUS if args else USAGE_STATUS

    def __str__(self) -> str:
        if self.command is None:  # the message is complete
            return self.message
        path = f"dockyard {self.command}".rstrip()
        text = f"dockyard: '{path}' {self.message}" if self.arg_count else self.message
        if self.usage is not None:
            text += f"\n\nUsage:  {path} {self.usage}".rstrip()
        # docker's RequiresMinArgs says "See", every other check "Run"
        verb = "See" if self.arg_count and self.message.startswith("requires at least") else "Run"
        if self.arg_count and " and at most " in self.message:
            verb = "Run"
        return f"{text}\n\n{verb} '{path} --help' for more information"


class HelpRequested(Exception):
    """``-h``/``--help``: ``main`` prints the text and exits 0. ``command`` is the name
    in its Usage line, which ``named`` replaces with the one typed ("image ls" for the
    command shared with "images"), as docker's help shows the path that was typed."""

    def __init__(self, text: str, command: str = "") -> None:
        super().__init__(text)
        self.text = text
        self.command = command

    def named(self, typed: str) -> str:
        if not self.command or typed == self.command:
            return self.text
        old = f"Usage:  dockyard {self.command}"
        return self.text.replace(old, f"Usage:  dockyard {typed}", 1)


class CommandFailed(Exception):
    """The command ran and failed; the message is printed as is (exit status 1)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
