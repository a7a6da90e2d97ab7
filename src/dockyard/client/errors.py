"""What a client call can fail with: the daemon's answer, or no daemon at all."""

from __future__ import annotations

from dockyard.errors import DockyardError


class ClientError(DockyardError):
    """Base of the client's own errors."""


class APIError(ClientError):
    """The daemon answered with an error status; ``message`` is its ``{"message"}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message

    @property
    def not_found(self) -> bool:
        return self.status == 404


class DaemonUnreachable(ClientError):
    """The socket could not be reached (no daemon, no permission, wrong path)."""


class InvalidHost(ClientError):
    """``-H``/``DOCKYARD_HOST``/``DOCKER_HOST`` names an address the client cannot use."""
