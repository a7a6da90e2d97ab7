"""How a command fails: a usage mistake (exit 125, like docker) or a failed command."""

from __future__ import annotations


class UsageError(Exception):
    """The command line is wrong; ``main`` prints it with a hint and exits 125.

    ``command`` names the command for the ``See 'dockyard CMD --help'.`` hint; ``None``
    when the message already has one.
    """

    def __init__(self, message: str, command: str | None = "") -> None:
        super().__init__(message)
        self.message = message
        self.command = command

    def __str__(self) -> str:
        if self.command is None:  # the message carries its own hint
            return self.message
        hint = f"dockyard {self.command}".rstrip()
        return f"{self.message}\nSee '{hint} --help'."


class HelpRequested(Exception):
    """``-h``/``--help``: ``main`` prints the text and exits 0."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class CommandFailed(Exception):
    """The command ran and failed; the message is printed as is (exit status 1)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
