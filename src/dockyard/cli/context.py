"""What every command gets from the global flags: the daemon address and the debug mode."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.client.api import APIClient


class Context:
    """The global options; ``client()`` connects lazily (``--help`` never touches the net)."""

    __slots__ = ("_client", "debug", "host")

    def __init__(self, host: str, debug: bool = False) -> None:
        self.host = host
        self.debug = debug
        self._client: APIClient | None = None

    def client(self) -> APIClient:
        if self._client is None:
            import os

            from dockyard.client.api import APIClient

            pinned = os.environ.get("DOCKYARD_API_VERSION") or os.environ.get("DOCKER_API_VERSION")
            self._client = APIClient.for_host(self.host, pinned or None)
        return self._client
